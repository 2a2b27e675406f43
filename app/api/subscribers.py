"""Subscribers API: the admin/import path, and the public sign-up residents (and other sites) use
without a token: request a code for a subscription, a cancellation or a data export; confirm it."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, g, jsonify, request

from app.api.blueprint import bp
from app.api.common import ApiError, json_body, map_domain_error, requires
from app.database import db
from app.extensions import limiter
from app.openapi import components, conflict, json_content, op, ref
from subscribers import schemas
from subscribers.budget import CodeBudget
from subscribers.exceptions import (
    AddressAmbiguous,
    AddressNotFound,
    CodeLimitReached,
    CountryNotAllowed,
    InvalidCode,
    InvalidLocation,
    InvalidPhoneNumber,
    NotAMobileNumber,
    SubscriberError,
    SubscriberExists,
    SubscriberSuppressed,
    VerificationUnavailable,
)
from subscribers.gazetteer import GeocodeStatus
from subscribers.geocoders import geocoder_for
from subscribers.jobs import enqueue_verification_code
from subscribers.models import SubscriberSource, VerificationPurpose
from subscribers.phones import normalise_mobile
from subscribers.schemas import PublicSubscriptionInput, SubscriberInput
from subscribers.service import (
    LANGUAGES,
    TOPICS,
    NewLocation,
    parse_location,
    personal_data,
    register_subscriber,
    subscribe,
    unsubscribe,
    zone_summary,
    zones_of_subscriber,
)
from subscribers.verification import WRONG_CODE, issue_code, redeem_code
from syrena_core.accounts import Role
from syrena_core.audit import record
from syrena_core.queues import redis_connection
from zones.reach import zones_at

map_domain_error(SubscriberExists, 409, "subscriber_exists")
map_domain_error(SubscriberSuppressed, 409, "subscriber_opted_out")
map_domain_error(NotAMobileNumber, 422, "not_a_mobile_number")
map_domain_error(InvalidPhoneNumber, 422, "invalid_phone")
map_domain_error(AddressNotFound, 422, "address_not_found")
map_domain_error(InvalidCode, 422, "invalid_code")
map_domain_error(CountryNotAllowed, 422, "country_not_allowed")
map_domain_error(CodeLimitReached, 429, "too_many_requests")
map_domain_error(VerificationUnavailable, 503, "verification_unavailable")
map_domain_error(SubscriberError, 422, "invalid_subscriber")


@bp.post("/subscribers")
@requires(Role.ADMIN)
def create_subscriber():
    body = json_body()
    fields = SubscriberInput.check(body)  # verified and language; the phone and each location in the service
    locations = body.get("locations")
    if locations is None and "location" in body:
        locations = [body["location"]]
    session = db()
    subscriber = register_subscriber(
        session, body.get("phone"), locations or [], verified=fields.verified, language=fields.language
    )
    record(session, "subscriber.create", g.api_user, "subscriber", subscriber.id, {"source": "api"})
    session.commit()
    return jsonify(
        {
            "id": subscriber.id,
            "phone": subscriber.phone,
            "status": subscriber.status,
            "language": subscriber.language,
            "locations": len(subscriber.locations),
        }
    ), 201


# ------------------------------------------------------------------ public sign-up


def _limits():
    return current_app.config["SYRENA"].subscribers


def _phone_key() -> str:
    """Rate-limit key: the phone number the request is about (whatever form it was typed in)."""
    body = request.get_json(silent=True)
    raw = body.get("phone") if isinstance(body, dict) else None
    try:
        return "phone:" + normalise_mobile(raw)
    except InvalidPhoneNumber:
        return "phone:invalid"


def _place(raw: Any, label: str) -> NewLocation:
    """An address (geocoded by the gazetteer) or a pin {"lat", "lon"}."""
    if not isinstance(raw, dict):
        raise InvalidLocation("give an address or a location {lat, lon}")
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
        raise InvalidLocation("give an address or a location {lat, lon}")
    result = geocoder_for(_limits()).geocode(db(), address)
    if result.status == GeocodeStatus.FOUND:
        match = result.found
        return NewLocation(label=label, address=match.label, lat=match.lat, lon=match.lon)
    if result.status == GeocodeStatus.CHOOSE:
        raise AddressAmbiguous(
            f"{address!r} matches several addresses; choose one",
            [{"label": m.label, "lat": m.lat, "lon": m.lon} for m in result.matches],
        )
    if result.status == GeocodeStatus.NO_NUMBER:
        raise AddressNotFound(f"{address!r}: add the house number")
    raise AddressNotFound(f"{address!r} was not found; give the street and house number, or put a pin on the map")


def _subscription_request(body: dict[str, Any]) -> dict[str, Any]:
    fields = PublicSubscriptionInput.check(body)  # language and topics; the places below
    places = [_place(body, "home")]
    second = body.get("second")
    if second is not None:
        label = second.get("label") if isinstance(second, dict) else None
        places.append(_place(second, label if isinstance(label, str) and label.strip() else "work"))
    return {
        "language": fields.language,
        "topics": fields.topics,
        "consent_version": _limits().consent_version,
        "locations": [p.as_dict() for p in places],
    }


# What a resident's request holds: a phone, an address or two, a label, a few topics. Anything bigger is
# refused before it is stored with the pending code (a 15 MB body of 1,966,081 topics was accepted).
PUBLIC_BODY_MAX = 64 * 1024
PUBLIC_TEXT_MAX = {"phone": 32, "code": 16, "language": 8, "label": 100, "address": 200}
PUBLIC_TEXT_DEFAULT = 200


def public_body() -> dict[str, Any]:
    """The JSON body of a public (token-less) endpoint, within the limits above: 413 when the body is too
    big, 422 naming the first string or list that is too long."""
    if len(request.get_data(cache=True)) > PUBLIC_BODY_MAX:
        raise ApiError(413, "request_entity_too_large", f"a public request is at most {PUBLIC_BODY_MAX // 1024} kB")
    body = json_body()
    stack: list[tuple[str, Any]] = [(k, v) for k, v in body.items()]
    while stack:
        path, value = stack.pop()
        name = path.rsplit(".", 1)[-1]
        if isinstance(value, str):
            limit = PUBLIC_TEXT_MAX.get(name, PUBLIC_TEXT_DEFAULT)
            if len(value) > limit:
                raise ApiError(422, "too_long", f"{path} is longer than {limit} characters", {"field": path})
        elif isinstance(value, list):
            if len(value) > len(TOPICS):
                raise ApiError(422, "too_long", f"{path} has more than {len(TOPICS)} items", {"field": path})
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, dict):
            if len(value) > 10:
                raise ApiError(422, "too_long", f"{path} has more than 10 fields", {"field": path})
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
    return body


def _send_code(phone: str, purpose: VerificationPurpose, pending: dict[str, Any], language: str):
    session = db()
    settings = current_app.config["SYRENA"]
    budget = CodeBudget(redis_connection(settings.redis.url), settings.subscribers, settings.smsc.source_addr)
    issued = issue_code(session, budget, settings.subscribers, phone, purpose, pending, request.remote_addr, language)
    session.commit()  # the job must find the committed request
    enqueue_verification_code(issued.verification_id, issued.code, language)
    # The same answer whether or not the number is subscribed, opted out or new.
    return jsonify({"status": "code_sent", "expires_in": _limits().code_ttl_minutes * 60}), 202


def _address_error(e: AddressAmbiguous):
    raise ApiError(422, "address_ambiguous", str(e), {"candidates": e.candidates})


@bp.post("/public/subscriptions")
@limiter.shared_limit(lambda: _limits().request_limit, scope="public-code-requests")
def request_subscription():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    try:
        pending = _subscription_request(body)
    except AddressAmbiguous as e:
        _address_error(e)
    return _send_code(phone, VerificationPurpose.SUBSCRIBE, pending, pending["language"])


@bp.post("/public/subscriptions/cancel")
@limiter.shared_limit(lambda: _limits().request_limit, scope="public-code-requests")
def request_cancellation():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    language = body.get("language") if body.get("language") in LANGUAGES else "pl"
    return _send_code(phone, VerificationPurpose.UNSUBSCRIBE, {}, language)


@bp.post("/public/subscriptions/export")
@limiter.shared_limit(lambda: _limits().request_limit, scope="public-code-requests")
def request_export():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    language = body.get("language") if body.get("language") in LANGUAGES else "pl"
    return _send_code(phone, VerificationPurpose.EXPORT, {}, language)


@bp.post("/public/subscriptions/verify")
@limiter.limit(lambda: _limits().verify_limit)
@limiter.limit(lambda: _limits().verify_limit, key_func=_phone_key)
def verify_code():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    session = db()
    pending = redeem_code(session, _limits(), phone, body.get("code"))
    session.commit()  # every try counts, right or wrong
    if pending is None:
        raise InvalidCode(WRONG_CODE)
    if pending.purpose == VerificationPurpose.UNSUBSCRIBE.value:
        unsubscribe(session, phone)
        session.commit()
        return jsonify({"action": "unsubscribed", "status": "unsubscribed"})
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
        session.commit()
        return jsonify({"action": "export", "data": data})
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
    zones = [zone_summary(z) for z in zones_of_subscriber(session, subscriber.id)]
    session.commit()
    return jsonify(
        {
            "action": "subscribed",
            "status": subscriber.status,
            "zones": zones,
            "locations": [
                {
                    "label": p.label,
                    "address": p.address,
                    "lat": p.lat,
                    "lon": p.lon,
                    "zones": [zone_summary(z) for z in zones_at(session, p.lat, p.lon)],
                }
                for p in places
            ],
            "topics": subscriber.topics,
            "language": subscriber.language,
        }
    )


OPENAPI_PATHS = {
    "/api/v1/subscribers": {
        "post": op(
            "Register a subscriber (admin/import path)",
            "201",
            ref("Subscriber"),
            body=ref("SubscriberInput"),
            extra=conflict("Already subscribed"),
        ),
    },
}


def _public(summary: str, ok: str, ok_schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    operation = op(
        summary,
        ok,
        ok_schema,
        body=body,
        extra={
            "429": {
                "description": "Too many requests from this address or for this phone",
                **json_content(ref("Error")),
            },
            "503": {
                "description": "The hourly cap on verification SMS is reached: the message (and details.sms_keyword, "
                "details.short_number) tells the resident to text the keyword instead",
                **json_content(ref("Error")),
            },
        },
    )
    operation["security"] = []  # residents have no token
    for status in ("401", "403"):
        operation["responses"].pop(status, None)
    return operation


OPENAPI_PATHS.update(
    {
        "/api/v1/public/subscriptions": {
            "post": _public(
                "Ask for a subscription: a code is texted to the phone "
                "(the same answer whether or not it is subscribed)",
                "202",
                ref("CodeSent"),
                ref("PublicSubscriptionInput"),
            )
        },
        "/api/v1/public/subscriptions/cancel": {
            "post": _public(
                "Ask to unsubscribe: a code is texted to the phone", "202", ref("CodeSent"), ref("CodeRequest")
            )
        },
        "/api/v1/public/subscriptions/export": {
            "post": _public(
                "Ask for everything stored about the phone (GDPR): a code is texted to it",
                "202",
                ref("CodeSent"),
                ref("CodeRequest"),
            )
        },
        "/api/v1/public/subscriptions/verify": {
            "post": _public(
                "Confirm the request with the code: subscribes (answering the zones), unsubscribes or exports",
                "200",
                ref("PublicVerification"),
                ref("CodeConfirmation"),
            )
        },
    }
)

# The bodies' schemas, generated from the models the service and the views above validate with.
OPENAPI_SCHEMAS = components(
    schemas.Location,
    schemas.SubscriberInput,
    schemas.Subscriber,
    schemas.PublicPlace,
    schemas.PublicSubscriptionInput,
    schemas.CodeRequest,
    schemas.CodeConfirmation,
    schemas.CodeSent,
    schemas.PublicVerification,
)
