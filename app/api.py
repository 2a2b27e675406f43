"""REST API v1: JSON over bearer tokens. Views parse, call a domain function, answer."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.auth import bearer_user
from app.database import db
from app.openapi import openapi_document
from campaigns import service as campaigns
from campaigns.exceptions import CampaignNotFound, CampaignStateError, InvalidCampaign
from campaigns.jobs import enqueue_chunks
from campaigns.models import Campaign
from subscribers.exceptions import SubscriberError, SubscriberExists
from subscribers.service import active_subscribers_per_zone, register_subscriber
from syrena_core.accounts import Role, record
from zones import service as zones
from zones.exceptions import ZoneError, ZoneNotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None):
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


@bp.errorhandler(ApiError)
def _api_error(e: ApiError):
    db().rollback()
    return error_response(e.status, e.code, e.message, e.details)


# Domain errors → status and code; nothing a client sends may become a 500.
_DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (ZoneNotFound, 404, "zone_not_found"),
    (CampaignNotFound, 404, "campaign_not_found"),
    (SubscriberExists, 409, "subscriber_exists"),
    (CampaignStateError, 409, "invalid_state"),
    (ZoneError, 422, "invalid_zone"),
    (SubscriberError, 422, "invalid_subscriber"),
    (InvalidCampaign, 422, "invalid_campaign"),
]


@bp.errorhandler(ValueError)
def _domain_error(e: ValueError):
    db().rollback()
    for kind, status, code in _DOMAIN_ERRORS:
        if isinstance(e, kind):
            return error_response(status, code, str(e))
    return _unexpected(e)


@bp.errorhandler(Exception)
def _unexpected(e: Exception):
    # A bug or an outage (database, Redis), not the client's fault: logged with its trace, answered in JSON.
    current_app.logger.exception("API request failed: %s %s", request.method, request.path)
    db().rollback()
    return error_response(500, "internal_error", "the request could not be completed; it has been logged")


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    return error_response(e.code or 500, (e.name or "error").lower().replace(" ", "_"), e.description)


def requires(*roles: Role) -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = bearer_user()
            if user is None:
                db().commit()
                return error_response(401, "unauthorized", "a valid bearer token is required")
            if not user.has_role(*roles):
                return error_response(403, "forbidden", f"the {user.role} role may not do this")
            g.api_user = user
            return view(*args, **kwargs)
        return wrapped
    return decorator


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "the request body must be valid JSON (Content-Type: application/json)")
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    return body


@bp.get("/openapi.json")
@requires(*STAFF)
def openapi():
    return jsonify(openapi_document())


# ------------------------------------------------------------------ zones
def _zone_collection():
    session = db()
    counts = active_subscribers_per_zone(session)
    features = [zones.zone_feature(z, {"subscribers": counts.get(z.id, 0)}) for z in zones.list_zones(session)]
    return jsonify({"type": "FeatureCollection", "features": features})


@bp.get("/zones")
@requires(*STAFF)
def list_zones():
    return _zone_collection()


@bp.get("/zones.geojson")
@requires(*STAFF)
def zones_geojson():
    return _zone_collection()


@bp.post("/zones")
@requires(Role.OPERATOR)
def create_zone():
    body = json_body()
    name = body.get("name") or (body.get("properties") or {}).get("name")
    repair = request.args.get("repair") in ("1", "true")
    session = db()
    zone = zones.create_zone(session, name, body, repair=repair, sms_code=body.get("sms_code"))
    record(session, "zone.create", g.api_user, "zone", zone.id, {"name": zone.name})
    session.commit()
    return jsonify(zones.zone_feature(zone)), 201


@bp.get("/zones/<int:zone_id>")
@requires(*STAFF)
def get_zone(zone_id: int):
    (zone,) = zones.get_zones(db(), [zone_id])
    return jsonify(zones.zone_feature(zone))


# ------------------------------------------------------------------ subscribers
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


# ------------------------------------------------------------------ campaigns
def campaign_json(campaign: Campaign) -> dict[str, Any]:
    session = db()
    return {
        "id": campaign.id, "kind": campaign.kind, "severity": campaign.severity, "title": campaign.title,
        "body": campaign.body, "status": campaign.status, "zone_ids": [z.id for z in campaign.zones],
        "encoding": campaign.encoding, "parts_per_message": campaign.parts_per_message,
        "recipients": campaign.recipients, "counts": campaigns.message_counts(session, campaign.id),
        "cost": str(campaigns.campaign_cost(session, campaign.id)),
        "currency": current_app.config["SYRENA"].billing.currency,
        "created_at": campaign.created_at.isoformat(),
        "sent_at": campaign.sent_at.isoformat() if campaign.sent_at else None,
        "completed_at": campaign.completed_at.isoformat() if campaign.completed_at else None,
    }


@bp.get("/campaigns")
@requires(*STAFF)
def list_campaigns():
    return jsonify([campaign_json(c) for c in campaigns.list_campaigns(db())])


@bp.post("/campaigns")
@requires(Role.OPERATOR)
def create_campaign():
    body = json_body()
    session = db()
    campaign = campaigns.create_campaign(session, g.api_user, body.get("kind"), body.get("severity"),
                                         body.get("body"), body.get("zone_ids"), title=body.get("title"))
    session.commit()
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
@requires(*STAFF)
def get_campaign(campaign_id: int):
    return jsonify(campaign_json(campaigns.get_campaign(db(), campaign_id)))


@bp.post("/campaigns/<int:campaign_id>/send")
@requires(Role.OPERATOR)
def send_campaign(campaign_id: int):
    session = db()
    settings = current_app.config["SYRENA"]
    campaign = campaigns.get_campaign(session, campaign_id)
    campaigns.start_sending(session, campaign, g.api_user, settings.campaigns.require_approval)
    session.commit()
    # Enqueued only after the commit: a worker must find the message rows it is given.
    enqueue_chunks(campaigns.pending_chunks(session, campaign.id, settings.campaigns.chunk_size), campaign.kind)
    return jsonify(campaign_json(campaign)), 202
