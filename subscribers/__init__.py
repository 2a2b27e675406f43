"""Residents who receive alerts: phones, locations, consent."""
