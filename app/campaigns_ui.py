"""The campaign composer, the approval (review) page and the list of campaigns.

The composer's live counter, preview and save talk JSON to the routes below with the staff session and a
CSRF token; they call the same domain functions as the REST API (campaigns.service), so what the page
shows is what the API would answer. Approving, rejecting, overriding, sending and follow-ups are plain
forms on the review page, each one call of campaigns.workflow (as in the API). Sending and watching live
belong to the campaign page (admin.campaign_detail).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import previews, time_to_warn
from app.auth import roles_required
from app.database import db
from app.zones_ui import DEFAULT_VIEW
from campaigns import cap, composition, exercises, overrides, questions, targeting, templates, workflow
from campaigns import service as campaigns
from campaigns.exceptions import (
    ApprovalForbidden,
    CampaignError,
    CampaignNotFound,
    CampaignStateError,
    InvalidCampaign,
)
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Severity
from subscribers.service import TOPICS
from syrena_core import localtime
from syrena_core.accounts import Role
from syrena_core.db import utcnow
from zones import service as zones

bp = Blueprint("campaigns_ui", __name__, url_prefix="/campaigns")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
URGENCY_LABELS = {
    "immediate": _l("Immediate"),
    "expected": _l("Expected"),
    "future": _l("Future"),
    "past": _l("Past"),
    "unknown": _l("Unknown"),
}
CERTAINTY_LABELS = {
    "observed": _l("Observed"),
    "likely": _l("Likely"),
    "possible": _l("Possible"),
    "unlikely": _l("Unlikely"),
    "unknown": _l("Unknown"),
}
TOPIC_LABELS = {"water": _l("Water"), "traffic": _l("Traffic"), "weather": _l("Weather"), "events": _l("Events")}
LANGUAGE_LABELS = {"en": _l("English"), "uk": _l("Ukrainian"), "de": _l("German")}
LANGUAGE_NAMES = {"pl": _l("Polish"), **LANGUAGE_LABELS}
MSG_TYPE_LABELS = {"Alert": _l("Alert"), "Update": _l("Update"), "Cancel": _l("All-clear")}


def _now() -> datetime:
    return current_app.config.get("SYRENA_CLOCK", utcnow)()


def _settings():
    return current_app.config["SYRENA"]


def _error(e: Exception):
    db().rollback()
    status = (
        404
        if isinstance(e, CampaignNotFound)
        else 403
        if isinstance(e, ApprovalForbidden)
        else 409
        if isinstance(e, CampaignStateError)
        else 422
    )
    return jsonify({"error": {"code": type(e).__name__, "message": str(e), "details": None}}), status


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _map_options() -> dict[str, Any]:
    settings = _settings()
    return {
        "tiles": current_app.config.get("MAP_TILE_URL", settings.map.tile_url),
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION", settings.map.tile_attribution),
        "view": DEFAULT_VIEW,
    }


def _campaign(campaign_id: int) -> Campaign:
    try:
        return campaigns.get_campaign(db(), campaign_id)
    except CampaignNotFound:
        abort(404)


def _date(raw: str | None) -> datetime | None:
    """A list filter's date (or time) as typed: the city's midnight (or wall-clock time), in UTC."""
    if not raw:
        return None
    try:
        wall = datetime.fromisoformat(raw)
    except ValueError:
        return None
    try:
        return localtime.bound_from_local(wall, _settings().app.timezone)
    except OverflowError:  # year 1 or 9999 in Warsaw lies outside what UTC can hold: no such filter
        return None


def _local_input(raw: Any) -> Any:
    """The composer's "send later" (a datetime-local value, "2027-03-28T02:30", no offset) is the city's wall-clock
    time: handed on as ISO 8601 in UTC. A time with an offset passes as it is; one that does not parse is left to
    the schema, which says what is wrong with it."""
    if not isinstance(raw, str) or not raw:
        return raw
    try:
        wall = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    try:
        return localtime.from_local(wall, _settings().app.timezone).isoformat()
    except OverflowError:
        raise InvalidCampaign("scheduled_for is out of range") from None
    except localtime.NonexistentLocalTime as e:
        moment, start, end = (
            e.moment.strftime("%Y-%m-%d %H:%M"),
            e.gap_start.strftime("%H:%M"),
            e.gap_end.strftime("%H:%M"),
        )
        raise InvalidCampaign(
            _(
                "%(time)s does not exist in %(zone)s: that night the clocks go forward from %(start)s to %(end)s. "
                "Choose %(end)s or later.",
                time=moment,
                zone=e.zone,
                start=start,
                end=end,
            )
        ) from None


@bp.get("/")
@roles_required(*STAFF)
def campaign_list():
    status, kind = request.args.get("status") or None, request.args.get("kind") or None
    if status not in {s.value for s in CampaignStatus}:
        status = None
    if kind not in {k.value for k in CampaignKind}:
        kind = None
    since, until = _date(request.args.get("since")), _date(request.args.get("until"))
    listed = campaigns.list_campaigns(db(), limit=200, status=status, kind=kind, since=since, until=until)
    progress = campaigns.campaign_progress(db(), [c.id for c in listed])
    return render_template(
        "campaigns/list.html",
        rows=[(c, progress[c.id]) for c in listed],
        statuses=[s.value for s in CampaignStatus],
        kinds=[k.value for k in CampaignKind],
        filters={
            "status": status or "",
            "kind": kind or "",
            "since": request.args.get("since", ""),
            "until": request.args.get("until", ""),
        },
        msg_type_labels=MSG_TYPE_LABELS,
    )


def _compose_page(campaign: Campaign | None):
    session = db()
    live = zones.list_zones(session)
    hazard_templates = [templates.template_json(t) for t in templates.list_templates(session)]  # issue 16
    session.commit()  # the first read writes the shipped templates
    settings = _settings()
    initial = None
    if campaign is not None:
        initial = {"id": campaign.id, **campaigns.input_json(campaign)}  # campaign-compose.js's load()
        if campaign.scheduled_for:  # the datetime-local input's value: the city's wall-clock time
            local = localtime.to_local(campaign.scheduled_for, settings.app.timezone)
            initial["scheduled_for_local"] = f"{local:%Y-%m-%dT%H:%M}"
    return render_template(
        "campaigns/compose.html",
        campaign=campaign,
        initial=initial,
        zones_geojson=zones.feature_collection(live, {}),
        map_options=_map_options(),
        severities=[s.value for s in Severity],
        kinds=[k.value for k in CampaignKind],
        urgencies=campaigns.URGENCIES,
        certainties=campaigns.CERTAINTIES,
        topics=TOPICS,
        topic_labels=TOPIC_LABELS,
        urgency_labels=URGENCY_LABELS,
        certainty_labels=CERTAINTY_LABELS,
        variant_languages=LANGUAGE_LABELS,
        max_parts=settings.campaigns.max_parts,
        placeholders=composition.PLACEHOLDERS,
        exercise_prefix=exercises.prefix("exercise", "pl"),
        hazard_templates=hazard_templates,
        value_placeholders=["zones", *(p for p in composition.PLACEHOLDERS if p not in composition.AUTOMATIC)],
        language_names=LANGUAGE_NAMES,
    )


@bp.get("/new")
@roles_required(Role.OPERATOR)
def compose():
    return _compose_page(None)


@bp.get("/<int:campaign_id>/edit")
@roles_required(Role.OPERATOR)
def edit(campaign_id: int):
    campaign = _campaign(campaign_id)
    if campaign.status not in campaigns.EDITABLE:
        flash(_("Only drafts and rejected campaigns can be edited."), "error")
        return redirect(url_for("campaigns_ui.review", campaign_id=campaign_id))
    return _compose_page(campaign)


@bp.post("/analyse")
@roles_required(Role.OPERATOR)
def analyse():
    """The live counter: characters, parts, encoding, the characters forcing UCS-2, the transliteration."""
    text = _body().get("text")
    text = text if isinstance(text, str) else ""
    longest = campaigns.longest_text(_settings().campaigns)
    if len(text) > longest:  # counted before encoding: the encoder's work grows with the text
        return jsonify(
            {
                "error": {
                    "code": "invalid_campaign",
                    "message": _("The text has %(n)s characters; at most %(max)s fit.", n=len(text), max=longest),
                }
            }
        ), 422
    offer = composition.offer_transliteration(text)
    price = _settings().billing.price_per_part
    return jsonify(
        {
            **offer.before.as_dict(),
            "max_parts": _settings().campaigns.max_parts,
            "transliteration": {
                "text": offer.text,
                **offer.after.as_dict(),
                "parts_saved_per_recipient": offer.before.parts - offer.after.parts,
                "price_per_part": str(price),
            },
        }
    )


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in campaigns.FIELDS}
    for key in ("title", "template", "event", "sender_id", "department", "topic", "scheduled_for"):
        if data.get(key) == "":
            data[key] = None
    if "scheduled_for" in data:
        data["scheduled_for"] = _local_input(data["scheduled_for"])
    return data


@bp.post("/area-from-text")
@roles_required(Role.OPERATOR)
def area_from_text():
    """The composer's pasted area (GeoJSON or "lat, lon" lines) as GeoJSON geometries, or a readable error."""
    typed = _body().get("text")
    try:
        areas = targeting.areas_from_text(typed if isinstance(typed, str) else "", _settings().zones)
    except CampaignError as e:
        return _error(e)
    return jsonify({"areas": areas})


@bp.post("/preview")
@roles_required(Role.OPERATOR)
def preview():
    settings = _settings()
    wait = previews.over_budget(current_user.id)
    if wait is not None:
        return previews.too_many(wait)
    try:
        campaign, result = campaigns.draft_preview(
            db(),
            current_user,
            _clean(_body()),
            settings.campaigns,
            settings.billing,
            settings.zones.preview_limits(),
            _now(),
        )
        target = targeting.target_geojson(db(), campaign.zones, campaign.area_spec)
        estimate = time_to_warn.estimate(campaign, result.total_parts)
    except CampaignError as e:
        return _error(e)
    db().rollback()
    return jsonify(
        {
            **result.as_dict(),
            "warnings": _warnings(result),
            "encoding": campaign.encoding,
            "parts_per_message": campaign.parts_per_message,
            "target": target,
            "hazard": campaigns.hazard_of(campaign),
            "time_to_warn_s": estimate.seconds,
            "time_to_warn": time_to_warn.display(estimate),
            # What each language's recipients get, with the question's answer lines (issue 15).
            "sms_texts": questions.sms_texts(campaign),
        }
    )


def _warnings(result: campaigns.Preview) -> list[str]:
    warnings = [_("No active subscriber is in the target: sending reaches nobody.")] if result.recipients == 0 else []
    for language, text in result.texts.items():  # issue 16: a filled placeholder pushed a text over a part boundary
        if "parts_unfilled" in text:
            warnings.append(
                _(
                    "The %(language)s text needs %(after)s SMS part(s) once its placeholders are filled "
                    "(%(before)s with them unfilled): the values push it over a part boundary.",
                    language=LANGUAGE_NAMES.get(language, language),
                    after=text["parts"],
                    before=text["parts_unfilled"],
                )
            )
    return warnings


@bp.post("/save")
@roles_required(Role.OPERATOR)
def save():
    session = db()
    settings = _settings()
    campaign_id = _body().get("id")
    try:
        data = _clean(_body())
        if campaign_id:
            campaign = campaigns.update_campaign(
                session,
                campaigns.get_campaign(session, int(campaign_id)),
                current_user,
                data,
                settings.campaigns,
                settings.zones,
                _now(),
            )
        else:
            campaign = campaigns.create_draft(
                session, current_user, data, settings=settings.campaigns, zone_limits=settings.zones, now=_now()
            )
    except (CampaignError, ValueError) as e:
        return _error(e)
    session.commit()
    return jsonify({"id": campaign.id, "url": url_for("campaigns_ui.review", campaign_id=campaign.id)}), 200


@bp.get("/<int:campaign_id>/review")
@roles_required(*STAFF)
def review(campaign_id: int):
    session = db()
    campaign = _campaign(campaign_id)
    settings = _settings()
    result = campaigns.preview(session, campaign, settings.billing, _now())
    target = targeting.campaign_target_geojson(session, campaign)  # frozen at submit: what is approved
    hazard = campaigns.hazard_of(campaign)
    if hazard is not None:  # shown on the map as a point
        target["features"].append(
            {
                "type": "Feature",
                "properties": {"kind": "hazard", "name": _("Hazard point")},
                "geometry": {"type": "Point", "coordinates": [hazard["lon"], hazard["lat"]]},
            }
        )
    estimate = time_to_warn.display(
        time_to_warn.estimate(campaign, result.total_parts if campaign.sent_at is None else None)
    )
    session.commit()  # the first preview may record the configured tariff
    own = current_user.id in campaigns.editors(campaign)
    pending = campaign.status == CampaignStatus.PENDING_APPROVAL.value
    needs = campaigns.needs_approval(campaign, settings.campaigns)
    can = workflow.review_actions(campaign, current_user, settings.campaigns)
    return render_template(
        "campaigns/review.html",
        campaign=campaign,
        preview=result,
        target=target,
        warnings=_warnings(result),
        time_to_warn=estimate,
        hazard=hazard,
        map_options=_map_options(),
        can=can,
        own=own and pending,
        needs_approval=needs,
        template_version=campaign.template_version,  # issue 16: the hazard template it was made from
        preapproved=settings.campaigns.require_approval and templates.skips_approval(campaign) is not None,
        urgency_labels=URGENCY_LABELS,
        certainty_labels=CERTAINTY_LABELS,
        topic_labels=TOPIC_LABELS,
        language_labels=LANGUAGE_LABELS,
        msg_type_labels=MSG_TYPE_LABELS,
        sms_texts=questions.sms_texts(campaign),  # with the question's answer lines: what the approver approves
    )


@bp.post("/<int:campaign_id>/<any(submit, approve, reject, override, send, update, 'all-clear'):action>")
@roles_required(Role.OPERATOR, Role.APPROVER)
def act(campaign_id: int, action: str):
    session = db()
    settings = _settings()
    campaign = _campaign(campaign_id)
    reason = request.form.get("reason", "")
    target = campaign
    started = False
    try:
        if action in ("submit", "send", "update", "all-clear") and not current_user.has_role(Role.OPERATOR):
            raise ApprovalForbidden(_("Only operators may do this."))
        if action in ("approve", "reject") and not current_user.has_role(Role.APPROVER):
            raise ApprovalForbidden(_("Only approvers may approve or reject."))
        if action == "submit":
            workflow.submit(session, campaign, current_user)
            message = _("Submitted for approval.")
        elif action == "reject":
            workflow.reject(session, campaign, current_user, reason)
            message = _("Campaign rejected.")
        elif action in ("approve", "override", "send"):
            if action == "approve":
                started = workflow.approve(session, campaign, current_user, settings, _now())
            elif action == "override":
                started = workflow.override(session, campaign, current_user, reason, settings, _now())
            else:
                started = workflow.send(session, campaign, current_user, settings, _now())
            message = (
                _("Sending started.")
                if started
                else _(
                    "Scheduled for %(at)s.",
                    at=localtime.local_text(campaign.scheduled_for, settings.app.timezone),
                )
            )
        else:
            follow = workflow.follow_up(
                session,
                campaign,
                current_user,
                "Cancel" if action == "all-clear" else "Update",
                {"body": request.form.get("body", "")},
                settings,
                _now(),
            )
            target, started = follow.campaign, follow.started
            message = (
                _("The follow-up waits for approval by a second person.")
                if follow.awaiting_approval
                else _("Sending started.")
                if started
                else _("Scheduled.")
            )
    except (CampaignError, ValueError) as e:
        session.rollback()
        flash(str(e), "error")
        return redirect(url_for("campaigns_ui.review", campaign_id=campaign_id))
    flash(message, "success")
    if started:
        return redirect(url_for("admin.campaign_detail", campaign_id=target.id))
    return redirect(url_for("campaigns_ui.review", campaign_id=target.id))


@bp.app_context_processor
def _override_banner() -> dict[str, Any]:
    # A callable: only pages of a logged-in approver query it (base.html).
    return {"unacknowledged_overrides": lambda: overrides.unacknowledged(db())}


@bp.post("/<int:campaign_id>/acknowledge-override")
@roles_required(Role.APPROVER)
def acknowledge_override(campaign_id: int):
    session = db()
    try:
        overrides.acknowledge(session, _campaign(campaign_id), current_user)
    except CampaignError as e:
        session.rollback()
        flash(str(e), "error")
    else:
        session.commit()
        flash(_("Override acknowledged."), "success")
    return redirect(url_for("admin.dashboard"))


@bp.get("/<int:campaign_id>/cap.xml")
@roles_required(*STAFF)
def cap_xml(campaign_id: int):
    return Response(cap.build_cap(db(), _campaign(campaign_id), _settings().campaigns), mimetype="application/xml")
