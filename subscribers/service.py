"""Subscribers: registering residents and their locations."""
from __future__ import annotations

from typing import Any, Sequence

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syrena_core.db import utcnow
from subscribers.exceptions import InvalidLocation, SubscriberError, SubscriberExists
from subscribers.models import Subscriber, SubscriberLocation, SubscriberSource, SubscriberStatus
from subscribers.phones import normalise_phone
from zones.models import Zone

MAX_LOCATIONS = 5
LANGUAGES = ("pl", "en", "uk", "de")


def _coordinate(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidLocation(f"{name} must be a number")
    if not low <= value <= high:
        raise InvalidLocation(f"{name} {value} is outside {low}…{high}")
    return float(value)


def parse_location(raw: Any) -> SubscriberLocation:
    if not isinstance(raw, dict):
        raise InvalidLocation("a location is an object with lat and lon")
    lat = _coordinate(raw.get("lat"), "lat", -90, 90)
    lon = _coordinate(raw.get("lon"), "lon", -180, 180)
    label = raw.get("label") or "home"
    if not isinstance(label, str) or len(label) > 40:
        raise InvalidLocation("a location's label is text of at most 40 characters")
    address = raw.get("address")
    if address is not None and (not isinstance(address, str) or len(address) > 200):
        raise InvalidLocation("an address is text of at most 200 characters")
    return SubscriberLocation(label=label, address=address, geom=from_shape(Point(lon, lat), srid=4326))


def register_subscriber(session: Session, phone: Any, locations: Sequence[Any], verified: bool,
                        language: Any = "pl", source: str = SubscriberSource.IMPORT.value) -> Subscriber:
    """A subscriber added by staff or an import: active at once when the phone is known to be verified."""
    phone = normalise_phone(phone)
    if not isinstance(locations, list | tuple) or not locations:
        raise InvalidLocation("at least one location is required")
    if len(locations) > MAX_LOCATIONS:
        raise InvalidLocation(f"at most {MAX_LOCATIONS} locations")
    if language not in LANGUAGES:
        raise SubscriberError(f"language must be one of {', '.join(LANGUAGES)}")
    parsed = [parse_location(loc) for loc in locations]
    if session.scalar(select(func.count()).select_from(Subscriber).where(Subscriber.phone == phone)):
        raise SubscriberExists(f"{phone} is subscribed already")
    now = utcnow()
    subscriber = Subscriber(phone=phone, language=language, source=source,
                            status=SubscriberStatus.ACTIVE.value if verified else SubscriberStatus.PENDING.value,
                            verified_at=now if verified else None, locations=parsed)
    session.add(subscriber)
    session.flush()
    return subscriber


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all()
    return {status: n for status, n in rows}


def active_subscribers_per_zone(session: Session) -> dict[int, int]:
    """Active subscribers with at least one location inside each zone (or subscribed to it by code)."""
    hits = (select(Zone.id.label("zone_id"), SubscriberLocation.subscriber_id)
            .join(SubscriberLocation, func.ST_Covers(Zone.geom, SubscriberLocation.geom))
            .union(select(SubscriberLocation.zone_id, SubscriberLocation.subscriber_id)
                   .where(SubscriberLocation.zone_id.is_not(None)))).subquery()
    rows = session.execute(
        select(hits.c.zone_id, func.count(func.distinct(hits.c.subscriber_id)))
        .join(Subscriber, Subscriber.id == hits.c.subscriber_id)
        .where(Subscriber.status == SubscriberStatus.ACTIVE.value)
        .group_by(hits.c.zone_id)).all()
    return {zone_id: n for zone_id, n in rows}
