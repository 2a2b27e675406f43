"""After the send (issue 15): the campaign page's follow-up to a slice of its recipients, and the field worklist
(PDF for the teams, CSV and GeoJSON). The worklist's answer is written here once for the page and the API
(app/api/fieldwork.py): its words in the reader's language, its audit record (addresses and phones of people:
personal data, so every download is recorded, and only operators and admins may download)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import roles_required
from app.database import db
from app.geojson import geojson_response
from campaigns import fieldwork, workflow
from campaigns import service as campaigns
from campaigns.exceptions import CampaignError, CampaignNotFound
from campaigns.models import Campaign
from syrena_core.accounts import Role, User
from syrena_core.audit import record
from syrena_core.db import utcnow

bp = Blueprint("fieldwork_ui", __name__, url_prefix="/campaigns")

FORMATS = ("pdf", "csv", "geojson")
# Personal data (where people live, whose SMS failed, who asked for help): operators (and admins) only.
WORKLIST_ROLES = (Role.OPERATOR,)


def worklist_labels() -> dict[str, str]:
    return {
        "title": _("Field worklist"),
        "campaign": _("Campaign"),
        "sent": _("Sent"),
        "generated": _("Generated"),
        "zone": _("Zone"),
        "street": _("Street"),
        "number": _("No."),
        "failed": _("SMS failed"),
        "needs_help": _("Needs help"),
        "total": _("Total"),
        "no_zone": _("Drawn area / no target zone"),
        "no_address": _("No address (subscribed by SMS code)"),
        "no_question": _("The campaign asked no question: only failed deliveries are listed."),
        "empty": _("Nobody to visit: every SMS was delivered and nobody asked for help."),
        # Filled in by campaigns.fieldwork (str.format) with the counts.
        "summary": _(
            "Recipients whose SMS failed: %(failed)s; who asked for help: %(needs_help)s.",
            failed="{failed}",
            needs_help="{needs_help}",
        ),
    }


def worklist_response(campaign: Campaign, fmt: str, actor: User) -> Response:
    """The worklist of `campaign` in `fmt` (pdf, csv, geojson), recorded in the audit log (committed)."""
    session = db()
    settings = current_app.config["SYRENA"]
    worklist = fieldwork.build_worklist(session, campaign, utcnow())
    record(
        session,
        "campaign.worklist",
        actor,
        "campaign",
        campaign.id,
        {
            "format": fmt,
            "addresses": worklist.addresses,
            "failed": worklist.failed_people,
            "needs_help": worklist.needs_help_people,
        },
    )
    session.commit()
    name = f"syrena-worklist-{campaign.id}"
    if fmt == "geojson":
        response = geojson_response(fieldwork.worklist_geojson(worklist))
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.geojson"'
    elif fmt == "csv":
        response = Response(
            fieldwork.worklist_csv(worklist, worklist_labels()),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    else:
        response = Response(
            fieldwork.worklist_pdf(worklist, settings.app.timezone, worklist_labels()),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    response.headers["Cache-Control"] = "no-store"  # personal data: no copy in any cache
    return response


def slice_label(follow_up_to: str | None, question: dict | None = None) -> str:
    """Who a follow-up to a slice goes to, for people."""
    if follow_up_to == fieldwork.NO_REPLY:
        return _("those who did not answer")
    if follow_up_to == fieldwork.FAILED:
        return _("those whose SMS failed, expired or was refused")
    if follow_up_to and follow_up_to.startswith(fieldwork.ANSWER):
        key = follow_up_to[len(fieldwork.ANSWER) :]
        answer = next((a for a in (question or {}).get("answers") or [] if str(a.get("key")) == key), None)
        labels = (answer or {}).get("label") or {}
        label = labels.get(str(get_locale() or "pl")) or labels.get("pl") or next(iter(labels.values()), "")
        return (
            _("those who answered %(key)s (%(label)s)", key=key, label=label)
            if label
            else _("those who answered %(key)s", key=key)
        )
    return ""


def _slices(campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign page's choice of slices, each with how many active subscribers it holds now."""
    if campaign.sent_at is None:
        return []
    sizes = fieldwork.slice_sizes(db(), campaign)
    return [{"to": to, "label": slice_label(to, campaign.question), "size": n} for to, n in sizes.items()]


@bp.app_context_processor
def _fieldwork_context() -> dict[str, Any]:
    # Callables: only the pages that show them query anything.
    return {"follow_up_slices": _slices, "slice_label": slice_label, "worklist_formats": FORMATS}


def _campaign(campaign_id: int) -> Campaign:
    try:
        return campaigns.get_campaign(db(), campaign_id)
    except CampaignNotFound:
        abort(404)


@bp.post("/<int:campaign_id>/follow-up")
@roles_required(Role.OPERATOR)
def follow_up(campaign_id: int):
    """The campaign page's "Send a follow-up to…": a draft, then its review page (preview, submit, approval)."""
    session = db()
    original = _campaign(campaign_id)
    try:
        draft = workflow.follow_up_slice(
            session,
            original,
            current_user,
            request.form.get("to", ""),
            {"body": request.form.get("body", "")},
            current_app.config["SYRENA"],
            current_app.config.get("SYRENA_CLOCK", utcnow)(),
        )
    except (CampaignError, ValueError) as e:
        session.rollback()
        flash(str(e), "error")
        return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id) + "#follow-up-heading")
    flash(_("Follow-up saved as a draft: check its recipients, then submit or send it."), "success")
    return redirect(url_for("campaigns_ui.review", campaign_id=draft.id))


@bp.get("/<int:campaign_id>/worklist.pdf", defaults={"fmt": "pdf"})
@bp.get("/<int:campaign_id>/worklist.csv", defaults={"fmt": "csv"})
@bp.get("/<int:campaign_id>/worklist.geojson", defaults={"fmt": "geojson"})
@roles_required(*WORKLIST_ROLES)
def worklist(campaign_id: int, fmt: str):
    return worklist_response(_campaign(campaign_id), fmt, current_user)
