"""Admin pages about residents: a searchable list (per zone too), a subscriber's places and zones on the
map, the audited erase, and importing an existing registry from CSV (a worker job: progress and result pages)."""

from __future__ import annotations

import csv
import io
import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user
from geoalchemy2.shape import to_shape
from werkzeug.exceptions import RequestEntityTooLarge

from app.admin import _map_options
from app.auth import roles_required
from app.database import db
from app.security import BODY_LIMITS
from subscribers.exceptions import SubscriberError
from subscribers.jobs import submit_registry_import
from subscribers.models import ImportStatus, Subscriber, SubscriberStatus
from subscribers.phones import mask_phone, masked_phone
from subscribers.registry import import_progress, recent_imports, skipped_rows
from subscribers.service import (
    erase_subscriber,
    search_subscribers,
    zone_code,
    zones_of_subscriber,
)
from syrena_core.accounts import Role
from syrena_core.audit import record
from syrena_core.text import spreadsheet_text
from zones import reach
from zones import service as zones

bp = Blueprint("subscribers_ui", __name__, url_prefix="/subscribers")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
PAGE_SIZE = 50


def sees_personal_data() -> bool:
    """Operators and admins see residents' numbers and places in full; finance and approvers see numbers masked
    ("+48 601 *** *12") and no places — they need counts and zones, not where a resident lives."""
    return current_user.has_role(Role.OPERATOR)


def shown_phone(phone: str | None) -> str:
    return (phone or "—") if sees_personal_data() else masked_phone(phone)


IMPORT_STATUS_LABELS = {
    ImportStatus.QUEUED.value: _lp("import status", "Waiting for a worker"),
    ImportStatus.RUNNING.value: _lp("import status", "Importing"),
    ImportStatus.DONE.value: _lp("import status", "Finished"),
    ImportStatus.FAILED.value: _lp("import status", "Failed"),
}


def import_status_label(status: str) -> str:
    return str(IMPORT_STATUS_LABELS.get(status, status))


@bp.app_context_processor
def _personal_data_context() -> dict:
    return {
        "shown_phone": shown_phone,
        "sees_personal_data": sees_personal_data,
        "import_status_label": import_status_label,
    }


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


# ------------------------------------------------------------------ registry import (an RQ job)
SKIPS_SHOWN = 50  # skipped rows listed on the result page; all of them are in the CSV download
UPLOAD_OVERHEAD = 64 * 1024  # the multipart framing and the consent field around the file
_NUMBER = re.compile(r"[+-]?[\d .]+")


def _import_max_bytes() -> int:
    return current_app.config["SYRENA"].subscribers.import_max_mb * 1024 * 1024


@bp.record_once
def _allow_large_uploads(state) -> None:
    # The app takes bodies up to [security] max_body_mb; a registry may be larger ([subscribers] import_max_mb).
    limit = state.app.config["SYRENA"].subscribers.import_max_mb * 1024 * 1024 + UPLOAD_OVERHEAD
    state.app.config.setdefault(BODY_LIMITS, {})["subscribers_ui.registry_import"] = limit


def _import_form(error: str | None = None, status: int = 200):
    if error:
        flash(error, "error")
    page = render_template(
        "subscribers/import.html", imports=recent_imports(db()), max_mb=_import_max_bytes() // (1024 * 1024)
    )
    return page, status


def _too_large() -> str:
    return _(
        "The file is larger than %(mb)s MB. Split it into smaller files and import them one after another.",
        mb=_import_max_bytes() // (1024 * 1024),
    )


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(e: RequestEntityTooLarge):
    if request.endpoint == "subscribers_ui.registry_import":
        return _import_form(_too_large(), 413)
    return render_template("error.html", code=413, title=e.name, text=e.description), 413


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def registry_import():
    if request.method == "GET":
        return _import_form()
    upload = request.files.get("file")
    source = request.form.get("consent_source", "").strip()[:200]
    if upload is None or not upload.filename:
        return _import_form(_("Choose a CSV file."), 400)
    if not source:
        return _import_form(_("Say where the residents' consent comes from."), 400)
    raw = upload.read(_import_max_bytes() + 1)
    if len(raw) > _import_max_bytes():
        return _import_form(_too_large(), 413)
    session = db()
    try:
        import_id = submit_registry_import(
            session, current_app.config["SYRENA"].redis.url, raw, upload.filename, source, current_user
        )
    except SubscriberError as e:
        session.rollback()
        return _import_form(_("Nothing was imported: %(error)s", error=str(e)), 400)
    return redirect(url_for("subscribers_ui.import_result", import_id=import_id))


@bp.get("/import/<int:import_id>")
@roles_required(Role.ADMIN)
def import_result(import_id: int):
    session = db()
    progress = import_progress(session, import_id)
    if progress is None:
        abort(404)
    return render_template(
        "subscribers/import_result.html",
        progress=progress,
        skips=skipped_rows(session, import_id, SKIPS_SHOWN),
        skips_shown=SKIPS_SHOWN,
    )


@bp.get("/import/<int:import_id>/progress.json")
@roles_required(Role.ADMIN)
def import_progress_json(import_id: int):
    progress = import_progress(db(), import_id)
    if progress is None:
        abort(404)
    return jsonify({**progress, "status_label": import_status_label(progress["status"])})


def _cell(value: str) -> str:
    # Numbers (phones, coordinates) stay as they are: re-importable, and no spreadsheet runs them.
    return value if _NUMBER.fullmatch(value) else spreadsheet_text(value)


@bp.get("/import/<int:import_id>/skipped.csv")
@roles_required(Role.ADMIN)
def import_skipped_csv(import_id: int):
    session = db()
    if import_progress(session, import_id) is None:
        abort(404)
    skips = skipped_rows(session, import_id)
    columns: list[str] = []
    for skip in skips:
        columns += [c for c in skip.row if c not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "reason", *columns])
    for skip in skips:
        writer.writerow([skip.line, _cell(skip.reason), *(_cell(skip.row.get(c, "")) for c in columns)])
    record(session, "subscriber.import_skipped_export", current_user, "subscriber_import", import_id)
    session.commit()
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="syrena-import-{import_id}-skipped.csv"'},
    )
