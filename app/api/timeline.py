"""Timing report API (issue 16): how long each step of an alert took, as JSON and as a one-page PDF."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.api.blueprint import bp
from app.api.common import STAFF, requires
from app.database import db
from app.openapi import ERRORS, ID_PARAM, NOT_FOUND, op, ref
from app.timeline_ui import pdf_response
from campaigns import service as campaigns
from campaigns.timeline import Timeline, campaign_timeline

OPENAPI_TAG = "campaigns"


def timeline_json(report: Timeline) -> dict[str, Any]:
    """A key is null until its step happens; times ISO 8601 with offset, the cost a decimal string (the
    ledger's sum, as `cost` of a campaign)."""
    approval = report.approval
    return {
        "campaign_id": report.campaign_id,
        **{name: moment.isoformat() if moment else None for name, moment in report.steps()},
        "approved_by": None
        if approval is None
        else {"id": approval.user_id, "email": approval.email, "override": approval.override},
        "messages": report.messages,
        "delivered": report.delivered,
        "failures": report.failures,
        "by_link": {
            name: {"messages": f.messages, "delivered": f.delivered, "failed": f.failed, "failures": f.failures}
            for name, f in report.by_link.items()
        },
        "cost": str(report.cost),
        "currency": current_app.config["SYRENA"].billing.currency,
    }


@bp.get("/campaigns/<int:campaign_id>/timeline")
@requires(*STAFF)
def campaign_timeline_json(campaign_id: int):
    return jsonify(timeline_json(campaign_timeline(db(), campaigns.get_campaign(db(), campaign_id))))


@bp.get("/campaigns/<int:campaign_id>/timeline.pdf")
@requires(*STAFF)
def campaign_timeline_pdf(campaign_id: int):
    return pdf_response(campaigns.get_campaign(db(), campaign_id))


_TIME = {"type": "string", "format": "date-time", "nullable": True}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
OPENAPI_SCHEMAS = {
    "CampaignTimeline": {
        "type": "object",
        "description": "How long each step took. A time is null until its step happens. Percentages are of the "
        "campaign's messages (one per recipient): delivered_100_at stays null until every message is delivered, "
        "and all three are null while the recipients are still being written.",
        "required": [
            "created_at",
            "submitted_at",
            "approved_at",
            "approved_by",
            "first_submit_at",
            "first_receipt_at",
            "delivered_50_at",
            "delivered_90_at",
            "delivered_100_at",
            "failures",
            "by_link",
            "cost",
        ],
        "properties": {
            "campaign_id": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "submitted_at": _TIME,
            "approved_at": _TIME,
            "approved_by": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "id": {"type": "integer", "nullable": True},
                    "email": {"type": "string", "nullable": True},
                    "override": {"type": "boolean", "description": "the emergency override: no second person"},
                },
            },
            "sent_at": {**_TIME, "description": "sending began (the approval's send, the operator's, the schedule)"},
            "first_submit_at": {**_TIME, "description": "the first submit_sm the SMSC accepted"},
            "first_receipt_at": {**_TIME, "description": "the first delivery receipt"},
            "delivered_50_at": _TIME,
            "delivered_90_at": _TIME,
            "delivered_100_at": _TIME,
            "messages": {"type": "integer", "description": "the denominator of the percentages"},
            "delivered": {"type": "integer"},
            "failures": {**_COUNTS, "description": "failed and expired messages by reason (the SMSC's error)"},
            "by_link": {
                "type": "object",
                "description": "per SMSC connection (message.smsc)",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "messages": {"type": "integer"},
                        "delivered": {"type": "integer"},
                        "failed": {"type": "integer", "description": "failed or expired"},
                        "failures": _COUNTS,
                    },
                },
            },
            "cost": {"type": "string", "description": "what the billing ledger charged, a decimal", "example": "0.36"},
            "currency": {"type": "string"},
        },
    }
}
OPENAPI_PATHS = {
    "/api/v1/campaigns/{id}/timeline": {
        "get": op(
            "How long each step of the campaign took: approval, first submit, first receipt, 50/90/100 % delivered",
            "200",
            ref("CampaignTimeline"),
            params=ID_PARAM,
            extra=NOT_FOUND,
        ),
    },
    "/api/v1/campaigns/{id}/timeline.pdf": {
        "get": {
            "summary": "The timing report as a one-page PDF for the crisis-management plan (no personal data)",
            "parameters": ID_PARAM,
            "responses": {
                "200": {
                    "description": "PDF",
                    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                },
                "401": ERRORS["401"],
                "403": ERRORS["403"],
                **NOT_FOUND,
            },
        },
    },
}
