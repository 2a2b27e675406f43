"""After the send (issue 15): a follow-up to a slice of a campaign's recipients, and the field worklist."""

from __future__ import annotations

from flask import current_app, g, jsonify

from app.api.blueprint import bp
from app.api.campaigns import campaign_json, now
from app.api.common import json_body, requires
from app.database import db
from app.fieldwork_ui import FORMATS, WORKLIST_ROLES, worklist_response
from app.openapi import ID_PARAM, NOT_FOUND, components, conflict, op, ref
from campaigns import schemas, workflow
from campaigns import service as campaigns
from syrena_core.accounts import Role


@bp.post("/campaigns/<int:campaign_id>/follow-up")
@requires(Role.OPERATOR)
def follow_up_slice(campaign_id: int):
    """201: a draft to the slice `to` of the campaign's recipients, with its preview (the slice counted now)."""
    body = json_body()
    to = body.pop("to", None)
    session = db()
    settings = current_app.config["SYRENA"]
    original = campaigns.get_campaign(session, campaign_id)
    draft = workflow.follow_up_slice(session, original, g.api_user, to, body, settings, now())
    preview = campaigns.preview(session, draft, settings.billing, now())
    session.commit()  # the first preview may record the configured tariff
    return jsonify({**campaign_json(draft), "preview": preview.as_dict(), "warnings": preview.warnings}), 201


@bp.get("/campaigns/<int:campaign_id>/worklist.pdf", defaults={"fmt": "pdf"})
@bp.get("/campaigns/<int:campaign_id>/worklist.csv", defaults={"fmt": "csv"})
@bp.get("/campaigns/<int:campaign_id>/worklist.geojson", defaults={"fmt": "geojson"})
@requires(*WORKLIST_ROLES)
def worklist(campaign_id: int, fmt: str):
    return worklist_response(campaigns.get_campaign(db(), campaign_id), fmt, g.api_user)


_MEDIA = {"pdf": "application/pdf", "csv": "text/csv", "geojson": "application/geo+json"}
OPENAPI_TAG = "campaigns"  # listed with the other campaign routes on /api/docs
OPENAPI_PATHS = {
    "/api/v1/campaigns/{id}/follow-up": {
        "post": op(
            "A follow-up to a slice of a sent campaign's recipients (`to`: answer:<key> — those whose latest "
            "answer is that key; no_reply — delivered, no reply; failed — failed, expired or refused); only "
            "subscribers still active. A draft linked to the original (reference_id, follow_up_to), not "
            "published; preview, submit and approval as for any campaign. 422 naming `to` for a key the "
            "question lacks or a campaign without a question",
            "201",
            ref("FollowUpSliceCreated"),
            params=ID_PARAM,
            body=ref("FollowUpSliceInput"),
            extra={**NOT_FOUND, **conflict("The campaign has not been sent")},
        ),
    },
    **{
        f"/api/v1/campaigns/{{id}}/worklist.{fmt}": {
            "get": {
                "summary": "The field worklist: registered addresses of recipients whose SMS failed, expired or "
                "was refused, and of those who answered needs-help, by target zone, street and house number, "
                "with counts (personal data: operators and admins; every download audited). Any campaign: "
                "without a question the needs-help counts are 0"
                + (" (PDF: A4, no phone numbers)" if fmt == "pdf" else " (with phone numbers)"),
                "parameters": ID_PARAM,
                "responses": {
                    "200": {
                        "description": f"The worklist as {fmt.upper()}",
                        "content": {_MEDIA[fmt]: {"schema": {"type": "object"} if fmt == "geojson" else {}}},
                    },
                    **NOT_FOUND,
                },
            }
        }
        for fmt in FORMATS
    },
}
OPENAPI_SCHEMAS = components(schemas.FollowUpSliceInput, schemas.FollowUpSliceCreated)
