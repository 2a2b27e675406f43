"""Residents signing themselves up, leaving, or asking for their data, on the public page or from another
site: the request waits with a code texted to the phone, and happens when the code comes back.

One set of rules for the public JSON API (app/api/subscribers.py) and the page's plain HTML forms
(app/public.py), which both parse their input into the same shape and call these functions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from subscribers.budget import CodeBudget
from subscribers.exceptions import AddressAmbiguous, AddressNotFound, InvalidCode, InvalidLocation, SubscriberError
from subscribers.gazetteer import GeocodeStatus
from subscribers.geocoders import geocoder_for
from subscribers.jobs import enqueue_verification_code
from subscribers.models import Subscriber, SubscriberSource, VerificationPurpose
from subscribers.schemas import LANGUAGES, PublicSubscriptionInput
from subscribers.service import (
    NewLocation,
    parse_location,
    personal_data,
    subscribe,
    unsubscribe,
    zones_of_subscriber,
)
from subscribers.verification import WRONG_CODE, issue_code, redeem_code
from syrena_core.audit import record
from syrena_core.config import Settings, SubscriberSettings
from zones.models import Zone

PLACE_MISSING = "give an address or a location {lat, lon}"


def place(session: Session, settings: SubscriberSettings, raw: Any, label: str) -> NewLocation:
    """An address (geocoded by the gazetteer) or a pin {"lat", "lon"}, from {"address": …} or {"location": …}:
    AddressAmbiguous (with the candidates), AddressNotFound or InvalidLocation say what to fix."""
    if not isinstance(raw, dict):
        raise InvalidLocation(PLACE_MISSING)
    if raw.get("location") is not None:
        pin = raw["location"]
        parse_location(
            {"lat": pin.get("lat"), "lon": pin.get("lon"), "label": label, "address": raw.get("address")}
            if isinstance(pin, dict)
            else pin
        )  # validates, or says what is wrong
        return NewLocation(label=label, address=raw.get("address"), lat=float(pin["lat"]), lon=float(pin["lon"]))
    address = raw.get("address")
    if not isinstance(address, str) or not address.strip():
        raise InvalidLocation(PLACE_MISSING)
    result = geocoder_for(settings).geocode(session, address)
    match = result.found
    if result.status == GeocodeStatus.FOUND and match is not None:
        return NewLocation(label=label, address=match.label, lat=match.lat, lon=match.lon)
    if result.status == GeocodeStatus.CHOOSE:
        raise AddressAmbiguous(
            f"{address!r} matches several addresses; choose one",
            [{"label": m.label, "lat": m.lat, "lon": m.lon} for m in result.matches],
        )
    if result.status == GeocodeStatus.NO_NUMBER:
        raise AddressNotFound(f"{address!r}: add the house number")
    raise AddressNotFound(f"{address!r} was not found; give the street and house number, or put a pin on the map")


def subscription_request(session: Session, settings: SubscriberSettings, body: dict[str, Any]) -> dict[str, Any]:
    """What a subscription request stores with its code, from {"address" | "location", "second", "language",
    "topics"}: the places found, the choices and the consent text's version. An error about the second place
    carries `field = "second"`."""
    fields = PublicSubscriptionInput.check(body)  # language and topics; the places below
    places = [place(session, settings, body, "home")]
    second = body.get("second")
    if second is not None:
        label = second.get("label") if isinstance(second, dict) else None
        try:
            places.append(
                place(session, settings, second, label if isinstance(label, str) and label.strip() else "work")
            )
        except SubscriberError as e:
            e.field = "second"
            raise
    return {
        "language": fields.language,
        "topics": fields.topics,
        "consent_version": settings.consent_version,
        "locations": [p.as_dict() for p in places],
    }


def code_language(language: Any) -> str:
    """The language of the SMS with the code: the one asked for when we write it, else Polish."""
    return language if language in LANGUAGES else "pl"


def send_code(
    session: Session,
    redis: Redis,
    settings: Settings,
    phone: str,
    purpose: VerificationPurpose,
    pending: dict[str, Any],
    client_address: str | None,
    language: str,
) -> None:
    """Texts a new code for this request (within the phone's, the address's and the city's budgets: else
    CodeLimitReached or VerificationUnavailable). Commits: the job that sends the SMS must find the request."""
    budget = CodeBudget(redis, settings.subscribers, settings.smsc.source_addr)
    issued = issue_code(session, budget, settings.subscribers, phone, purpose, pending, client_address, language)
    session.commit()
    enqueue_verification_code(issued.verification_id, issued.code, language)


@dataclass
class Confirmation:
    """What a code confirmed: "subscribed" (the subscriber, its places and zones), "unsubscribed", or "export"
    (everything stored about the phone, in `data`)."""

    action: str
    subscriber: Subscriber | None = None
    places: list[NewLocation] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    data: dict[str, Any] | None = None


def confirm(session: Session, settings: SubscriberSettings, phone: str, code: Any) -> Confirmation:
    """Carries out the request this code confirms, or InvalidCode (one answer for a wrong, expired, used-up or
    never-sent code). Every try counts, so the try is committed before anything else; the caller commits the
    rest."""
    pending = redeem_code(session, settings, phone, code)
    session.commit()
    if pending is None:
        raise InvalidCode(WRONG_CODE)
    if pending.purpose == VerificationPurpose.UNSUBSCRIBE.value:
        unsubscribe(session, phone)
        return Confirmation("unsubscribed")
    if pending.purpose == VerificationPurpose.EXPORT.value:
        data = personal_data(session, phone)
        # Personal data left the system: audited (the resident is the requester; the phone as its hash).
        record(
            session,
            "subscriber.export",
            None,
            "subscriber",
            None,
            {"phone_sha256": hashlib.sha256(phone.encode()).hexdigest(), "by": "subscriber"},
        )
        return Confirmation("export", data=data)
    request_data = pending.request
    places = [NewLocation(**loc) for loc in request_data["locations"]]
    subscriber = subscribe(
        session,
        phone,
        places,
        language=request_data["language"],
        source=SubscriberSource.WEB.value,
        consent_version=request_data["consent_version"],
        topics=request_data["topics"],
    )
    return Confirmation("subscribed", subscriber, places, zones_of_subscriber(session, subscriber.id))


# ------------------------------------------------------------------ reading one's data again
# After a confirmed export the resident's browser may read the data again (the page, its JSON download) for
# as long as a code would be valid: an opaque grant (a random token kept in the browser's session) names the
# phone in Redis, so no personal data sits in a cookie and nothing is readable without the code.
GRANT_PREFIX = "syrena:export-grant:"


def grant_export(redis: Redis, settings: SubscriberSettings, phone: str) -> str:
    token = secrets.token_urlsafe(24)
    redis.set(GRANT_PREFIX + token, phone, ex=settings.code_ttl_minutes * 60)
    return token


def granted_phone(redis: Redis, token: Any) -> str | None:
    """The phone an export grant is for, while it lasts; None for an unknown, expired or missing token."""
    if not isinstance(token, str) or not token:
        return None
    phone = redis.get(GRANT_PREFIX + token)
    if phone is None:
        return None
    return phone.decode() if isinstance(phone, bytes) else str(phone)
