from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from syrena_core.db import Base, utcnow


class Tariff(Base):
    """The operator's prices from valid_from on; the newest one not in the future applies. A tariff names
    the SMSC connection (operator) it is for, or none: then it applies to every connection without its own.
    Rows are only ever added: a cost once recorded keeps the price it was recorded with."""

    __tablename__ = "tariff"
    __table_args__ = (
        Index("uq_tariff_smsc_valid_from", "smsc", "valid_from", unique=True, postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    smsc: Mapped[str | None] = mapped_column(String(32))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_part: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    monthly_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    setup_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), server_default="0.23")


class ChargeKind(str, enum.Enum):
    ALERT = "alert"
    INFO = "info"
    TRANSACTIONAL = "transactional"  # verification codes, keyword replies
    EXERCISE = "exercise"  # exercises and tests (issue 16): apart from the real totals in reports
    INTERNAL = "internal"  # call-outs to staff, services and media (issue 20): their own line in reports


class EntryType(str, enum.Enum):
    CHARGE = "charge"
    CORRECTION = "correction"


class CostEntry(Base):
    """One line of the cost ledger: what one message cost when the SMSC took it (or delivered it).
    Immutable (a trigger refuses UPDATE and DELETE); a correction is a new entry pointing at the old one.
    Campaign, zone and department are copied, not referenced: the ledger outlives what it describes."""

    __tablename__ = "cost_entry"
    __table_args__ = (
        # A message is charged once per send (see message.send_round), however often its results are recorded.
        Index(
            "uq_cost_entry_message_charge",
            "message_id",
            "send_round",
            unique=True,
            postgresql_where=text("entry_type = 'charge' AND message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    charged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    entry_type: Mapped[str] = mapped_column(String(12), default=EntryType.CHARGE.value)
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    send_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    zone_id: Mapped[int | None] = mapped_column(Integer)
    department: Mapped[str | None] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(16))
    encoding: Mapped[str] = mapped_column(String(8))
    parts: Mapped[int] = mapped_column(Integer)
    smsc: Mapped[str | None] = mapped_column(String(32))  # the SMSC connection (operator) that took it
    smsc_message_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id", ondelete="RESTRICT"))
    price_per_part: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    currency: Mapped[str] = mapped_column(String(3))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("cost_entry.id", ondelete="RESTRICT"))
    note: Mapped[str | None] = mapped_column(Text)


class BillingCalendar(Base):
    """The one time zone whose local days key cost_summary (the trigger reads it). `billing.reports` keeps it
    equal to `[billing] timezone`, rebuilding the summary when the setting changes."""

    __tablename__ = "billing_calendar"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="1")
    timezone: Mapped[str] = mapped_column(String(64))


class CostSummary(Base):
    """The ledger summed per local day (billing_calendar's time zone) and every reporting dimension, kept by a
    statement trigger on cost_entry in the same transaction: a month's report reads a few thousand rows, not
    millions.
    `billing.reports.summary_differences` proves it equals the ledger."""

    __tablename__ = "cost_summary"
    __table_args__ = (
        Index(
            "uq_cost_summary_key",
            "day",
            "kind",
            "campaign_id",
            "zone_id",
            "department",
            "encoding",
            "smsc",
            "tariff_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)  # a campaign's cost on its page
    zone_id: Mapped[int | None] = mapped_column(Integer)
    department: Mapped[str | None] = mapped_column(String(80))
    encoding: Mapped[str] = mapped_column(String(8))
    smsc: Mapped[str | None] = mapped_column(String(32))
    tariff_id: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(BigInteger)
    parts: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 4))


class ReconciliationImport(Base):
    """One operator CSV of charged messages, imported whole or not at all."""

    __tablename__ = "reconciliation_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    filename: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    rows: Mapped[int] = mapped_column(Integer)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 4))


class OperatorCharge(Base):
    """One line of the operator's CSV: the operator's (= SMSC's) message id, when, parts, amount."""

    __tablename__ = "operator_charge"
    # SMSCs reuse ids: the same id may be charged again later (migration 0013).
    __table_args__ = (UniqueConstraint("import_id", "smsc_message_id", "charged_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_import.id", ondelete="CASCADE"))
    smsc_message_id: Mapped[str] = mapped_column(String(64))
    charged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    parts: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 4))
