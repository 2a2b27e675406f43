"""Subscribers API: the admin/import path, and the public sign-up residents (and other sites) use
without a token: request a code for a subscription, a cancellation or a data export; confirm it."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, request

from app.api.blueprint import bp
from app.api.common import ApiError, json_body, map_domain_error, requires
from app.database import db
from app.openapi import components, conflict, json_content, op, ref
from app.public import (
    PUBLIC_TEXT_DEFAULT,
    PUBLIC_TEXT_MAX,
    code_request_limit,
    verify_limit_per_address,
    verify_limit_per_phone,
)
from subscribers import schemas, signup
from subscribers.exceptions import (
    AddressAmbiguous,
    AddressNotFound,
    CodeLimitReached,
    CountryNotAllowed,
    InvalidCode,
    InvalidPhoneNumber,
    NotAMobileNumber,
    SubscriberError,
    SubscriberExists,
    SubscriberSuppressed,
    VerificationUnavailable,
)
from subscribers.models import VerificationPurpose
from subscribers.phones import normalise_mobile
from subscribers.schemas import SubscriberInput
from subscribers.service import TOPICS, register_subscriber, zone_summary
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


# What a resident's request holds: a phone, an address or two, a label, a few topics. Anything bigger is
# refused before it is stored with the pending code (a 15 MB body of 1,966,081 topics was accepted).
PUBLIC_BODY_MAX = 64 * 1024


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
    settings = current_app.config["SYRENA"]
    signup.send_code(
        db(), redis_connection(settings.redis.url), settings, phone, purpose, pending, request.remote_addr, language
    )
    # The same answer whether or not the number is subscribed, opted out or new.
    return jsonify({"status": "code_sent", "expires_in": _limits().code_ttl_minutes * 60}), 202


@bp.post("/public/subscriptions")
@code_request_limit
def request_subscription():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    try:
        pending = signup.subscription_request(db(), _limits(), body)
    except AddressAmbiguous as e:
        raise ApiError(422, "address_ambiguous", str(e), {"candidates": e.candidates}) from e
    return _send_code(phone, VerificationPurpose.SUBSCRIBE, pending, pending["language"])


@bp.post("/public/subscriptions/cancel")
@code_request_limit
def request_cancellation():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    return _send_code(phone, VerificationPurpose.UNSUBSCRIBE, {}, signup.code_language(body.get("language")))


@bp.post("/public/subscriptions/export")
@code_request_limit
def request_export():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    return _send_code(phone, VerificationPurpose.EXPORT, {}, signup.code_language(body.get("language")))


@bp.post("/public/subscriptions/verify")
@verify_limit_per_address
@verify_limit_per_phone
def verify_code():
    body = public_body()
    phone = normalise_mobile(body.get("phone"))
    session = db()
    done = signup.confirm(session, _limits(), phone, body.get("code"))
    session.commit()
    if done.action == "unsubscribed":
        return jsonify({"action": "unsubscribed", "status": "unsubscribed"})
    if done.action == "export":
        return jsonify({"action": "export", "data": done.data})
    subscriber = done.subscriber
    assert subscriber is not None  # a confirmed subscription names its subscriber
    return jsonify(
        {
            "action": "subscribed",
            "status": subscriber.status,
            "zones": [zone_summary(z) for z in done.zones],
            "locations": [
                {
                    "label": p.label,
                    "address": p.address,
                    "lat": p.lat,
                    "lon": p.lon,
                    "zones": [zone_summary(z) for z in zones_at(session, p.lat, p.lon)],
                }
                for p in done.places
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
