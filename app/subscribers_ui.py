"""Admin pages about residents: a searchable list (per zone too), a subscriber's places and zones on the
map, the audited erase, and importing an existing registry from CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from geoalchemy2.shape import to_shape

from app.admin import _map_options
from app.auth import roles_required
from app.database import db
from subscribers.exceptions import SubscriberError
from subscribers.models import Subscriber, SubscriberStatus
from subscribers.phones import mask_phone, masked_phone
from subscribers.registry import import_registry
from subscribers.service import (
    erase_subscriber,
    search_subscribers,
    zone_code,
    zones_of_subscriber,
)
from syrena_core.accounts import Role
from syrena_core.audit import record
from zones import reach
from zones import service as zones

bp = Blueprint("subscribers_ui", __name__, url_prefix="/subscribers")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
PAGE_SIZE = 50
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def sees_personal_data() -> bool:
    """Operators and admins see residents' numbers and places in full; finance and approvers see numbers masked
    ("+48 601 *** *12") and no places — they need counts and zones, not where a resident lives."""
    return current_user.has_role(Role.OPERATOR)


def shown_phone(phone: str | None) -> str:
    return (phone or "—") if sees_personal_data() else masked_phone(phone)


@bp.app_context_processor
def _personal_data_context() -> dict:
    return {"shown_phone": shown_phone, "sees_personal_data": sees_personal_data}


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/")
@roles_required(*STAFF)
def subscriber_list():
    session = db()
    # Searching by address or number would tell those who see neither where a resident lives: theirs is by
    # status and zone only.
    query = request.args.get("q", "")[:100] if sees_personal_data() else ""
    status = request.args.get("status") if request.args.get("status") in {s.value for s in SubscriberStatus} else None
    zone_id = _int_arg("zone")
    page = max(_int_arg("page") or 1, 1)
    total, rows = search_subscribers(session, query, status, zone_id, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    per_zone = reach.active_subscribers_per_zone(session)
    zone_rows = [(z, per_zone.get(z.id, 0)) for z in zones.list_zones(session)]
    return render_template(
        "subscribers/list.html",
        rows=rows,
        total=total,
        query=query,
        status=status,
        zone_id=zone_id,
        zones=zone_rows,
        page=page,
        pages=max((total - 1) // PAGE_SIZE + 1, 1),
        statuses=[s.value for s in SubscriberStatus],
        zone_code=zone_code,
    )


@bp.get("/<int:subscriber_id>")
@roles_required(*STAFF)
def subscriber_detail(subscriber_id: int):
    session = db()
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    in_zones = zones_of_subscriber(session, subscriber.id)
    features = [zones.zone_feature(z) for z in in_zones]
    places = []
    full = sees_personal_data()
    # Every look at one resident's record is audited, whoever looks and whatever they may see.
    record(session, "subscriber.view", current_user, "subscriber", subscriber.id, {"full": full})
    session.commit()
    for loc in subscriber.locations if full else ():
        point = to_shape(loc.geom) if loc.geom is not None else None
        places.append(
            {
                "label": loc.label,
                "address": loc.address,
                "zone_id": loc.zone_id,
                "lat": point.y if point else None,
                "lon": point.x if point else None,
            }
        )
        if point is not None:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": loc.address or loc.label, "code": loc.label},
                    "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
                }
            )
    return render_template(
        "subscribers/detail.html",
        subscriber=subscriber,
        places=places,
        zones=in_zones,
        zone_code=zone_code,
        map_geojson={"type": "FeatureCollection", "features": features},
        map_options=_map_options(),
    )


@bp.post("/<int:subscriber_id>/erase")
@roles_required(Role.ADMIN)
def erase(subscriber_id: int):
    session = db()
    reason = request.form.get("reason", "").strip()[:500]
    if not reason:
        flash(_("Give a reason for the erasure (it goes to the audit log)."), "error")
        return redirect(url_for("subscribers_ui.subscriber_detail", subscriber_id=subscriber_id))
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    phone = subscriber.phone
    erase_subscriber(session, subscriber_id, current_user, reason)
    session.commit()
    flash(
        _("The subscriber's personal data were erased; the opt-out of %(phone)s is kept.", phone=mask_phone(phone)),
        "success",
    )
    return redirect(url_for("subscribers_ui.subscriber_list"))


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def registry_import():
    if request.method == "GET":
        return render_template("subscribers/import.html")
    upload = request.files.get("file")
    source = request.form.get("consent_source", "").strip()[:200]
    if upload is None or not upload.filename:
        flash(_("Choose a CSV file."), "error")
        return render_template("subscribers/import.html"), 400
    if not source:
        flash(_("Say where the residents' consent comes from."), "error")
        return render_template("subscribers/import.html"), 400
    raw = upload.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        flash(_("The file is too large."), "error")
        return render_template("subscribers/import.html"), 400
    session = db()
    try:
        text = raw.decode("utf-8-sig")
        report = import_registry(session, csv.DictReader(io.StringIO(text)), consent_source=source, actor=current_user)
    except (UnicodeDecodeError, csv.Error) as e:
        session.rollback()
        flash(_("The file is not a UTF-8 CSV: %(error)s", error=str(e)), "error")
        return render_template("subscribers/import.html"), 400
    except SubscriberError as e:
        session.rollback()
        flash(_("Nothing was imported: %(error)s", error=str(e)), "error")
        return render_template("subscribers/import.html"), 400
    session.commit()
    flash(
        _(
            "Imported %(added)s subscribers; skipped %(skipped)s (already subscribed or opted out).",
            added=report.added,
            skipped=report.skipped,
        ),
        "success",
    )
    return redirect(url_for("subscribers_ui.subscriber_list"))
