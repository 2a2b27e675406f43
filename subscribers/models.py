from __future__ import annotations

import enum
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, ForeignKey, String
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

    locations: Mapped[list["SubscriberLocation"]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="SubscriberLocation.id")


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
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
