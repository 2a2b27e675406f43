"""The admin UI for crisis staff, approvers and finance."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app import replies_ui, time_to_warn, timeline_ui
from app.auth import roles_required
from app.database import db
from campaigns import control, targeting, workflow
from campaigns import service as campaigns
from campaigns.delivery import delivery_stats
from campaigns.exceptions import CampaignNotFound, CampaignStateError
from campaigns.models import Campaign, CampaignStatus, MessageStatus
from subscribers.models import SubscriberStatus
from subscribers.service import count_by_status
from syrena_core import localtime
from syrena_core.accounts import Role
from zones import reach
from zones import service as zones
from zones.geometry import to_geojson

bp = Blueprint("admin", __name__)

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
LATEST_CAMPAIGNS = 25

# Leaflet comes from npm (package.json → node_modules, installed by `make assets` beside Leaflet-Geoman, which needs
# the same copy), served from here: no CDN, crisis rooms may be offline.
LEAFLET_DIR = Path(__file__).resolve().parent.parent / "node_modules" / "leaflet" / "dist"
# Background map tiles come from [map] in the settings (MAP_TILE_URL in the Flask config overrides it);
# optional: the zones are drawn on a plain background when tiles cannot load.
# Where an empty map looks when there is no zone yet (Poznań).
DEFAULT_VIEW = {"lat": 52.4064, "lon": 16.9252, "zoom": 11}

CAMPAIGN_STATUS_LABELS = {
    CampaignStatus.DRAFT.value: _l("Draft"),
    CampaignStatus.PENDING_APPROVAL.value: _l("Awaiting approval"),
    CampaignStatus.APPROVED.value: _l("Approved"),
    CampaignStatus.REJECTED.value: _l("Rejected"),
    CampaignStatus.SCHEDULED.value: _l("Scheduled"),
    CampaignStatus.SENDING.value: _l("Sending"),
    CampaignStatus.PAUSED.value: _l("Paused"),
    CampaignStatus.COMPLETED.value: _l("Completed"),
    CampaignStatus.CANCELLED.value: _l("Cancelled"),
}
MESSAGE_STATUS_LABELS = {
    MessageStatus.QUEUED.value: _l("Queued"),
    MessageStatus.SUBMITTING.value: _l("Submitting"),
    MessageStatus.SUBMITTED.value: _l("Submitted"),
    MessageStatus.DELIVERED.value: _l("Delivered"),
    MessageStatus.FAILED.value: _l("Failed"),
    MessageStatus.EXPIRED.value: _l("Expired"),
    MessageStatus.CANCELLED.value: _lp("message status", "Cancelled"),
}
SUBSCRIBER_STATUS_LABELS = {
    SubscriberStatus.ACTIVE.value: _l("Active"),
    SubscriberStatus.PENDING.value: _l("Awaiting confirmation"),
    SubscriberStatus.UNSUBSCRIBED.value: _l("Unsubscribed"),
}
KIND_LABELS = {"alert": _l("Alert"), "info": _l("Information")}
SEVERITY_LABELS = {"extreme": _l("Extreme"), "severe": _l("Severe"), "moderate": _l("Moderate"), "minor": _l("Minor")}
ROLE_LABELS = {
    Role.ADMIN.value: _l("Administrator"),
    Role.OPERATOR.value: _l("Operator"),
    Role.APPROVER.value: _l("Approver"),
    Role.FINANCE.value: _l("Finance"),
}
LANGUAGE_NAMES = {"pl": "Polski", "en": "English", "uk": "Українська"}
# Campaigns in these states change no more: the detail page stops polling.
FINAL_CAMPAIGN_STATUSES = (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value)


def _label(labels: dict[str, Any], value: str | None) -> str:
    return str(labels.get(value, value or "—"))


# ------------------------------------------------------------------ template helpers
@bp.app_context_processor
def _ui_context() -> dict[str, Any]:
    settings = current_app.config["SYRENA"]
    return {
        "current_language": str(get_locale() or settings.app.default_language),
        "languages": [(code, LANGUAGE_NAMES.get(code, code.upper())) for code in settings.app.languages],
        "role_label": lambda role: _label(ROLE_LABELS, role),
        "campaign_status_label": lambda s: _label(CAMPAIGN_STATUS_LABELS, s),
        "message_status_label": lambda s: _label(MESSAGE_STATUS_LABELS, s),
        "subscriber_status_label": lambda s: _label(SUBSCRIBER_STATUS_LABELS, s),
        "kind_label": lambda k: _label(KIND_LABELS, k),
        "severity_label": lambda s: _label(SEVERITY_LABELS, s),
        "message_statuses": [s.value for s in MessageStatus],
        "currency": settings.billing.currency,
        "timezone": settings.app.timezone,  # for scripts that show times: <body data-timezone>
    }


def _zone_name() -> str:
    return current_app.config["SYRENA"].app.timezone


def _moment(value: datetime | str | None) -> datetime | None:
    """A stored time (aware, or naive UTC), or an ISO 8601 string such as a status snapshot's."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if value else None
        except ValueError:
            return None
    return value


@bp.app_template_filter("localtime")
def localtime_filter(value: datetime | str | None, seconds: bool = False) -> str:
    """Times are stored in UTC and shown in [app] timezone with the zone's abbreviation ("2026-12-06 23:15 CET"):
    a crisis log must not be ambiguous, not even in the hour repeated when the clocks go back."""
    moment = _moment(value)
    return "—" if moment is None else localtime.local_text(moment, _zone_name(), seconds)


@bp.app_template_filter("isotime")
def isotime_filter(value: datetime | str | None) -> str:
    """The machine form for <time datetime="…">: ISO 8601 with the local offset."""
    moment = _moment(value)
    return "" if moment is None else localtime.local_iso(moment, _zone_name())


def money(value: Decimal | int | None) -> str:
    """Locale-aware, at least 2 and at most 4 decimals (per-part prices may have 4), with the currency."""
    amount = Decimal(value or 0)
    return f"{format_decimal(amount, format='#,##0.00##')} {current_app.config['SYRENA'].billing.currency}"


bp.add_app_template_filter(money, "money")


@bp.app_template_filter("number")
def number_filter(value: int | None) -> str:
    return "—" if value is None else format_decimal(value)


# ------------------------------------------------------------------ errors
_ERROR_TEXT = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. If you sent a form, reload the page and try again."),
    ),
    403: (_l("Access denied"), _l("Your role does not allow you to see this page.")),
    404: (
        _l("Page not found"),
        _l("There is nothing at this address. It may have been removed, or the link is wrong."),
    ),
    405: (_l("Method not allowed"), _l("This address does not accept this kind of request.")),
    500: (_l("Server error"), _l("Something went wrong on our side. The error has been logged.")),
}


@bp.app_errorhandler(HTTPException)
def _http_error(e: HTTPException):
    """Staff see a page in their language; API clients (and JSON endpoints) get the API's JSON error shape.
    The API blueprint's own handler runs first for its views; this catches its unrouted paths."""
    code = e.code or 500
    if code < 400:
        return e
    if request.path.startswith("/api/") or request.path.endswith(".json"):
        return jsonify(
            {
                "error": {
                    "code": (e.name or "error").lower().replace(" ", "_"),
                    "message": e.description,
                    "details": None,
                }
            }
        ), code
    title, text = _ERROR_TEXT.get(code, (e.name, e.description))
    return render_template("error.html", code=code, title=title, text=text), code


# ------------------------------------------------------------------ assets
@bp.get("/static/vendor/leaflet/<path:filename>")
def leaflet_asset(filename: str):
    if not LEAFLET_DIR.is_dir():
        current_app.logger.error("Leaflet is not installed in %s: run `make assets`", LEAFLET_DIR)
        abort(404)
    return send_from_directory(LEAFLET_DIR, filename, max_age=7 * 24 * 3600)


def _map_options() -> dict[str, Any]:
    tiles = current_app.config["SYRENA"].map
    return {
        "tiles": current_app.config.get("MAP_TILE_URL", tiles.tile_url),
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION", tiles.tile_attribution),
        "view": DEFAULT_VIEW,
    }


# A resident's first SMS, as the dashboard shows it (an address of the demo city).
EXAMPLE_PHONE, EXAMPLE_TEXT = "+48600100200", "ZAPISZ Głogowska 10"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _try_it() -> dict[str, Any]:
    """Where a new user sees the product as residents do: the public pages, the API documentation and, while
    the SMSC is the bundled simulator on this host, a resident's SMS faked through its POST /mo."""
    settings = current_app.config["SYRENA"]
    mo = None
    if settings.smsc.host in _LOOPBACK:
        mo_body = {"from": EXAMPLE_PHONE, "to": settings.smsc.source_addr, "text": EXAMPLE_TEXT}
        body = json.dumps(mo_body, ensure_ascii=False)
        simulator = f"http://127.0.0.1:{settings.simulator.control_port}"
        mo = {
            "send": f"curl -X POST {simulator}/mo -H 'Content-Type: application/json' -d {shlex.quote(body)}",
            "read": f"curl {simulator}/messages",
        }
    return {"mo": mo, "api_docs": "/api/docs"}


# ------------------------------------------------------------------ pages
@bp.get("/")
@roles_required(*STAFF)
def dashboard():
    session = db()
    counts = reach.active_subscribers_per_zone(session)
    zone_rows = [(z, counts.get(z.id, 0)) for z in zones.list_zones(session)]
    zones_geojson = {
        "type": "FeatureCollection",
        "features": [zones.zone_feature(z, {"subscribers": n}) for z, n in zone_rows],
    }
    latest = campaigns.list_campaigns(session, LATEST_CAMPAIGNS)
    progress = campaigns.campaign_progress(session, [c.id for c in latest])
    campaign_rows = [(c, progress[c.id].counts, progress[c.id].cost) for c in latest]
    by_status = count_by_status(session)
    subscriber_totals = [
        (s.value, by_status.get(s.value, 0))
        for s in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED)
    ]
    subscriber_totals += [(s, n) for s, n in sorted(by_status.items()) if s not in dict(subscriber_totals)]
    return render_template(
        "dashboard.html",
        zones=zone_rows,
        zones_geojson=zones_geojson,
        campaigns=campaign_rows,
        subscriber_totals=subscriber_totals,
        subscribers_total=sum(by_status.values()),
        map_options=_map_options(),
        try_it=_try_it(),
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    try:
        return campaigns.get_campaign(db(), campaign_id)
    except CampaignNotFound:
        abort(404)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{value:.1f} s"


def _progress(campaign: Campaign) -> dict[str, Any]:
    progress = campaigns.campaign_progress(db(), [campaign.id])[campaign.id]
    counts, cost = progress.counts, progress.cost
    total = sum(counts.values())
    unsent = counts.get("queued", 0) + counts.get("submitting", 0)
    stats = delivery_stats(db(), campaign.id, campaign.sent_at, campaign.completed_at, total, unsent)
    final = campaign.status in FINAL_CAMPAIGN_STATUSES
    delivered = counts.get("delivered", 0)
    # Time to warn (issue 14): the same estimate as the API's `eta` (campaigns.estimates), live while sending.
    warn = (
        time_to_warn.display(time_to_warn.estimate(campaign))
        if campaign.status in (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value)
        else None
    )
    return {
        "id": campaign.id,
        "status": campaign.status,
        "status_label": _label(CAMPAIGN_STATUS_LABELS, campaign.status),
        "final": final,
        "recipients": campaign.recipients,
        "counts": counts,
        "total": total,
        "cost": str(cost),
        "cost_display": money(cost),
        # Live figures (rate over the last seconds, ETA at that rate) and the timings of the final report.
        "rate": round(stats.rate, 1),
        "rate_display": _("%(rate)s msg/s", rate=format_decimal(round(stats.rate, 1))),
        "eta_seconds": stats.eta_seconds,
        "eta_display": _seconds(stats.eta_seconds),
        "time_to_warn_s": warn["seconds"] if warn else None,
        "time_to_warn_display": f"{warn['duration']} · {warn['last_at']}" if warn else "—",
        "time_to_warn_notes": " ".join(warn["notes"]) if warn else "",
        "time_to_50": stats.time_to_50,
        "time_to_50_display": _seconds(stats.time_to_50),
        "time_to_95": stats.time_to_95,
        "time_to_95_display": _seconds(stats.time_to_95),
        "duration": stats.duration,
        "duration_display": _seconds(stats.duration),
        "delivery_rate": round(delivered / total, 4) if total else None,
        "delivery_rate_display": f"{format_decimal(round(100 * delivered / total, 1))} %" if total else "—",
        "first_submitted_at": isotime_filter(stats.first_submitted_at) or None,
        "last_submitted_at": isotime_filter(stats.last_submitted_at) or None,
        "completed_at": isotime_filter(campaign.completed_at) or None,
        "completed_display": localtime_filter(campaign.completed_at, seconds=True),
        # Which control buttons apply now (the page shows only those).
        "actions": control.actions(campaign, counts.get("failed", 0)),
    }


@bp.get("/campaigns/<int:campaign_id>")
@roles_required(*STAFF)
def campaign_detail(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    counts = reach.active_subscribers_per_zone(db())
    features = [zones.zone_feature(z, {"subscribers": counts.get(z.id, 0)}) for z in campaign.zones]
    approved = {zone_id: geom for zone_id, _name, geom in targeting.target_zones(campaign)}
    for feature in features:  # the frozen copy (issue 19): the shape that was approved and sent
        if feature["id"] in approved:
            feature["geometry"] = to_geojson(approved[feature["id"]])
    zones_geojson = {"type": "FeatureCollection", "features": features}
    return render_template(
        "campaign.html",
        campaign=campaign,
        progress=_progress(campaign),
        zone_counts=counts,
        zones_geojson=zones_geojson,
        map_options=_map_options(),
        timeline=timeline_ui.page(campaign),  # how long each step took (issue 16)
        **replies_ui.page_context(campaign),  # issue 15: the replies to its question, if it asked one
    )


@bp.get("/campaigns/<int:campaign_id>/progress.json")
@roles_required(*STAFF)
def campaign_progress(campaign_id: int):
    """What the detail page polls: the API wants bearer tokens, this one the staff session cookie."""
    response = jsonify(_progress(_campaign_or_404(campaign_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


_CONTROL = {
    "pause": (lambda s, c, user: workflow.pause(s, c, user), _l("The campaign is paused: no new messages go out.")),
    "resume": (lambda s, c, user: workflow.resume(s, c, user, current_app.config["SYRENA"]), _l("Sending resumed.")),
    "cancel": (
        lambda s, c, user: workflow.cancel(s, c, user, request.form.get("reason", "").strip()[:500] or None),
        _l("The campaign is cancelled: messages not yet sent will not go out."),
    ),
    "resend-failed": (
        lambda s, c, user: workflow.resend_failed(s, c, user, current_app.config["SYRENA"]),
        _l("The failed messages are being sent again."),
    ),
}


@bp.post("/campaigns/<int:campaign_id>/<any(pause, resume, cancel, 'resend-failed'):action>")
@roles_required(Role.OPERATOR, Role.APPROVER)
def campaign_control(campaign_id: int, action: str):
    """The buttons of the campaign page (forms with a CSRF token); the API offers the same."""
    session = db()
    campaign = _campaign_or_404(campaign_id)
    do, done = _CONTROL[action]
    try:
        do(session, campaign, current_user)
    except CampaignStateError as e:
        session.rollback()
        flash(_("This cannot be done now: %(reason)s", reason=str(e)), "error")
        return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))
    flash(str(done), "success")
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))
