from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syrena_core.db import Base, utcnow


class SubscriberStatus(str, enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class SubscriberSource(str, enum.Enum):
    WEB = "web"
    SMS = "sms"
    IMPORT = "import"


class Subscriber(Base):
    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)  # E.164
    language: Mapped[str] = mapped_column(String(5), default="pl")
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING.value, index=True)
    source: Mapped[str] = mapped_column(String(16))
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Informational topics chosen; emergency alerts reach every active subscriber whatever these say.
    topics: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, server_default="{}")
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    locations: Mapped[list[SubscriberLocation]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="SubscriberLocation.id"
    )


class SubscriberLocation(Base):
    __tablename__ = "subscriber_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(40), default="home")
    address: Mapped[str | None] = mapped_column(String(200))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    # A location may be a whole zone, subscribed by its SMS code instead of an address.
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), index=True)

    subscriber: Mapped[Subscriber] = relationship(back_populates="locations")


class AddressPoint(Base):
    """The city's address gazetteer, used to place residents who give an address."""

    __tablename__ = "address_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    street: Mapped[str] = mapped_column(String(120))
    house_number: Mapped[str] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(6))
    city: Mapped[str] = mapped_column(String(60))
    normalised_key: Mapped[str] = mapped_column(String(200), index=True)
    # The street alone, folded like normalised_key: typos are matched on it with pg_trgm.
    street_key: Mapped[str] = mapped_column(String(120), server_default="")
    house_key: Mapped[str] = mapped_column(String(20), server_default="")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)

    __table_args__ = (
        Index(
            "ix_address_point_normalised_key_trgm",
            "normalised_key",
            postgresql_using="gin",
            postgresql_ops={"normalised_key": "gin_trgm_ops"},
        ),
        Index("ix_address_point_street_house", "street_key", "house_key"),
    )


class AddressStreet(Base):
    """The gazetteer's distinct streets: a typo is matched against a few thousand names, not every point."""

    __tablename__ = "address_street"

    street_key: Mapped[str] = mapped_column(String(120), primary_key=True)

    __table_args__ = (
        Index(
            "ix_address_street_street_key_trgm",
            "street_key",
            postgresql_using="gin",
            postgresql_ops={"street_key": "gin_trgm_ops"},
        ),
    )


class VerificationPurpose(str, enum.Enum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    EXPORT = "export"


class VerificationCode(Base):
    """A code texted to a phone; entering it proves the phone and carries out the request it was sent for."""

    __tablename__ = "verification_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    # Only a hash: the plain code travels once, in the SMS job.
    code_hash: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SuppressedPhone(Base):
    """An opt-out kept forever, by hash only: staff imports and the API never sign this number up again;
    only the resident can, by proving the phone."""

    __tablename__ = "suppressed_phone"

    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    suppressed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AddressChoice(Base):
    """The candidates an ambiguous address SMS was answered with, numbered 1-3: the resident picks one by
    texting its number back. Kept in the database (not only a cache) so any worker can take the answer."""

    __tablename__ = "address_choice"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)  # E.164
    language: Mapped[str] = mapped_column(String(5))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # [{"label", "lat", "lon"}, ...]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ImportStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SubscriberImport(Base):
    """A registry CSV uploaded by an admin, imported by an RQ job in batches (subscribers.registry). The file
    is kept in the database (any worker on any host can read it) until the import ends, then dropped: it
    holds residents' numbers and addresses. `processed_rows` is the checkpoint, committed with each batch's
    subscribers, so a job that stops goes on where the last batch ended."""

    __tablename__ = "subscriber_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    consent_source: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # Loaded only by the job that reads the file: pages and batches poll the row often, the file is up to 20 MB.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.QUEUED.value)
    total_rows: Mapped[int | None] = mapped_column(Integer)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    added: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Moves with every batch: an unfinished import whose time stands still lost its job (subscribers.jobs).
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class SubscriberImportSkip(Base):
    """A row an import skipped, with the reason and the row as the file had it (for the downloadable list)."""

    __tablename__ = "subscriber_import_skip"

    import_id: Mapped[int] = mapped_column(ForeignKey("subscriber_import.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    row: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class ReportStatus(str, enum.Enum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class ResidentReport(Base):
    """A resident's report to the city's number (ZGLOS/REPORT <text>, issue 15), in the crisis staff's inbox.
    The place is the one named in the text when it could be geocoded (`location_source` "text"), else the
    sender's registered place ("registered"), else none."""

    __tablename__ = "resident_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscriber.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5), default="pl", server_default="pl")
    status: Mapped[str] = mapped_column(String(12), default=ReportStatus.NEW.value, server_default="new", index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    location_source: Mapped[str] = mapped_column(String(12), default="none", server_default="none")
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    inbound_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    notes: Mapped[list[ResidentReportNote]] = relationship(
        order_by="ResidentReportNote.id", cascade="all, delete-orphan", passive_deletes=True
    )


class ResidentReportNote(Base):
    """An internal note on a report (`kind` "note") or the SMS reply sent from the inbox ("reply")."""

    __tablename__ = "resident_report_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("resident_report.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A reply's SMS (migration 0030): queued → sending (a worker took it: never sent twice) → sent | failed.
    sms_status: Mapped[str | None] = mapped_column(String(12))
    sms_error: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
