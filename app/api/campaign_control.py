"""Campaign control API: pause, resume, cancel and resend to the failed (issue 6, send-and-watch)."""

from __future__ import annotations

from flask import current_app, g, jsonify, request

from app.api.blueprint import bp
from app.api.campaigns import campaign_json
from app.api.common import ApiError, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, conflict, op, ref
from campaigns import service as campaigns
from campaigns import workflow
from syrena_core.accounts import Role

CONTROLLERS = (Role.OPERATOR, Role.APPROVER)


def _reason() -> str | None:
    """An optional {"reason": "..."}; an empty body is fine."""
    if not request.get_data():
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object (or empty)")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise ApiError(422, "invalid_reason", "reason must be text of at most 500 characters")
    return (reason or "").strip() or None


def _settings():
    return current_app.config["SYRENA"]


def _campaign(campaign_id: int):
    return campaigns.get_campaign(db(), campaign_id)


@bp.post("/campaigns/<int:campaign_id>/pause")
@requires(*CONTROLLERS)
def pause_campaign(campaign_id: int):
    return jsonify(campaign_json(workflow.pause(db(), _campaign(campaign_id), g.api_user))), 200


@bp.post("/campaigns/<int:campaign_id>/resume")
@requires(*CONTROLLERS)
def resume_campaign(campaign_id: int):
    return jsonify(campaign_json(workflow.resume(db(), _campaign(campaign_id), g.api_user, _settings()))), 200


@bp.post("/campaigns/<int:campaign_id>/cancel")
@requires(*CONTROLLERS)
def cancel_campaign(campaign_id: int):
    reason = _reason()
    campaign = _campaign(campaign_id)
    cancelled = workflow.cancel(db(), campaign, g.api_user, reason)
    return jsonify({**campaign_json(campaign), "cancelled_messages": cancelled}), 200


@bp.post("/campaigns/<int:campaign_id>/resend-failed")
@requires(Role.OPERATOR)
def resend_failed(campaign_id: int):
    campaign = _campaign(campaign_id)
    resent = workflow.resend_failed(db(), campaign, g.api_user, _settings())
    return jsonify({**campaign_json(campaign), "resent_messages": resent}), 200


_STATE_CONFLICT = conflict("Not allowed in the campaign's current status")
OPENAPI_TAG = "campaigns"  # listed with the other campaign routes on /api/docs
OPENAPI_PATHS = {
    "/api/v1/campaigns/{id}/pause": {
        "post": op(
            "Pause a sending campaign: no new messages go out, queued ones stay queued",
            "200",
            ref("Campaign"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **_STATE_CONFLICT},
        )
    },
    "/api/v1/campaigns/{id}/resume": {
        "post": op(
            "Resume a paused campaign: its queued messages are enqueued again",
            "200",
            ref("Campaign"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **_STATE_CONFLICT},
        )
    },
    "/api/v1/campaigns/{id}/cancel": {
        "post": op(
            "Cancel a campaign not yet finished: unsent messages become `cancelled` (within about a second for "
            "messages already handed to a worker)",
            "200",
            ref("CampaignCancelled"),
            params=ID_PARAM,
            body=ref("CancelInput"),
            extra={**NOT_FOUND, **_STATE_CONFLICT},
        )
    },
    "/api/v1/campaigns/{id}/resend-failed": {
        "post": op(
            "Send again to the recipients whose message failed (and only to them)",
            "200",
            ref("CampaignResent"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **conflict("Not finished/sending, or nothing failed")},
        )
    },
}
OPENAPI_SCHEMAS = {
    "CancelInput": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "maxLength": 500, "description": "optional, kept in the audit log"}
        },
    },
    "CampaignCancelled": {
        "allOf": [ref("Campaign"), {"type": "object", "properties": {"cancelled_messages": {"type": "integer"}}}]
    },
    "CampaignResent": {
        "allOf": [ref("Campaign"), {"type": "object", "properties": {"resent_messages": {"type": "integer"}}}]
    },
}
