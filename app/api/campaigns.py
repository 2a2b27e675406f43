"""Campaigns API."""
from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify

from app.api import bp
from app.api.common import STAFF, json_body, map_domain_error, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, conflict, op, ref
from campaigns import service as campaigns
from campaigns.exceptions import CampaignNotFound, CampaignStateError, InvalidCampaign
from campaigns.jobs import enqueue_chunks
from campaigns.models import Campaign
from syrena_core.accounts import Role

map_domain_error(CampaignNotFound, 404, "campaign_not_found")
map_domain_error(CampaignStateError, 409, "invalid_state")
map_domain_error(InvalidCampaign, 422, "invalid_campaign")


def campaign_json(campaign: Campaign, progress: campaigns.Progress | None = None) -> dict[str, Any]:
    progress = progress or campaigns.campaign_progress(db(), [campaign.id])[campaign.id]
    return {
        "id": campaign.id, "kind": campaign.kind, "severity": campaign.severity, "title": campaign.title,
        "body": campaign.body, "status": campaign.status, "zone_ids": [z.id for z in campaign.zones],
        "encoding": campaign.encoding, "parts_per_message": campaign.parts_per_message,
        "department": campaign.department,
        "recipients": campaign.recipients, "counts": progress.counts,
        "cost": str(progress.cost),
        "currency": current_app.config["SYRENA"].billing.currency,
        "created_at": campaign.created_at.isoformat(),
        "sent_at": campaign.sent_at.isoformat() if campaign.sent_at else None,
        "completed_at": campaign.completed_at.isoformat() if campaign.completed_at else None,
    }


@bp.get("/campaigns")
@requires(*STAFF)
def list_campaigns():
    listed = campaigns.list_campaigns(db())
    progress = campaigns.campaign_progress(db(), [c.id for c in listed])
    return jsonify([campaign_json(c, progress[c.id]) for c in listed])


@bp.post("/campaigns")
@requires(Role.OPERATOR)
def create_campaign():
    body = json_body()
    session = db()
    campaign = campaigns.create_campaign(session, g.api_user, body.get("kind"), body.get("severity"),
                                         body.get("body"), body.get("zone_ids"), title=body.get("title"),
                                         department=body.get("department"))
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


OPENAPI_PATHS = {
    "/api/v1/campaigns": {
        "get": op("Latest campaigns", "200", {"type": "array", "items": ref("Campaign")}),
        "post": op("Create a draft campaign", "201", ref("Campaign"), body=ref("CampaignInput")),
    },
    "/api/v1/campaigns/{id}": {"get": op("A campaign and its delivery counts", "200", ref("Campaign"),
                                         params=ID_PARAM, extra=NOT_FOUND)},
    "/api/v1/campaigns/{id}/send": {
        "post": op("Send: snapshot recipients and queue the messages", "202", ref("Campaign"), params=ID_PARAM,
                   extra={**NOT_FOUND, **conflict("Not in a sendable state")}),
    },
}
OPENAPI_SCHEMAS = {
    "CampaignInput": {"type": "object", "required": ["kind", "severity", "body", "zone_ids"], "properties": {
        "kind": {"type": "string", "enum": ["alert", "info"]},
        "severity": {"type": "string", "enum": ["extreme", "severe", "moderate", "minor"]},
        "title": {"type": "string"}, "body": {"type": "string"},
        "department": {"type": "string", "maxLength": 80, "description": "cost centre the SMS are charged to"},
        "zone_ids": {"type": "array", "items": {"type": "integer"}}}},
    "Campaign": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "severity": {"type": "string"},
        "status": {"type": "string", "enum": ["draft", "pending_approval", "approved", "sending", "completed",
                                              "cancelled"]},
        "body": {"type": "string"}, "zone_ids": {"type": "array", "items": {"type": "integer"}},
        "recipients": {"type": "integer", "nullable": True},
        "encoding": {"type": "string"}, "parts_per_message": {"type": "integer"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "cost": {"type": "string", "description": "decimal, in `currency`"}, "currency": {"type": "string"}}},
}
