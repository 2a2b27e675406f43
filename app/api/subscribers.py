"""Subscribers API (the admin/import path; the public sign-up is separate)."""
from __future__ import annotations

from flask import g, jsonify

from app.api import bp
from app.api.common import ApiError, json_body, map_domain_error, requires
from app.database import db
from app.openapi import conflict, op, ref
from subscribers.exceptions import SubscriberError, SubscriberExists
from subscribers.service import register_subscriber
from syrena_core.accounts import Role, record

map_domain_error(SubscriberExists, 409, "subscriber_exists")
map_domain_error(SubscriberError, 422, "invalid_subscriber")


@bp.post("/subscribers")
@requires(Role.ADMIN)
def create_subscriber():
    body = json_body()
    locations = body.get("locations")
    if locations is None and "location" in body:
        locations = [body["location"]]
    verified = body.get("verified", False)
    if not isinstance(verified, bool):
        raise ApiError(422, "invalid_subscriber", "verified must be true or false")
    session = db()
    subscriber = register_subscriber(session, body.get("phone"), locations or [], verified=verified,
                                     language=body.get("language", "pl"))
    record(session, "subscriber.create", g.api_user, "subscriber", subscriber.id, {"source": "api"})
    session.commit()
    return jsonify({"id": subscriber.id, "phone": subscriber.phone, "status": subscriber.status,
                    "language": subscriber.language, "locations": len(subscriber.locations)}), 201


OPENAPI_PATHS = {
    "/api/v1/subscribers": {
        "post": op("Register a subscriber (admin/import path)", "201", ref("Subscriber"), body=ref("SubscriberInput"),
                   extra=conflict("Already subscribed")),
    },
}
OPENAPI_SCHEMAS = {
    "Location": {"type": "object", "required": ["lat", "lon"], "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "label": {"type": "string", "maxLength": 40}, "address": {"type": "string"}}},
    "SubscriberInput": {"type": "object", "required": ["phone"], "properties": {
        "phone": {"type": "string", "example": "+48601234567"},
        "locations": {"type": "array", "items": ref("Location"), "maxItems": 5},
        "location": ref("Location"), "verified": {"type": "boolean"},
        "language": {"type": "string", "enum": ["pl", "en", "uk", "de"]}}},
    "Subscriber": {"type": "object", "properties": {
        "id": {"type": "integer"}, "phone": {"type": "string"}, "status": {"type": "string"},
        "language": {"type": "string"}, "locations": {"type": "integer"}}},
}
