"""Call-outs in the staff UI (issue 20): the list with the "new call-out" form, each call-out's live board (resend
to the silent, close), its PDF record, the dashboard's red banners and the campaign page's "also to the media".

The rules are campaigns.callouts' (and campaigns.escalation's clock); here only parse, call, respond — the steps of
the API (app.api.callouts): parse, call, commit, enqueue. Operators and admins act; approvers and finance read.
The board polls `/callouts/<id>.json` (the staff session, like the campaign page's progress.json); without
JavaScript it has a refresh link. Every form works without JavaScript (CSRF tokens like every page).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user

from app.auth import roles_required
from app.database import db
from campaigns import callouts, composition, groups
from campaigns import service as campaigns
from campaigns.callout_report import callout_pdf, callout_report, record_export
from campaigns.exceptions import CalloutNotFound, CalloutStateError, CampaignNotFound, InvalidCallout
from campaigns.models import Callout, Campaign, CampaignKind, CampaignStatus, GroupKind
from syrena_core import localtime
from syrena_core.accounts import Role
from syrena_core.db import utcnow

bp = Blueprint("callouts_ui", __name__)

# The list and the boards (the API's GET alike): staff names and phones, so not finance (its costs are on the
# finance page's internal line).
READERS = (Role.OPERATOR, Role.APPROVER)
ACTORS = (Role.OPERATOR,)  # and admins: send, resend, close, the media copy (the API's rule)
EXPORTERS = (Role.OPERATOR, Role.APPROVER)  # the PDF record with phones: those who write the exercise report
LIST_LIMIT = 50

KIND_ORDER = (GroupKind.TEAM.value, GroupKind.SERVICES.value, GroupKind.MEDIA.value, GroupKind.TEST.value)
KIND_LABELS = {
    GroupKind.TEAM.value: _l("Crisis team"),
    GroupKind.SERVICES.value: _l("Services"),
    GroupKind.MEDIA.value: _l("Media"),
    GroupKind.TEST.value: _l("Test groups"),
}
STATE_LABELS = {
    "sent": _lp("call-out member state", "sent"),
    "delivered": _lp("call-out member state", "delivered"),
    "confirmed": _lp("call-out member state", "confirmed"),
    "declined": _lp("call-out member state", "declined"),
    "escalated": _lp("call-out member state", "handed to the deputy"),
    "no_answer": _lp("call-out member state", "no answer"),
}
STATUS_LABELS = {
    "open": _lp("call-out status", "Open"),
    "closed": _lp("call-out status", "Closed"),
}
UNITS = {"min": 60, "s": 1}


def step_labels() -> dict[str, str]:
    return {
        "sent_at": _("Call-out sent"),
        "first_submit_at": _("First SMS submitted to the SMSC"),
        "first_receipt_at": _("First delivery receipt"),
        "first_confirmation_at": _("First confirmation"),
        "last_confirmation_at": _("Last confirmation"),
        "delivered_100_at": _("Every SMS delivered"),
        "closed_at": _("Call-out closed"),
    }


def pdf_labels() -> dict[str, str]:
    return {
        **step_labels(),
        **{f"state.{k}": str(v) for k, v in STATE_LABELS.items()},
        **{f"status.{k}": str(v) for k, v in STATUS_LABELS.items()},
        "title": _("Call-out report"),
        "callout": _("Call-out"),
        "generated": _("Generated"),
        "sent_by": _("Sent by"),
        "sent": _("Sent at"),
        "status": _("Status"),
        "ack": _("Confirmation asked"),
        "yes": _("yes"),
        "no": _("no"),
        "escalate_after": _("Escalation to the deputy after"),
        "reply_window": _("Reply window"),
        "text": _("Text (as sent)"),
        "groups": _("Groups"),
        "group": _("Group"),
        "members": _("Members"),
        "confirmed": _("Confirmations"),
        "declined": _("Declined"),
        "needed": _("Needed"),
        "unreachable": _("cannot reach the needed confirmations"),
        "people": _("People"),
        "name": _("Name"),
        "function": _("Function"),
        "phone": _("Phone"),
        "state": _("State"),
        "time": _("When"),
        "reply": _("Reply"),
        # Kept %-formats for the PDF to fill in (gettext would fill them now).
        "deputy_for": _("deputy for %(name)s", name="%(name)s"),
        "handed_to": _("Handed to the deputy %(to)s", to="%(to)s"),
        "timeline": _("Timeline"),
        "step": _("Step"),
        "local_time": _("Local time"),
        "since_sent": _("Since sent"),
        "not_yet": "—",
    }


@bp.app_context_processor
def _callout_helpers() -> dict[str, Any]:
    # Callables: only the pages that show them query the database.
    return {
        # Only for those who may open the board it links to.
        "unreachable_callouts": lambda: (
            callouts.unreachable_open(db()) if current_user.is_authenticated and current_user.has_role(*READERS) else []
        ),
        "media_copy_form": _media_copy_form,
        "callout_state_label": lambda s: str(STATE_LABELS.get(s, s)),
        "callout_status_label": lambda s: str(STATUS_LABELS.get(s, s)),
        "group_kind_label": lambda k: str(KIND_LABELS.get(k, k)),
    }


def _settings():
    return current_app.config["SYRENA"]


def _callout(callout_id: int, lock: bool = False) -> Callout:
    try:
        return callouts.get(db(), callout_id, lock=lock)
    except CalloutNotFound:
        abort(404)


def _board(callout_id: int) -> Any:
    return redirect(url_for("callouts_ui.board", callout_id=callout_id))


# ------------------------------------------------------------------ the list and the form
def _groups_by_kind() -> list[tuple[str, list[Any]]]:
    live = groups.list_groups(db(), kind=None)
    kinds = [*KIND_ORDER, *sorted({g.kind for g in live} - set(KIND_ORDER))]
    return [(kind, [g for g in live if g.kind == kind]) for kind in kinds if any(g.kind == kind for g in live)]


def _whole(raw: str) -> int | str:
    """A typed number as a number; anything else as typed (the domain then names the field)."""
    raw = raw.strip()
    return int(raw) if re.fullmatch(r"\d{1,9}", raw) else raw


def _form_request() -> tuple[dict[str, Any], dict[str, Any]]:
    """The form as the API's request, and as typed (to show it again after an error)."""
    form = request.form
    unit = form.get("escalate_unit", "min")
    unit = unit if unit in UNITS else "min"
    escalate = _whole(form.get("escalate_after", ""))
    reply = _whole(form.get("reply_minutes", ""))
    typed = {
        "group_ids": set(form.getlist("group_ids")),
        "body": form.get("body", ""),
        "ack": "ack" in form,
        "escalate_after": form.get("escalate_after", ""),
        "escalate_unit": unit,
        "reply_minutes": form.get("reply_minutes", ""),
    }
    data = {
        "group_ids": [_whole(g) for g in form.getlist("group_ids")],
        "body": typed["body"],
        "ack": typed["ack"],
        "escalate_after_s": escalate * UNITS[unit] if isinstance(escalate, int) else escalate,
        "reply_minutes": reply,
    }
    return data, typed


def _field_labels() -> dict[str, str]:
    return {
        "group_ids": _("Groups"),
        "body": _("Text"),
        "escalate_after_s": _("Escalate to the deputy after"),
        "reply_minutes": _("Reply window (min)"),
        "ack": _("Ask for confirmation (reply 1/2)"),
    }


def _error(e: InvalidCallout) -> tuple[str | None, str]:
    """Which field the domain's message names, and the message in the form's words: a hint for the numbers and
    the groups, else the form's label for the field the message starts with."""
    message = str(e)
    match = re.match(r"^(group_ids|body|ack|escalate_after_s|reply_minutes)(\[\d+\])?", message)
    if match is None:
        return None, message
    field = match.group(1)
    if field == "group_ids" and not match.group(2) and "at least one" in message:
        return field, _("Choose at least one group.")
    if field == "escalate_after_s":
        return field, _(
            "Escalate to the deputy after: a whole number from %(low)s seconds to one day (%(minutes)s minutes).",
            low=callouts.ESCALATE_MIN_S,
            minutes=callouts.ESCALATE_MAX_S // 60,
        )
    if field == "reply_minutes":
        return field, _(
            "Reply window: a whole number of minutes from %(low)s to %(high)s.",
            low=callouts.REPLY_MIN_MINUTES,
            high=callouts.REPLY_MAX_MINUTES,
        )
    return field, _field_labels()[field] + message[match.end() :]


DEFAULT_FORM = {
    "group_ids": set(),
    "body": "",
    "ack": True,
    "escalate_after": str(callouts.ESCALATE_DEFAULT_S // 60),
    "escalate_unit": "min",
    "reply_minutes": str(callouts.REPLY_DEFAULT_MINUTES),
}


def _list_page(form: dict[str, Any], error: tuple[str | None, str] | None = None, status: int = 200):
    session = db()
    listed = callouts.list_recent(session, LIST_LIMIT)
    read = callouts.boards(session, listed)
    recent = [(c, read[c.id][1]) for c in listed]
    return render_template(
        "callouts/list.html",
        recent=recent,
        group_kinds=_groups_by_kind() if current_user.has_role(*ACTORS) else [],
        form=form,
        error=error,
        limits={
            "body": callouts.BODY_LIMIT,
            "escalate_min": callouts.ESCALATE_MIN_S,
            "escalate_max": callouts.ESCALATE_MAX_S,
            "reply_min": callouts.REPLY_MIN_MINUTES,
            "reply_max": callouts.REPLY_MAX_MINUTES,
        },
    ), status


@bp.get("/callouts/")
@roles_required(*READERS)
def callout_list():
    return _list_page(DEFAULT_FORM)


@bp.post("/callouts/")
@roles_required(*ACTORS)
def create():
    session = db()
    data, typed = _form_request()
    try:
        callout = callouts.create(session, current_user, data)
    except InvalidCallout as e:
        session.rollback()  # nothing written, nothing sent
        return _list_page(typed, _error(e), 422)
    session.commit()
    callouts.enqueue_new(session, callout.campaign_id, _settings().campaigns.chunk_size)
    flash(_("Call-out %(id)s sent.", id=callout.id), "success")
    return _board(callout.id)


@bp.post("/callouts/analyse")
@roles_required(*ACTORS)
def analyse():
    """The form's live counter: characters and SMS parts of the text as sent (with the reply instruction)."""
    payload = request.get_json(silent=True) or {}
    body = payload.get("body") if isinstance(payload.get("body"), str) else ""
    ack = payload.get("ack") is not False
    sms = callouts.sms_text(body.strip()[: callouts.BODY_LIMIT], ack) if body.strip() else ""
    analysis = composition.analyse(sms)
    return jsonify({"characters": len(body.strip()), "parts": analysis.parts, "encoding": analysis.encoding})


# ------------------------------------------------------------------ the board
def _deputy_names(rows: Any) -> dict[str, str]:
    return {r.phone: r.name for r in rows if r.name}


@bp.get("/callouts/<int:callout_id>")
@roles_required(*READERS)
def board(callout_id: int):
    session = db()
    callout = _callout(callout_id)
    report = callout_report(session, callout)
    labels = step_labels()
    steps = [
        {"key": key, "label": labels[key], "at": at, "since_sent": report.since_sent(at) if at else ""}
        for key, at in report.steps()
    ]
    return render_template(
        "callouts/board.html",
        callout=callout,
        report=report,
        steps=steps,
        state_of=callouts.member_state,
        names=_deputy_names(report.rows),
        group_names={c.id: c.name for c in report.counts},
        state_labels={k: str(v) for k, v in STATE_LABELS.items()},
        media_of=campaigns.get_campaign(session, callout.media_of_id) if callout.media_of_id else None,
    )


@bp.get("/callouts/<int:callout_id>.json")
@roles_required(*READERS)
def board_json(callout_id: int):
    """What the board polls: the API's document (campaigns.callouts.callout_json) on the staff session."""
    response = jsonify(callouts.callout_json(db(), _callout(callout_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/callouts/<int:callout_id>/resend")
@roles_required(*ACTORS)
def resend(callout_id: int):
    session = db()
    callout = _callout(callout_id, lock=True)
    try:
        ids = callouts.resend_silent(session, callout, current_user)
    except CalloutStateError as e:
        session.rollback()
        flash(_("This cannot be done now: %(reason)s", reason=str(e)), "error")
        return _board(callout_id)
    session.commit()
    callouts.enqueue_new(session, callout.campaign_id, _settings().campaigns.chunk_size)
    flash(_("Sent again to %(n)s people who have not answered.", n=len(ids)), "success")
    return _board(callout_id)


@bp.post("/callouts/<int:callout_id>/close")
@roles_required(*ACTORS)
def close(callout_id: int):
    session = db()
    callout = _callout(callout_id, lock=True)
    try:
        callouts.close(session, callout, current_user)
    except CalloutStateError as e:
        session.rollback()
        flash(_("This cannot be done now: %(reason)s", reason=str(e)), "error")
        return _board(callout_id)
    session.commit()
    flash(_("The call-out is closed: no more answers or escalation."), "success")
    return _board(callout_id)


def _local(moment: datetime) -> str:
    return localtime.local_text(moment, _settings().app.timezone, seconds=True)


@bp.get("/callouts/<int:callout_id>.pdf")
@roles_required(*EXPORTERS)
def pdf(callout_id: int):
    """The whole call-out for the exercise report: names and phones, so the download is audited."""
    session = db()
    report = callout_report(session, _callout(callout_id))
    body = callout_pdf(report, pdf_labels(), local=_local, generated_at=utcnow())
    record_export(session, current_user, report)
    session.commit()
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="syrena-callout-{callout_id}.pdf"',
            "Cache-Control": "no-store",  # personal data: no copy in any cache
        },
    )


# ------------------------------------------------------------------ also to the media (the campaign page)
def _media_copy_form(campaign: Campaign) -> dict[str, Any] | None:
    """What campaign.html shows under "Also to the media": only for a sent real alert."""
    if (
        campaign.kind != CampaignKind.ALERT.value
        or campaign.cap_status != "actual"
        or campaign.sent_at is None
        or campaign.status == CampaignStatus.CANCELLED.value
    ):
        return None
    session = db()
    copies = callouts.media_copies(session, campaign.id)
    read = callouts.boards(session, copies)
    return {
        "groups": groups.list_groups(session, GroupKind.MEDIA.value),
        "copies": [(c, read[c.id][1]) for c in copies],
        "can_send": current_user.has_role(*ACTORS),
    }


@bp.post("/campaigns/<int:campaign_id>/media")
@roles_required(*ACTORS)
def copy_to_media(campaign_id: int):
    session = db()
    try:
        campaign = campaigns.get_campaign(session, campaign_id)
    except CampaignNotFound:
        abort(404)
    group_ids = [_whole(g) for g in request.form.getlist("group_ids")]
    try:
        callout = callouts.copy_to_media(session, current_user, campaign, group_ids, _settings().app.public_url)
    except (InvalidCallout, CalloutStateError) as e:
        session.rollback()
        reason = _error(e)[1] if isinstance(e, InvalidCallout) else str(e)
        flash(_("Not sent to the media: %(reason)s", reason=reason), "error")
        return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id) + "#media-copy")
    session.commit()
    callouts.enqueue_new(session, callout.campaign_id, _settings().campaigns.chunk_size)
    flash(_("Call-out %(id)s sent.", id=callout.id), "success")
    return _board(callout.id)
