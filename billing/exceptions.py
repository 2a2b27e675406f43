"""What the billing package refuses, in words finance understands."""

from __future__ import annotations

from typing import Any


class BillingError(ValueError):
    """A billing request that cannot be met."""


class InvalidTariff(BillingError):
    """A tariff with a missing or wrong field, or one that would re-price what is already charged."""


class InvalidCorrection(BillingError):
    """A correction naming no ledger entry, or without an amount or a reason."""


class InvalidReportRequest(BillingError):
    """An unknown month or grouping."""


class OperatorCsvInvalid(BillingError):
    """The operator's CSV cannot be read; `problems` lists every bad line, nothing was imported."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class ReconciliationNotFound(BillingError):
    """No reconciliation import with that id."""
