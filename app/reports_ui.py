"""The reports inbox: what residents texted to the city's number (ZGŁOŚ <text>), for crisis staff — a filtered list
with a map (the list is the map's text alternative), and a report's page: status, assignee, internal notes and an
SMS reply to the reporter. Operators and admins work on reports; approvers read (number masked, a registered place
hidden); finance has no access. The rules live in subscribers.reports; the views parse, call and answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user

from app.admin import _map_options
from app.auth import roles_required
from app.database import db
from subscribers import reports
from subscribers.exceptions import InvalidReportChange, ReportNotFound
from subscribers.jobs import submit_report_reply
from subscribers.phones import masked_phone
from syrena_core import localtime
from syrena_core.accounts import Role
from zones import service as zones

bp = Blueprint("reports_ui", __name__, url_prefix="/reports")
PAGE_SIZE = 50
MAP_MAX = 500  # located reports drawn on the list's map (those of the filter, newest first)

STATUS_LABELS = {
    "new": _lp("report status", "New"),
    "in_progress": _lp("report status", "In progress"),
    "closed": _lp("report status", "Closed"),
}
SOURCE_LABELS = {
    "text": _lp("report place", "named in the report"),
    "registered": _lp("report place", "the sender's registered place"),
    "none": _lp("report place", "unknown"),
}
SMS_LABELS = {
    "queued": _lp("reply sms", "waiting for the gateway"),
    "sending": _lp("reply sms", "sending"),
    "sent": _lp("reply sms", "sent"),
    "failed": _lp("reply sms", "not sent"),
}


@bp.app_context_processor
def _labels() -> dict:
    return {
        "report_status_label": lambda s: str(STATUS_LABELS.get(s, s)),
        "report_source_label": lambda s: str(SOURCE_LABELS.get(s, s)),
        "reply_sms_label": lambda s: str(SMS_LABELS.get(s, s)),
    }


def _full() -> bool:
    return reports.sees_phone(current_user.role)


def _local_day(name: str, next_day: bool = False) -> datetime | None:
    """A date input's day in the city's time zone (its start; the next day's start for "until")."""
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        day = datetime.strptime(raw[:10], "%Y-%m-%d")
    except ValueError:
        return None
    if next_day:
        day += timedelta(days=1)
    return localtime.bound_from_local(day, current_app.config["SYRENA"].app.timezone)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _point_features(rows: list, full: bool) -> dict[str, Any]:
    features = []
    for r in rows:
        address, lat, lon = reports.shown_place(r, full)
        if lat is None or lon is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "id": r.id,
                    "status": r.status,
                    "label": f"#{r.id} · {STATUS_LABELS.get(r.status, r.status)} · {address or ''}",
                    "url": url_for("reports_ui.report_detail", report_id=r.id),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@bp.get("/")
@roles_required(Role.OPERATOR, Role.APPROVER)
def report_list():
    session = db()
    status = request.args.get("status") if request.args.get("status") in reports.STATUSES else None
    zone_id = _int_arg("zone")
    since, until = _local_day("since"), _local_day("until", next_day=True)
    page = max(min(_int_arg("page") or 1, 100_000), 1)
    total, rows = reports.list_reports(session, status, zone_id, since, until, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    _all, located = reports.list_reports(session, status, zone_id, since, until, MAP_MAX, 0)
    full = _full()
    args = {k: v for k, v in request.args.items() if k in ("status", "zone", "since", "until") and v}
    return render_template(
        "reports/list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        args=args,
        status=status,
        zone_id=zone_id,
        statuses=reports.STATUSES,
        counts=reports.status_counts(session),
        zones=zones.list_zones(session),
        zone_names=reports.zone_names(session, [r.zone_id for r in rows]),
        users=reports.user_emails(session, [r.assignee_id for r in rows]),
        full=full,
        map_geojson=_point_features(located, full),
        map_options=_map_options(),
    )


def _report_or_404(report_id: int):
    try:
        return reports.get_report(db(), report_id)
    except ReportNotFound:
        abort(404)


@bp.get("/<int:report_id>")
@roles_required(Role.OPERATOR, Role.APPROVER)
def report_detail(report_id: int):
    session = db()
    report = _report_or_404(report_id)
    full = _full()
    address, lat, lon = reports.shown_place(report, full)
    settings = current_app.config["SYRENA"]
    return render_template(
        "reports/detail.html",
        report=report,
        full=full,
        phone=report.phone if full else masked_phone(report.phone),
        address=address,
        lat=lat,
        lon=lon,
        zone_names=reports.zone_names(session, [report.zone_id]),
        users=reports.user_emails(session, reports.people_of([report])),
        assignable=reports.assignable_users(session) if full else [],
        statuses=reports.STATUSES,
        max_parts=settings.campaigns.max_parts,
        map_geojson=_point_features([report], full),
        map_options=_map_options(),
    )


def _explain(e: InvalidReportChange) -> str:
    """The domain's refusal, in the user's language (the API says it in English, naming the field)."""
    settings = current_app.config["SYRENA"]
    return {
        "status": _("Choose one of the statuses."),
        "assignee_id": _("Choose an active operator or administrator."),
        "note": _("Write the note: at most %(n)s characters, no control characters.", n=reports.MAX_NOTE),
        "body": _("Write the reply: at most %(n)s SMS parts, no control characters.", n=settings.campaigns.max_parts),
    }.get(e.field, str(e))


def _back(report_id: int):
    return redirect(url_for("reports_ui.report_detail", report_id=report_id))


def _change(report_id: int, done: str, **changes: Any):
    """Apply a change from the report's page and come back to it, saying what happened."""
    session = db()
    _report_or_404(report_id)
    try:
        reports.update_report(session, report_id, current_user, **changes)
    except InvalidReportChange as e:
        session.rollback()
        flash(_explain(e), "error")
        return _back(report_id)
    session.commit()
    flash(done, "success")
    return _back(report_id)


@bp.post("/<int:report_id>/update")
@roles_required(Role.OPERATOR)
def update(report_id: int):
    changes: dict[str, Any] = {}
    if "status" in request.form:
        changes["status"] = request.form["status"]
    if "assignee_id" in request.form:
        changes["assignee_id"] = request.form["assignee_id"] or None
    return _change(report_id, _("The report was updated."), **changes)


@bp.post("/<int:report_id>/note")
@roles_required(Role.OPERATOR)
def add_note(report_id: int):
    return _change(report_id, _("The note was added."), note=request.form.get("note", ""))


@bp.post("/<int:report_id>/reply")
@roles_required(Role.OPERATOR)
def reply(report_id: int):
    session = db()
    _report_or_404(report_id)
    settings = current_app.config["SYRENA"]
    try:
        submit_report_reply(
            session,
            settings.redis.url,
            report_id,
            current_user,
            request.form.get("body", ""),
            settings.campaigns.max_parts,
        )
    except InvalidReportChange as e:
        session.rollback()
        flash(_explain(e), "error")
        return _back(report_id)
    flash(_("The reply is on its way to the reporter's phone."), "success")
    return _back(report_id)
