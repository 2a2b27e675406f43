"""The timing report of an alert (issue 16) for people: the campaign page's timeline section, its one-page PDF
for the crisis-management plan, and the finance page's month of alerts. The figures are campaigns.timeline's;
this module words them in the reader's language and local time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app
from flask_babel import format_decimal
from flask_babel import gettext as _

from app.auth import roles_required
from app.database import db
from billing import reports
from campaigns import service as campaigns
from campaigns import timeline
from campaigns.exceptions import CampaignNotFound
from campaigns.models import Campaign
from campaigns.timeline_pdf import timeline_pdf
from syrena_core import localtime
from syrena_core.accounts import Role
from syrena_core.db import utcnow

bp = Blueprint("timeline_ui", __name__, url_prefix="/campaigns")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)  # who may read a campaign (app.admin.campaign_detail)


def step_labels() -> dict[str, str]:
    return {
        "created_at": _("Created"),
        "submitted_at": _("Submitted for approval"),
        "approved_at": _("Approved"),
        "sent_at": _("Sending began"),
        "first_submit_at": _("First SMS submitted to the SMSC"),
        "first_receipt_at": _("First delivery receipt"),
        "delivered_50_at": _("%(percent)s%% delivered", percent=50),
        "delivered_90_at": _("%(percent)s%% delivered", percent=90),
        "delivered_100_at": _("%(percent)s%% delivered", percent=100),
    }


def pdf_labels() -> dict[str, str]:
    return {
        **step_labels(),
        "title": _("Alert timing report"),
        "campaign": _("Campaign"),
        "generated": _("Generated"),
        "step": _("Step"),
        "time": _("Local time"),
        "since_created": _("Since created"),
        "since_sent": _("Since sending began"),
        # Kept a %-format for the PDF to fill in (gettext would fill it now).
        "approved_by": _("Approved by user #%(id)s", id="%(id)s"),
        "override": _("emergency override (no second person)"),
        "messages": _("Messages"),
        "delivered": _("Delivered"),
        "failures": _("Failures by reason"),
        "reason": _("Reason"),
        "other_reasons": _("Other reasons"),
        "no_failures": _("No failures."),
        "by_link": _("By SMSC connection"),
        "link": _("Connection"),
        "failed": _("Failed or expired"),
        "cost": _("Cost (billing ledger)"),
        "not_yet": "—",
        "percent_note": _(
            "Percentages are of all the campaign's messages (one per recipient); %(all)s only when every "
            "message was delivered.",
            all="100%",
        ),
    }


def _local(moment: datetime) -> str:
    return localtime.local_text(moment, current_app.config["SYRENA"].app.timezone, seconds=True)


def page(campaign: Campaign) -> dict[str, Any]:
    """What the campaign page's timeline section shows: each step with when it happened (the template shows it in
    local time) and its distance from the creation and from the start of sending ("+0:42"), the failures by
    reason and link, the cost."""
    report = timeline.campaign_timeline(db(), campaign)
    labels = step_labels()
    steps = []
    for name, moment in report.steps():
        since_created = timeline.seconds_between(report.created_at, moment)
        since_sent = timeline.seconds_between(report.sent_at, moment) if name not in timeline.BEFORE_SENDING else None
        steps.append(
            {
                "key": name,
                "label": labels[name],
                "at": moment,
                "since_created": timeline.clock(since_created) if since_created is not None else "",
                "since_sent": timeline.clock(since_sent) if since_sent is not None else "",
            }
        )
    return {"report": report, "steps": steps}


def _campaign_or_404(campaign_id: int) -> Campaign:
    try:
        return campaigns.get_campaign(db(), campaign_id)
    except CampaignNotFound:
        abort(404)


def pdf_response(campaign: Campaign) -> Response:
    """The one-page PDF (the UI's and the API's download): no personal data in it, so no audit entry."""
    body = timeline_pdf(
        timeline.campaign_timeline(db(), campaign),
        pdf_labels(),
        local=_local,
        money=current_app.jinja_env.filters["money"],  # app.admin's: the pages' money, with the currency
        number=lambda n: format_decimal(n),
        generated_at=utcnow(),
    )
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="syrena-timeline-{campaign.id}.pdf"'},
    )


@bp.get("/<int:campaign_id>/timeline.pdf")
@roles_required(*STAFF)
def timeline_pdf_download(campaign_id: int):
    return pdf_response(_campaign_or_404(campaign_id))


# ------------------------------------------------------------------------------------------- the finance page
def duration(seconds: float | None) -> str:
    return "—" if seconds is None else timeline.clock(seconds).lstrip("+")


def month_alerts(month: date, exercises: bool = False) -> timeline.MonthTimelines:
    """The timing reports of the campaigns sent in `month` (the finance page's month, in billing's time zone):
    the real ones, or the exercises and tests."""
    start, end = reports.month_bounds(month, current_app.config["SYRENA"].billing.timezone)
    return timeline.month_timelines(db(), start, end, exercises)
