"""Replies to a campaign's question (issue 15): the tallies, the replies with the respondents' places, exports.

Who sees what: operators and admins the replies with phone numbers; approvers the tallies alone (the `replies`
list is left out of their answer); finance nothing (403). The exports (CSV, GeoJSON) hold personal data: admins
and operators only, each one audited (`campaign.replies_export`). A campaign without a question: 409.
"""

from __future__ import annotations

import csv
import io

from flask import Response, g, jsonify, request

from app.api.blueprint import bp
from app.api.common import page_params, requires
from app.database import db
from app.geojson import GEOJSON, geojson_response
from app.openapi import ID_PARAM, NOT_FOUND, components, conflict, op, ref
from campaigns import questions, schemas
from campaigns import service as campaigns
from syrena_core.accounts import Role, role_allows
from syrena_core.text import spreadsheet_text

OPENAPI_TAG = "campaigns"
# Who may see respondents' phone numbers and places (the tallies: approvers too).
SEES_REPLIES = (Role.OPERATOR,)


def replies_csv(rows: list[dict], question: dict) -> str:
    """The CSV export: a header, then one line per reply and place; text cells safe for spreadsheets (the phone,
    E.164 as validated at subscription, stays as it is)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(questions.CSV_COLUMNS)
    for row in questions.csv_rows(rows, question):
        phone, *rest = row
        writer.writerow([phone, *(spreadsheet_text(v) if isinstance(v, str) else v for v in rest)])
    return "\ufeff" + out.getvalue()


def replies_csv_response(campaign_id: int, rows: list[dict], question: dict) -> Response:
    """The CSV export as a download (the API's and the campaign page's)."""
    return Response(
        replies_csv(rows, question),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="syrena-replies-{campaign_id}.csv"'},
    )


def audit_export(campaign_id: int, what: str, rows: int) -> None:
    questions.record_export(db(), g.api_user, campaign_id, what, rows)
    db().commit()


@bp.get("/campaigns/<int:campaign_id>/replies")
@requires(Role.OPERATOR, Role.APPROVER)
def campaign_replies(campaign_id: int):
    limit, offset = page_params()
    campaign = campaigns.get_campaign(db(), campaign_id)
    with_replies = role_allows(g.api_role, *SEES_REPLIES)
    return jsonify(questions.report(db(), campaign, with_replies, limit, offset))


@bp.get("/campaigns/<int:campaign_id>/replies.geojson")
@requires(*SEES_REPLIES)
def campaign_replies_geojson(campaign_id: int):
    campaign = campaigns.get_campaign(db(), campaign_id)
    question = questions.require_question(campaign)
    silent = request.args.get("silent") in ("1", "true")
    document = questions.geojson(db(), campaign.id, question, include_silent=silent)
    audit_export(campaign.id, "geojson", len(document["features"]))
    return geojson_response(document)


@bp.get("/campaigns/<int:campaign_id>/replies.csv")
@requires(*SEES_REPLIES)
def campaign_replies_csv(campaign_id: int):
    campaign = campaigns.get_campaign(db(), campaign_id)
    question = questions.require_question(campaign)
    rows, _total = questions.replies(db(), campaign.id, question)
    audit_export(campaign.id, "csv", len(rows))
    return replies_csv_response(campaign.id, rows, question)


_NO_QUESTION = {**NOT_FOUND, **conflict("The campaign asked no question: no replies to show or export")}
_PAGE = [
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
]
OPENAPI_PATHS = {
    "/api/v1/campaigns/{id}/replies": {
        "get": op(
            "Replies to the campaign's question: the tally per answer (respondents by their latest recognised "
            "answer; unrecognised = only free text; no_reply = delivered and silent), per target zone, shares of "
            "delivered; `replies` (phones, places) for operators and admins only — approvers get the tallies",
            "200",
            ref("CampaignReplies"),
            params=ID_PARAM + _PAGE,
            extra=_NO_QUESTION,
        )
    },
    "/api/v1/campaigns/{id}/replies.geojson": {
        "get": op(
            "Export (audited, personal data; operators and admins): one Point per reply and registered place, "
            "`kind` needs_help | answered | unrecognised; with ?silent=1 also the delivered-but-silent (silent)",
            "200",
            ref("FeatureCollection"),
            params=[
                *ID_PARAM,
                {"name": "silent", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}},
            ],
            extra=_NO_QUESTION,
            ok_media=GEOJSON,
        )
    },
    "/api/v1/campaigns/{id}/replies.csv": {
        "get": {
            "summary": "Export (audited, personal data; operators and admins): the replies as CSV, one line per "
            "reply and registered place",
            "parameters": ID_PARAM,
            "responses": {
                "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                **_NO_QUESTION,
            },
        }
    },
}
OPENAPI_SCHEMAS = components(schemas.CampaignReplies)
