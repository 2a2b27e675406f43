"""Campaigns API: compose, preview, approve, send, follow up; CAP 1.2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, g, jsonify, request

from app import previews
from app.api.blueprint import bp
from app.api.common import STAFF, ApiError, json_body, map_domain_error, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, components, conflict, links, op, ref
from campaigns import cap, estimates, overrides, schemas, templates, workflow
from campaigns import service as campaigns
from campaigns.exceptions import ApprovalForbidden, CampaignNotFound, CampaignStateError, InvalidCampaign, InvalidHazard
from campaigns.models import Campaign
from campaigns.questions import InvalidQuestion, NoQuestion
from syrena_core.accounts import Role
from syrena_core.db import utcnow

map_domain_error(CampaignNotFound, 404, "campaign_not_found")
map_domain_error(NoQuestion, 409, "no_question")  # before its base class
map_domain_error(CampaignStateError, 409, "invalid_state")
map_domain_error(ApprovalForbidden, 403, "approval_forbidden")
map_domain_error(InvalidHazard, 422, "invalid_hazard")  # before its base class
map_domain_error(InvalidQuestion, 422, "invalid_question")  # before its base class; details: {"field"}
map_domain_error(InvalidCampaign, 422, "invalid_campaign")


def now() -> datetime:
    """The app's clock; tests pin it (app.config["SYRENA_CLOCK"]) to check quiet hours."""
    return current_app.config.get("SYRENA_CLOCK", utcnow)()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def estimate_for(campaign: Campaign, parts: int | None = None) -> estimates.TimeToWarn:
    """Time to warn with the links up now; `parts` (the preview's) for a campaign not yet sending."""
    settings = current_app.config["SYRENA"]
    if parts is None and campaign.status not in (*campaigns.SENT_STATUSES, "cancelled"):
        parts = campaigns.preview(db(), campaign, settings.billing, now()).total_parts
    if "syrena_workers" not in g:  # read once per request (a list estimates many campaigns)
        g.syrena_workers = estimates.published_workers(settings.redis.url)
    return estimates.time_to_warn(db(), campaign, g.syrena_workers, settings.smsc, parts, now())


def estimate_json(estimate: estimates.TimeToWarn | None) -> dict[str, Any]:
    """The estimate's keys in a campaign or preview: `eta` and `rate_now` only while sending."""
    if estimate is None:
        return {"time_to_warn_s": None}
    out: dict[str, Any] = {"time_to_warn_s": estimate.seconds, "time_to_warn": estimate.details()}
    if estimate.eta is not None:
        out.update(eta=estimate.eta.isoformat(), rate_now=estimate.rate)
    return out


def campaign_json(
    campaign: Campaign, progress: campaigns.Progress | None = None, estimate: estimates.TimeToWarn | bool | None = True
) -> dict[str, Any]:
    """`estimate`: True computes it (a preview for a campaign not yet sent); lists pass False for campaigns
    not yet sent (one recipients count each would be too slow: their time_to_warn_s is null)."""
    progress = progress or campaigns.campaign_progress(db(), [campaign.id])[campaign.id]
    if estimate is True:
        estimate = estimate_for(campaign)
    return {
        "id": campaign.id,
        **campaigns.input_json(campaign),
        "status": campaign.status,
        "encoding": campaign.encoding,
        "parts_per_message": campaign.parts_per_message,
        "msg_type": campaign.msg_type,
        "reference_id": campaign.reference_id,
        "follow_up_to": campaign.follow_up_to,  # issue 15: a follow-up to a slice of reference_id's recipients
        "author_id": campaign.author_id,
        "approver_id": campaign.approver_id,
        "edits": campaign.edits or [],
        "editor_ids": sorted(campaigns.editors(campaign)),
        "rejection_reason": campaign.rejection_reason,
        "override_reason": campaign.override_reason,
        "override_acknowledged_at": _iso(campaign.override_acknowledged_at),
        "override_acknowledged_by": campaign.override_acknowledged_by,
        "recipients": campaign.recipients,
        "counts": progress.counts,
        "cost": str(progress.cost),
        "currency": current_app.config["SYRENA"].billing.currency,
        "created_at": campaign.created_at.isoformat(),
        "submitted_at": _iso(campaign.submitted_at),
        "approved_at": _iso(campaign.approved_at),
        "sent_at": _iso(campaign.sent_at),
        "completed_at": _iso(campaign.completed_at),
        # When the target was frozen (issue 19): from then on zone edits change nobody's warning. null: a draft.
        "target_frozen_at": _iso(campaign.target_frozen_at),
        "replies_until": _iso(campaign.replies_until),  # with a question (issue 15): sent_at + reply_minutes
        **templates.campaign_origin(campaign),  # issue 16: the hazard template it was made from
        **estimate_json(estimate or None),
    }


def _settings():
    return current_app.config["SYRENA"]


def _with(campaign: Campaign, **extra: Any) -> dict[str, Any]:
    return {**campaign_json(campaign), **extra}


def _date_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        # In UTC: PostgreSQL takes offsets only up to ±15:59 (ISO 8601 allows more).
        return value.astimezone(UTC) if value.tzinfo else value
    except (ValueError, OverflowError):
        raise ApiError(400, "invalid_query", f"{name} must be an ISO 8601 date or time") from None


@bp.get("/campaigns")
@requires(*STAFF)
def list_campaigns():
    listed = campaigns.list_campaigns(
        db(),
        status=request.args.get("status") or None,
        kind=request.args.get("kind") or None,
        since=_date_arg("since"),
        until=_date_arg("until"),
    )
    progress = campaigns.campaign_progress(db(), [c.id for c in listed])
    return jsonify(
        [campaign_json(c, progress[c.id], c.status in (*campaigns.SENT_STATUSES, "cancelled")) for c in listed]
    )


@bp.post("/campaigns")
@requires(Role.OPERATOR)
def create_campaign():
    body = json_body()
    session = db()
    settings = _settings()
    campaign = campaigns.create_draft(
        session, g.api_user, body, settings=settings.campaigns, zone_limits=settings.zones, now=now()
    )
    preview = campaigns.preview(session, campaign, settings.billing, now())
    estimate = estimate_for(campaign, preview.total_parts)
    session.commit()
    return jsonify({**campaign_json(campaign, estimate=estimate), "warnings": preview.warnings}), 201


@bp.post("/campaigns/preview")
@requires(Role.OPERATOR)
def preview_draft():
    settings = _settings()
    wait = previews.over_budget(g.api_user.id)
    if wait is not None:
        return previews.too_many(wait)
    campaign, preview = campaigns.draft_preview(
        db(), g.api_user, json_body(), settings.campaigns, settings.billing, settings.zones.preview_limits(), now()
    )
    estimate = estimate_for(campaign, preview.total_parts)
    db().rollback()
    return jsonify(
        {
            **preview.as_dict(),
            "encoding": campaign.encoding,
            "parts_per_message": campaign.parts_per_message,
            "hazard": campaigns.hazard_of(campaign),
            **estimate_json(estimate),
        }
    )


@bp.get("/campaigns/<int:campaign_id>")
@requires(*STAFF)
def get_campaign(campaign_id: int):
    return jsonify(campaign_json(campaigns.get_campaign(db(), campaign_id)))


@bp.patch("/campaigns/<int:campaign_id>")
@requires(Role.OPERATOR)
def update_campaign(campaign_id: int):
    session = db()
    settings = _settings()
    campaign = campaigns.get_campaign(session, campaign_id)
    campaigns.update_campaign(session, campaign, g.api_user, json_body(), settings.campaigns, settings.zones, now())
    session.commit()
    return jsonify(campaign_json(campaign))


@bp.delete("/campaigns/<int:campaign_id>")
@requires(Role.OPERATOR)
def delete_campaign(campaign_id: int):
    session = db()
    campaigns.delete_campaign(session, campaigns.get_campaign(session, campaign_id), g.api_user)
    session.commit()
    return "", 204


@bp.get("/campaigns/<int:campaign_id>/preview")
@requires(*STAFF)
def preview_campaign(campaign_id: int):
    campaign = campaigns.get_campaign(db(), campaign_id)
    preview = campaigns.preview(db(), campaign, _settings().billing, now())
    estimate = estimate_for(campaign, preview.total_parts if campaign.sent_at is None else None)
    db().commit()  # the first preview may record the configured tariff as the first one
    return jsonify({**preview.as_dict(), **estimate_json(estimate)})


@bp.post("/campaigns/<int:campaign_id>/submit")
@requires(Role.OPERATOR)
def submit_campaign(campaign_id: int):
    session = db()
    campaign = workflow.submit(session, campaigns.get_campaign(session, campaign_id), g.api_user)
    return jsonify(campaign_json(campaign))


def _sent(campaign: Campaign, started: bool):
    """202: sending (or sent to nobody) or scheduled."""
    warnings = (
        ["no active subscriber is in the target: nothing was sent"] if started and not campaign.recipients else []
    )
    return jsonify(_with(campaign, warnings=warnings)), 202


@bp.post("/campaigns/<int:campaign_id>/send")
@requires(Role.OPERATOR)
def send_campaign(campaign_id: int):
    campaign = campaigns.get_campaign(db(), campaign_id)
    return _sent(campaign, workflow.send(db(), campaign, g.api_user, _settings(), now()))


@bp.post("/campaigns/<int:campaign_id>/approve")
@requires(Role.APPROVER)
def approve_campaign(campaign_id: int):
    """Approval sends at once (or at its scheduled time): an alert must not wait for a third click."""
    campaign = campaigns.get_campaign(db(), campaign_id)
    return _sent(campaign, workflow.approve(db(), campaign, g.api_user, _settings(), now()))


@bp.post("/campaigns/<int:campaign_id>/reject")
@requires(Role.APPROVER)
def reject_campaign(campaign_id: int):
    session = db()
    campaign = workflow.reject(
        session, campaigns.get_campaign(session, campaign_id), g.api_user, json_body().get("reason")
    )
    return jsonify(campaign_json(campaign))


@bp.post("/campaigns/<int:campaign_id>/override")
@requires(Role.OPERATOR, Role.APPROVER)
def override_campaign(campaign_id: int):
    campaign = campaigns.get_campaign(db(), campaign_id)
    return _sent(campaign, workflow.override(db(), campaign, g.api_user, json_body().get("reason"), _settings(), now()))


@bp.get("/campaigns/overrides")
@requires(*STAFF)
def unacknowledged_overrides():
    """What the approvers' banner shows: emergency overrides nobody has acknowledged yet."""
    return jsonify({"items": [campaign_json(c, estimate=False) for c in overrides.unacknowledged(db())]})


@bp.post("/campaigns/<int:campaign_id>/acknowledge-override")
@requires(Role.APPROVER)
def acknowledge_override(campaign_id: int):
    session = db()
    campaign = overrides.acknowledge(session, campaigns.get_campaign(session, campaign_id), g.api_user)
    session.commit()
    return jsonify(campaign_json(campaign, estimate=False))


def _follow_up(campaign_id: int, msg_type: str):
    original = campaigns.get_campaign(db(), campaign_id)
    follow = workflow.follow_up(db(), original, g.api_user, msg_type, json_body(), _settings(), now())
    if follow.awaiting_approval:
        return jsonify(
            _with(follow.campaign, warnings=["approval by a second person is required before it is sent"])
        ), 201
    return _sent(follow.campaign, follow.started)


@bp.post("/campaigns/<int:campaign_id>/update")
@requires(Role.OPERATOR)
def update_alert(campaign_id: int):
    return _follow_up(campaign_id, "Update")


@bp.post("/campaigns/<int:campaign_id>/all-clear")
@requires(Role.OPERATOR)
def all_clear(campaign_id: int):
    return _follow_up(campaign_id, "Cancel")


@bp.get("/campaigns/<int:campaign_id>/cap.xml")
@requires(*STAFF)
def campaign_cap(campaign_id: int):
    campaign = campaigns.get_campaign(db(), campaign_id)
    return Response(cap.build_cap(db(), campaign, _settings().campaigns), mimetype="application/xml")


_STATE = {**NOT_FOUND, **conflict("Not in a state that allows this")}
_FORBIDDEN_APPROVAL = {
    "403": {
        "description": "The four-eyes rule: not an approver, or one of the campaign's writers "
        "(its author or anyone who changed its text, target or severity)"
    }
}
_ACCEPTED = "Sent (status sending or completed) or scheduled (status scheduled: its time, or the end of quiet hours)"
OPENAPI_PATHS = {
    "/api/v1/campaigns": {
        "get": {
            **op("Latest campaigns", "200", {"type": "array", "items": ref("Campaign")}),
            "parameters": [
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
                for n, d in (
                    ("status", "only this status"),
                    ("kind", "alert or info"),
                    ("since", "created at or after (ISO 8601)"),
                    ("until", "created before (ISO 8601)"),
                )
            ],
        },
        "post": links(
            links(
                op(
                    "Create a draft campaign (`warnings` says when the target has no recipients)",
                    "201",
                    ref("Campaign"),
                    body=ref("CampaignInput"),
                ),
                "201",
                "/api/v1/campaigns/{id}",
                ("GET", "PATCH", "DELETE"),
            ),
            "201",
            "/api/v1/campaigns/{id}/preview",
            ("GET",),
        ),
    },
    "/api/v1/campaigns/preview": {
        "post": op(
            "Preview what is being composed, without saving it",
            "200",
            ref("CampaignPreview"),
            body=ref("CampaignInput"),
        ),
    },
    "/api/v1/campaigns/{id}": {
        "get": op("A campaign and its delivery counts", "200", ref("Campaign"), params=ID_PARAM, extra=NOT_FOUND),
        "patch": op(
            "Edit a draft or rejected campaign (any CampaignInput fields)",
            "200",
            ref("Campaign"),
            body=ref("CampaignInput"),
            params=ID_PARAM,
            extra=_STATE,
        ),
        "delete": {
            "summary": "Delete a draft or rejected campaign",
            "parameters": ID_PARAM,
            "responses": {"204": {"description": "Deleted"}, **_STATE},
        },
    },
    "/api/v1/campaigns/{id}/preview": {
        "get": op(
            "Recipients (deduplicated), parts, cost with the tariff in force",
            "200",
            ref("CampaignPreview"),
            params=ID_PARAM,
            extra=NOT_FOUND,
        ),
    },
    "/api/v1/campaigns/{id}/submit": {
        "post": op("Submit for approval", "200", ref("Campaign"), params=ID_PARAM, extra=_STATE),
    },
    "/api/v1/campaigns/{id}/approve": {
        "post": op(
            "Approve (by another user with the approver role) and send",
            "202",
            ref("Campaign"),
            params=ID_PARAM,
            extra={**_STATE, **_FORBIDDEN_APPROVAL},
        ),
    },
    "/api/v1/campaigns/{id}/reject": {
        "post": op(
            "Reject with a reason",
            "200",
            ref("Campaign"),
            params=ID_PARAM,
            body=ref("Reason"),
            extra={**_STATE, **_FORBIDDEN_APPROVAL},
        ),
    },
    "/api/v1/campaigns/{id}/override": {
        "post": op(
            "Emergency override for an extreme alert: approve without a second person (audited) and send",
            "202",
            ref("Campaign"),
            params=ID_PARAM,
            body=ref("Reason"),
            extra=_STATE,
        ),
    },
    "/api/v1/campaigns/overrides": {
        "get": op(
            "Emergency overrides no approver has acknowledged yet (the approvers' banner)", "200", ref("CampaignList")
        ),
    },
    "/api/v1/campaigns/{id}/acknowledge-override": {
        "post": op(
            "An approver acknowledges an emergency override (audited): the banner goes away for all",
            "200",
            ref("Campaign"),
            params=ID_PARAM,
            extra={**_STATE, **_FORBIDDEN_APPROVAL},
        ),
    },
    "/api/v1/campaigns/{id}/send": {
        "post": op(_ACCEPTED, "202", ref("Campaign"), params=ID_PARAM, extra=_STATE),
    },
    "/api/v1/campaigns/{id}/update": {
        "post": op(
            "An update of a sent alert to exactly its recipients (CAP msgType Update); "
            + _ACCEPTED
            + "; 201 when it waits for approval",
            "202",
            ref("Campaign"),
            params=ID_PARAM,
            body=ref("FollowUpInput"),
            extra=_STATE,
        ),
    },
    "/api/v1/campaigns/{id}/all-clear": {
        "post": op(
            "The all-clear (odwołanie alarmu) to exactly the original's recipients (CAP msgType Cancel); "
            "201 when it waits for approval",
            "202",
            ref("Campaign"),
            params=ID_PARAM,
            body=ref("FollowUpInput"),
            extra=_STATE,
        ),
    },
    "/api/v1/campaigns/{id}/cap.xml": {
        "get": {
            "summary": "The campaign as an OASIS CAP 1.2 message",
            "parameters": ID_PARAM,
            "responses": {
                "200": {"description": "CAP 1.2 XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
                **NOT_FOUND,
            },
        },
    },
}
# The bodies' schemas, generated from the models campaigns.service validates with (one declaration).
OPENAPI_SCHEMAS = components(
    schemas.CampaignInput,
    schemas.FollowUpInput,
    schemas.Reason,
    schemas.CampaignPreview,
    schemas.Campaign,
    schemas.CampaignList,
)
