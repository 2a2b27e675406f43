"""Alerts and information campaigns: compose, target, fan out, follow."""
