"""Tariffs and the per-message cost ledger."""
