"""The zones map page: crisis staff draw, edit, import, export and inspect zones (Leaflet + Leaflet-Geoman).

The page talks to the JSON routes below with the staff session cookie and a CSRF token; they call the same
domain functions as the REST API, so a zone drawn here obeys the same rules and limits."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_from_directory
from flask_babel import gettext as _
from flask_login import current_user

from app import previews
from app.auth import roles_required
from app.database import db
from app.geojson import geojson_response
from app.zone_imports import import_and_answer
from campaigns.service import refuse_zone_change
from syrena_core.accounts import Role
from zones import reach
from zones import service as zones
from zones.exceptions import ZoneConflict, ZoneError, ZoneFileInvalid, ZoneInUse, ZoneNotFound

bp = Blueprint("zones_ui", __name__, url_prefix="/zones")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
EDITORS = (Role.OPERATOR,)
# Installed by `make assets` (npm ci); never copied into the repository.
GEOMAN_DIR = Path(__file__).resolve().parent.parent / "node_modules" / "@geoman-io" / "leaflet-geoman-free" / "dist"
# Where an empty map looks when there is no zone yet (Poznań).
DEFAULT_VIEW = {"lat": 52.4064, "lon": 16.9252, "zoom": 11}
ERROR_STATUS = (
    (ZoneNotFound, 404, "zone_not_found"),
    (ZoneInUse, 409, "zone_in_use"),
    (ZoneConflict, 409, "zone_conflict"),
    (ZoneFileInvalid, 400, "invalid_file"),
    (ZoneError, 422, "invalid_zone"),
)


@bp.errorhandler(ZoneError)
def _zone_error(e: ZoneError):
    db().rollback()
    status, code = next((s, c) for kind, s, c in ERROR_STATUS if isinstance(e, kind))
    return jsonify({"error": {"code": code, "message": str(e), "details": None}}), status


@bp.get("/vendor/geoman/<path:filename>")
def geoman_asset(filename: str):
    if not GEOMAN_DIR.is_dir():
        current_app.logger.error("Leaflet-Geoman is not installed in %s: run `make assets`", GEOMAN_DIR)
        abort(404)
    return send_from_directory(GEOMAN_DIR, filename, max_age=7 * 24 * 3600)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ZoneFileInvalid(_("The request must be a JSON object."))
    return body


def _limits():
    return current_app.config["SYRENA"].zones


def _feature(saved: zones.SavedZone) -> dict:
    count = reach.reach_of_zone(db(), saved.zone)
    return {**zones.zone_feature(saved.zone, {"subscribers": count}), "repairs": saved.repairs}


@bp.get("/")
@roles_required(*STAFF)
def map_page():
    session = db()
    counts = reach.active_subscribers_per_zone(session)
    live = zones.list_zones(session)
    settings = current_app.config["SYRENA"]
    map_options = {
        "tiles": current_app.config.get("MAP_TILE_URL", settings.map.tile_url),
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION", settings.map.tile_attribution),
        "view": DEFAULT_VIEW,
    }
    return render_template(
        "zones/map.html",
        zones=[(z, counts.get(z.id, 0)) for z in live],
        zones_geojson=zones.feature_collection(live, counts),
        map_options=map_options,
        can_edit=current_user.has_role(*EDITORS),
        limits=settings.zones,
    )


@bp.get("/data.geojson")
@roles_required(*STAFF)
def zones_data():
    session = db()
    return geojson_response(
        zones.feature_collection(zones.list_zones(session), reach.active_subscribers_per_zone(session))
    )


@bp.get("/export.geojson")
@roles_required(*STAFF)
def export():
    response = zones_data()
    response.headers["Content-Disposition"] = "attachment; filename=zones.geojson"
    return response


@bp.post("/data")
@roles_required(*EDITORS)
def create():
    session = db()
    saved = zones.save_feature(
        session, _json_body(), repair=request.args.get("repair") == "true", limits=_limits(), actor=current_user
    )
    session.commit()
    return geojson_response(_feature(saved), 201)


@bp.put("/data/<int:zone_id>")
@roles_required(*EDITORS)
def update(zone_id: int):
    session = db()
    saved = zones.update_zone(
        session,
        zone_id,
        _json_body(),
        repair=request.args.get("repair") == "true",
        limits=_limits(),
        actor=current_user,
    )
    refuse_zone_change(session, zone_id)  # an alert awaiting approval or its send time keeps its approved shape
    session.commit()
    return geojson_response(_feature(saved))


@bp.delete("/data/<int:zone_id>")
@roles_required(*EDITORS)
def archive(zone_id: int):
    session = db()
    zone = zones.archive_zone(session, zone_id, actor=current_user)
    session.commit()
    return geojson_response(_feature(zones.SavedZone(zone)))


@bp.post("/data/preview")
@roles_required(*STAFF)
def preview():
    wait = previews.over_budget(current_user.id)
    if wait is not None:
        return previews.too_many(wait)
    return jsonify(
        reach.preview_area(db(), _json_body(), repair=request.args.get("repair") == "true", limits=_limits())
    )


@bp.post("/data/import")
@roles_required(*EDITORS)
def import_file():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ZoneFileInvalid(_("Choose a GeoJSON file to import."))
    return import_and_answer(
        upload.read(),
        current_user,
        file_name=upload.filename,
        name_property=request.form.get("name_property") or "name",
        repair=request.form.get("repair") == "true",
        skip=[s.strip() for s in request.form.get("skip", "").split(",") if s.strip()],
    )
