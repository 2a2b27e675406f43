from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from syrena_core.db import Base, utcnow


class Tariff(Base):
    """The operator's prices from valid_from on; the newest one not in the future applies."""
    __tablename__ = "tariff"

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_part: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    monthly_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    setup_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
