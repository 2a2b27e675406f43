"""What a message costs: the tariff in force times its SMS parts."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from billing.models import Tariff
from syrena_core.config import BillingSettings
from syrena_core.db import utcnow

FIRST_TARIFF_FROM = datetime(2000, 1, 1, tzinfo=timezone.utc)


def tariff_at(session: Session, at: datetime | None, defaults: BillingSettings) -> Tariff:
    """The tariff in force at `at`; the configured one is recorded as the first tariff when none exists."""
    at = at or utcnow()
    tariff = session.scalar(select(Tariff).where(Tariff.valid_from <= at).order_by(Tariff.valid_from.desc()).limit(1))
    if tariff is None:
        tariff = session.scalar(select(Tariff).order_by(Tariff.valid_from).limit(1))
    if tariff is None:
        # Several workers may get here at once: the unique valid_from lets one insert win.
        session.execute(insert(Tariff).values(
            valid_from=FIRST_TARIFF_FROM, currency=defaults.currency, price_per_part=defaults.price_per_part,
            monthly_fee=defaults.monthly_fee, setup_fee=defaults.setup_fee).on_conflict_do_nothing())
        tariff = session.scalar(select(Tariff).where(Tariff.valid_from == FIRST_TARIFF_FROM))
    return tariff


def message_cost(tariff: Tariff, parts: int) -> Decimal:
    return tariff.price_per_part * parts
