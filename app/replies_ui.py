"""Replies to a campaign's question on the campaign page (issue 15): the live tally, the map, the exports.

The page (admin.campaign_detail) renders the tallies and the replies as tables (no JavaScript needed) through
`page_context`; campaign-replies.js polls `replies.json` (the staff session, like progress.json) and draws the
map from `replies-map.geojson`. Who sees what is the API's rule (app.api.campaign_replies): operators and admins
the replies with phones and places, approvers the tallies alone, finance nothing. The downloads (CSV, GeoJSON)
are personal-data exports: audited, operators and admins only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from app.api.campaign_replies import SEES_REPLIES, replies_csv_response
from app.auth import roles_required
from app.database import db
from app.geojson import geojson_response
from campaigns import questions
from campaigns import service as campaigns
from campaigns.exceptions import CampaignNotFound
from campaigns.models import Campaign
from syrena_core.accounts import Role

bp = Blueprint("replies_ui", __name__, url_prefix="/campaigns")

SEES_TALLIES = (Role.OPERATOR, Role.APPROVER)
PAGE_REPLIES = 200  # rows of the replies table on the page; the rest is in the CSV export


def _campaign(campaign_id: int) -> Campaign:
    try:
        return campaigns.get_campaign(db(), campaign_id)
    except CampaignNotFound:
        abort(404)


def _question(campaign: Campaign) -> dict[str, Any]:
    if not campaign.question:
        abort(409, _("This campaign asked no question: it has no replies."))
    return campaign.question


def page_context(campaign: Campaign) -> dict[str, Any]:
    """What campaign.html shows of the replies: nothing without a question or for finance."""
    if not campaign.question or not current_user.has_role(*SEES_TALLIES):
        return {"replies": None}
    with_replies = current_user.has_role(*SEES_REPLIES)
    report = questions.report(db(), campaign, with_replies, PAGE_REPLIES, 0)
    labels = {a["key"]: questions.label_of(a, "pl") for a in campaign.question["answers"]}
    texts = questions.sms_texts(campaign)
    return {"replies": report, "answer_labels": labels, "sees_replies": with_replies, "sms_texts": texts}


@bp.get("/<int:campaign_id>/replies.json")
@roles_required(*SEES_TALLIES)
def replies_json(campaign_id: int):
    """What the campaign page polls: the API's document (tallies; the replies for those who may see them)."""
    campaign = _campaign(campaign_id)
    _question(campaign)
    report = questions.report(db(), campaign, current_user.has_role(*SEES_REPLIES), PAGE_REPLIES, 0)
    response = jsonify(report)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:campaign_id>/replies-map.geojson")
@roles_required(*SEES_REPLIES)
def replies_map(campaign_id: int):
    """The map's dots (seen on the page, not exported: not audited); ?silent=1 adds the grey ones."""
    campaign = _campaign(campaign_id)
    document = questions.geojson(
        db(), campaign.id, _question(campaign), include_silent=request.args.get("silent") == "1"
    )
    response = geojson_response(document)
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit(campaign_id: int, what: str, rows: int) -> None:
    questions.record_export(db(), current_user, campaign_id, what, rows)
    db().commit()


@bp.get("/<int:campaign_id>/replies.csv")
@roles_required(*SEES_REPLIES)
def replies_csv_download(campaign_id: int):
    campaign = _campaign(campaign_id)
    question = _question(campaign)
    rows, _total = questions.replies(db(), campaign.id, question)
    _audit(campaign.id, "csv", len(rows))
    return replies_csv_response(campaign.id, rows, question)


@bp.get("/<int:campaign_id>/replies.geojson")
@roles_required(*SEES_REPLIES)
def replies_geojson_download(campaign_id: int):
    campaign = _campaign(campaign_id)
    document = questions.geojson(db(), campaign.id, _question(campaign), include_silent=True)
    _audit(campaign.id, "geojson", len(document["features"]))
    response = geojson_response(document)
    response.headers["Content-Disposition"] = f'attachment; filename="syrena-replies-{campaign.id}.geojson"'
    return response
