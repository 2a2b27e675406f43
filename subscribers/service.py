"""Subscribers: registering residents and their locations."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.expression import ColumnElement

from subscribers.exceptions import (
    InvalidLocation,
    SubscriberError,
    SubscriberExists,
    SubscriberNotFound,
    SubscriberSuppressed,
)
from subscribers.models import (
    ResidentReport,
    Subscriber,
    SubscriberLocation,
    SubscriberSource,
    SubscriberStatus,
    SuppressedPhone,
)
from subscribers.phones import normalise_phone
from subscribers.schemas import LANGUAGES, MAX_LOCATIONS, TOPICS, Location
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow
from zones.models import Zone
from zones.reach import reached_by_zone, zones_reaching


def zone_code_column():
    """The zone's short SMS code (the one place that knows the column's name)."""
    return Zone.code


def zone_code(zone: Zone) -> str:
    return getattr(zone, zone_code_column().key)


def phone_hash(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()


def is_suppressed(session: Session, phone: str) -> bool:
    return session.get(SuppressedPhone, phone_hash(phone)) is not None


def suppress(session: Session, phone: str) -> None:
    session.execute(
        insert(SuppressedPhone).values(phone_hash=phone_hash(phone), suppressed_at=utcnow()).on_conflict_do_nothing()
    )


def parse_location(raw: Any) -> SubscriberLocation:
    """A location as stored, from what a client sent; its rules are schemas.Location's (InvalidLocation)."""
    if not isinstance(raw, dict):
        raise InvalidLocation("a location is an object with lat and lon")
    location = Location.check(raw)
    return SubscriberLocation(
        label=location.label, address=location.address, geom=from_shape(Point(location.lon, location.lat), srid=4326)
    )


def register_subscriber(
    session: Session,
    phone: Any,
    locations: Sequence[Any],
    verified: bool,
    language: Any = "pl",
    source: str = SubscriberSource.IMPORT.value,
    consent_version: str | None = None,
) -> Subscriber:
    """A subscriber added by staff or an import: active at once when the phone is known to be verified."""
    phone = normalise_phone(phone)
    if not isinstance(locations, list | tuple) or not locations:
        raise InvalidLocation("at least one location is required")
    if len(locations) > MAX_LOCATIONS:
        raise InvalidLocation(f"at most {MAX_LOCATIONS} locations")
    if language not in LANGUAGES:
        raise SubscriberError(f"language must be one of {', '.join(LANGUAGES)}")
    parsed = [parse_location(loc) for loc in locations]
    if is_suppressed(session, phone):
        raise SubscriberSuppressed(f"{phone} opted out; only its owner can subscribe it again")
    if session.scalar(select(func.count()).select_from(Subscriber).where(Subscriber.phone == phone)):
        raise SubscriberExists(f"{phone} is subscribed already")
    now = utcnow()
    subscriber = Subscriber(
        phone=phone,
        language=language,
        source=source,
        status=SubscriberStatus.ACTIVE.value if verified else SubscriberStatus.PENDING.value,
        verified_at=now if verified else None,
        locations=parsed,
        consent_version=consent_version,
        consent_at=now if consent_version else None,
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all()
    return dict(rows)


# ------------------------------------------------------------------ residents subscribing themselves


@dataclass(frozen=True)
class NewLocation:
    label: str
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    zone_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "address": self.address, "lat": self.lat, "lon": self.lon, "zone_id": self.zone_id}

    def to_row(self) -> SubscriberLocation:
        geom = None if self.lat is None or self.lon is None else from_shape(Point(self.lon, self.lat), srid=4326)
        return SubscriberLocation(
            label=self.label[:40],
            address=(self.address or None) and self.address[:200],
            geom=geom,
            zone_id=self.zone_id,
        )

    def same_place(self, row: SubscriberLocation) -> bool:
        if self.zone_id is not None:
            return row.zone_id == self.zone_id
        if row.geom is None or self.lat is None or self.lon is None:
            return False
        point = _point(row.geom)
        return abs(point.x - self.lon) < 1e-6 and abs(point.y - self.lat) < 1e-6


def _point(geom: Any) -> Point:
    """A location's point (the column is a Geometry("POINT"), which geoalchemy2's to_shape types as any shape)."""
    return cast(Point, to_shape(geom))


def find_subscriber(session: Session, phone: str) -> Subscriber | None:
    return session.scalar(
        select(Subscriber).where(Subscriber.phone == phone).options(selectinload(Subscriber.locations))
    )


# "Look the subscriber up": callers that read the subscribers of a whole batch at once pass theirs instead.
_LOOK_UP: Any = object()


def subscribe(
    session: Session,
    phone: str,
    locations: Sequence[NewLocation],
    *,
    language: str,
    source: str,
    consent_version: str,
    topics: Sequence[str] = (),
    replace_locations: bool = True,
    subscriber: Subscriber | None = _LOOK_UP,
    suppressed: bool = True,
    flush: bool = True,
) -> Subscriber:
    """A resident who proved the phone (a code, or an SMS from it): active at once. An earlier opt-out
    is lifted, because this is the owner asking. `replace_locations` false adds to the places they had
    (an SMS names one more place); true sets them (the web form shows them all). A caller that knows the
    phone is not suppressed says so (`suppressed=False`) and saves a statement."""
    if not locations:
        raise InvalidLocation("at least one location is required")
    now = utcnow()
    if subscriber is _LOOK_UP:
        subscriber = find_subscriber(session, phone)
    replace = subscriber is None or replace_locations or subscriber.status != SubscriberStatus.ACTIVE.value
    kept = list(subscriber.locations) if subscriber is not None and not replace else []
    added: list[NewLocation] = []
    for location in locations:
        if not any(location.same_place(row) for row in kept) and location not in added:
            added.append(location)
    # Checked before anything changes: a refused request leaves the subscriber as it was.
    if len(kept) + len(added) > MAX_LOCATIONS:
        raise InvalidLocation(f"at most {MAX_LOCATIONS} places")
    if subscriber is None:
        subscriber = Subscriber(phone=phone, source=source, locations=[])
        session.add(subscriber)
    elif replace and subscriber.locations:
        subscriber.locations = []
        session.flush()
    subscriber.locations.extend(location.to_row() for location in added)
    subscriber.language = language if language in LANGUAGES else "pl"
    subscriber.topics = [t for t in dict.fromkeys(topics) if t in TOPICS]
    subscriber.status = SubscriberStatus.ACTIVE.value
    subscriber.verified_at = now
    subscriber.consent_version, subscriber.consent_at = consent_version, now
    subscriber.unsubscribed_at = None
    if suppressed:
        session.execute(delete(SuppressedPhone).where(SuppressedPhone.phone_hash == phone_hash(phone)))
    if flush:
        session.flush()
    return subscriber


def unsubscribe(session: Session, phone: str, subscriber: Subscriber | None = _LOOK_UP) -> bool:
    """Stop everything to this phone, now and forever (the suppression outlives the personal data).
    Returns whether there was an active subscription."""
    suppress(session, phone)
    if subscriber is _LOOK_UP:
        subscriber = find_subscriber(session, phone)
    if subscriber is None or subscriber.status == SubscriberStatus.UNSUBSCRIBED.value:
        return False
    was_active = subscriber.status == SubscriberStatus.ACTIVE.value
    subscriber.status = SubscriberStatus.UNSUBSCRIBED.value
    subscriber.unsubscribed_at = utcnow()
    session.flush()
    return was_active


def zones_of_subscriber(session: Session, subscriber_id: int) -> list[Zone]:
    """The live zones whose campaigns reach the subscriber (zones.reach), by name."""
    ids = [z.id for z in zones_reaching(session, [subscriber_id]).get(subscriber_id, [])]
    return list(session.scalars(select(Zone).where(Zone.id.in_(ids)).order_by(Zone.name, Zone.id))) if ids else []


def zone_codes_of_subscribers(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
    """The codes of the live zones whose campaigns reach each subscriber (by zone name), for many at once."""
    return {sid: [z.code for z in zones] for sid, zones in zones_reaching(session, subscriber_ids).items()}


def zone_summary(zone: Zone) -> dict[str, Any]:
    return {"id": zone.id, "name": zone.name, "code": zone_code(zone)}


def personal_data(session: Session, phone: str) -> dict[str, Any]:
    """Everything stored about this phone, as the resident may ask for it (GDPR art. 15)."""
    subscriber = find_subscriber(session, phone)
    reports = _reports_of(session, phone)  # anyone may report, subscribed or not
    if subscriber is None:
        return {"phone": phone, "subscribed": False, "opted_out": is_suppressed(session, phone), "reports": reports}
    places = []
    for row in subscriber.locations:
        point = _point(row.geom) if row.geom is not None else None
        places.append(
            {
                "label": row.label,
                "address": row.address,
                "lat": point.y if point else None,
                "lon": point.x if point else None,
                "zone_id": row.zone_id,
            }
        )
    return {
        "phone": subscriber.phone,
        "subscribed": subscriber.status == SubscriberStatus.ACTIVE.value,
        "status": subscriber.status,
        "language": subscriber.language,
        "topics": list(subscriber.topics or []),
        "source": subscriber.source,
        "consent_version": subscriber.consent_version,
        "consent_at": subscriber.consent_at.isoformat() if subscriber.consent_at else None,
        "verified_at": subscriber.verified_at.isoformat() if subscriber.verified_at else None,
        "created_at": subscriber.created_at.isoformat() if subscriber.created_at else None,
        "unsubscribed_at": subscriber.unsubscribed_at.isoformat() if subscriber.unsubscribed_at else None,
        "locations": places,
        "zones": [zone_summary(z) for z in zones_of_subscriber(session, subscriber.id)],
        "reports": reports,
    }


def _reports_of(session: Session, phone: str) -> list[dict[str, Any]]:
    """The reports this phone sent to the city's number (ZGLOS ...), as the resident wrote them: the city keeps
    them as its case records (an erased subscriber's reports lose the link to the subscriber, not the text), and
    shows them to the resident who asks."""
    rows = session.scalars(select(ResidentReport).where(ResidentReport.phone == phone).order_by(ResidentReport.id))
    return [
        {
            "id": r.id,
            "received_at": r.received_at.isoformat(),
            "text": r.text,
            "address": r.address,
            "status": r.status,
        }
        for r in rows
    ]


def erase_subscriber(session: Session, subscriber_id: int, actor: User | None, reason: str | None = None) -> None:
    """Delete the subscriber's personal data now, keep only the opt-out (hashed phone); audited."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise SubscriberNotFound(f"no subscriber with id {subscriber_id}")
    suppress(session, subscriber.phone)
    session.delete(subscriber)
    record(session, "subscriber.erase", actor, "subscriber", subscriber_id, note=reason)
    session.flush()


def purge_unsubscribed(session: Session, retention_days: int) -> int:
    """Erase those who unsubscribed more than `retention_days` ago; their opt-out stays."""
    cutoff = utcnow() - timedelta(days=retention_days)
    ids = session.scalars(
        select(Subscriber.id).where(
            Subscriber.status == SubscriberStatus.UNSUBSCRIBED.value, Subscriber.unsubscribed_at < cutoff
        )
    ).all()
    for subscriber_id in ids:
        erase_subscriber(session, subscriber_id, None, reason=f"retention of {retention_days} days ended")
    return len(ids)


def search_subscribers(
    session: Session,
    query: str = "",
    status: str | None = None,
    zone_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Subscriber]]:
    """Staff search: by phone digits or address words (diacritics ignored), by status, by zone (whom a campaign
    to it would reach, zones.reach)."""
    stmt = select(Subscriber)
    query = (query or "").strip()
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        by_address = select(SubscriberLocation.subscriber_id).where(
            func.f_unaccent(func.lower(SubscriberLocation.address)).contains(func.f_unaccent(query.lower()))
        )
        conditions: list[ColumnElement[bool]] = [Subscriber.id.in_(by_address)]
        if len(digits) >= 3:
            conditions.append(Subscriber.phone.contains(digits))
        stmt = stmt.where(or_(*conditions))
    if status:
        stmt = stmt.where(Subscriber.status == status)
    if zone_id is not None:
        stmt = stmt.where(Subscriber.id.in_(reached_by_zone(zone_id)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Subscriber.locations))
        .order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total, list(rows)
