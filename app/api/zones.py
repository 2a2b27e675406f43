"""Zones API: GeoJSON Features in and out; delete archives; point lookup; subscriber preview; import/export."""

from __future__ import annotations

from flask import current_app, g, jsonify, request

from app import previews
from app.api.blueprint import bp
from app.api.common import STAFF, json_body, map_domain_error, requires
from app.database import db
from app.geojson import GEOJSON, geojson_response
from app.openapi import ID_PARAM, NOT_FOUND, components, conflict, links, op, ref
from app.zone_imports import import_and_answer
from campaigns.service import refuse_zone_change
from syrena_core.accounts import Role
from zones import queries, reach, schemas
from zones import service as zones
from zones.exceptions import ZoneConflict, ZoneError, ZoneFileInvalid, ZoneInUse, ZoneNotFound

map_domain_error(ZoneNotFound, 404, "zone_not_found")
map_domain_error(ZoneInUse, 409, "zone_in_use")  # before its base class
map_domain_error(ZoneConflict, 409, "zone_conflict")
map_domain_error(ZoneFileInvalid, 400, "invalid_file")
map_domain_error(ZoneError, 422, "invalid_zone")


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def _limits():
    return current_app.config["SYRENA"].zones


def _collection():
    session = db()
    include_archived = _flag("include_archived")
    counts = reach.active_subscribers_per_zone(session)
    return geojson_response(zones.feature_collection(zones.list_zones(session, include_archived), counts))


def _saved(saved: zones.SavedZone, status: int = 200):
    session = db()
    count = reach.reach_of_zone(session, saved.zone)
    return geojson_response(
        {**zones.zone_feature(saved.zone, {"subscribers": count}), "repairs": saved.repairs}, status
    )


@bp.get("/zones")
@requires(*STAFF)
def list_zones():
    return _collection()


@bp.get("/zones.geojson")
@requires(*STAFF)
def zones_geojson():
    return _collection()


@bp.post("/zones")
@requires(Role.OPERATOR)
def create_zone():
    session = db()
    saved = zones.save_feature(session, json_body(), repair=_flag("repair"), limits=_limits(), actor=g.api_user)
    session.commit()
    return _saved(saved, 201)


@bp.post("/zones/import")
@requires(Role.OPERATOR)
def import_zones():
    return import_and_answer(
        request.get_data(),
        g.api_user,
        name_property=request.args.get("name_property") or "name",
        repair=_flag("repair"),
        skip=[s for s in request.args.getlist("skip") if s],
    )


@bp.get("/zones/lookup")
@requires(*STAFF)
def lookup():
    lat = queries.coordinate(request.args.get("lat"), "lat", -90, 90)
    lon = queries.coordinate(request.args.get("lon"), "lon", -180, 180)
    found = reach.zones_at(db(), lat, lon)
    return jsonify(
        {
            "lat": lat,
            "lon": lon,
            "zones": [{"id": z.id, "name": z.name, "code": z.code, "colour": z.colour} for z in found],
        }
    )


@bp.post("/zones/preview")
@requires(*STAFF)
def preview():
    wait = previews.over_budget(g.api_user.id)
    if wait is not None:
        return previews.too_many(wait)
    return jsonify(reach.preview_area(db(), json_body(), repair=_flag("repair"), limits=_limits()))


@bp.get("/zones/<int:zone_id>")
@requires(*STAFF)
def get_zone(zone_id: int):
    return _saved(zones.SavedZone(zones.get_zone(db(), zone_id)))


@bp.put("/zones/<int:zone_id>")
@requires(Role.OPERATOR)
def update_zone(zone_id: int):
    session = db()
    saved = zones.update_zone(session, zone_id, json_body(), repair=_flag("repair"), limits=_limits(), actor=g.api_user)
    refuse_zone_change(session, zone_id)  # an alert awaiting approval or its send time keeps its approved shape
    session.commit()
    return _saved(saved)


@bp.delete("/zones/<int:zone_id>")
@requires(Role.OPERATOR)
def archive_zone(zone_id: int):
    session = db()
    zone = zones.archive_zone(session, zone_id, actor=g.api_user)
    session.commit()
    return _saved(zones.SavedZone(zone))


REPAIR_PARAM = {
    "name": "repair",
    "in": "query",
    "schema": {"type": "boolean"},
    "description": "repair an invalid polygon (Shapely make_valid) instead of refusing it; "
    "the response's `repairs` says what changed",
}
DUPLICATE = conflict("A live zone has this name, or any zone this code")
OPENAPI_PATHS = {
    "/api/v1/zones": {
        "get": op(
            "Live zones as a GeoJSON FeatureCollection with active subscriber counts",
            "200",
            ref("FeatureCollection"),
            params=[{"name": "include_archived", "in": "query", "schema": {"type": "boolean"}}],
            ok_media=GEOJSON,
        ),
        "post": links(
            op(
                "Create a zone from a GeoJSON Feature (Polygon/MultiPolygon; name, code, colour, "
                "description in properties)",
                "201",
                ref("Feature"),
                body=ref("ZoneInput"),
                params=[REPAIR_PARAM],
                extra=DUPLICATE,
                ok_media=GEOJSON,
            ),
            "201",
            "/api/v1/zones/{id}",
            ("GET", "PUT", "DELETE"),
        ),
    },
    "/api/v1/zones.geojson": {
        "get": op(
            "Export: all live zones as a GeoJSON FeatureCollection", "200", ref("FeatureCollection"), ok_media=GEOJSON
        )
    },
    "/api/v1/zones/import": {
        "post": op(
            "Import a GeoJSON FeatureCollection: every feature becomes a zone, or none does",
            "201",
            ref("ImportResult"),
            body=ref("FeatureCollection"),
            params=[
                {"name": "name_property", "in": "query", "schema": {"type": "string", "default": "name"}},
                {
                    "name": "skip",
                    "in": "query",
                    "schema": {"type": "array", "items": {"type": "string"}},
                    "description": "names of features to leave out (e.g. a whole-city outline)",
                },
                REPAIR_PARAM,
            ],
            extra=DUPLICATE,
        )
    },
    "/api/v1/zones/lookup": {
        "get": op(
            "The live zones containing a point (a point on a border is in both zones, one in a hole in neither)",
            "200",
            ref("Lookup"),
            params=[
                {"name": "lat", "in": "query", "required": True, "schema": {"type": "number"}},
                {"name": "lon", "in": "query", "required": True, "schema": {"type": "number"}},
            ],
        )
    },
    "/api/v1/zones/preview": {
        "post": op(
            "How many active subscribers an area reaches (deduplicated), without saving anything",
            "200",
            ref("Preview"),
            body=ref("ZoneInput"),
            params=[REPAIR_PARAM],
        )
    },
    "/api/v1/zones/{id}": {
        "get": op(
            "One zone (archived ones too)", "200", ref("Feature"), params=ID_PARAM, extra=NOT_FOUND, ok_media=GEOJSON
        ),
        "put": op(
            "Change a zone: the properties and/or geometry the Feature carries",
            "200",
            ref("Feature"),
            body=ref("ZoneInput"),
            params=[*ID_PARAM, REPAIR_PARAM],
            extra={
                **NOT_FOUND,
                **conflict(
                    "A live zone has this name, or any zone this code (zone_conflict); "
                    "or a new geometry for a zone that an alert awaiting approval or "
                    "its send time targets (zone_in_use, naming the alerts)"
                ),
            },
            ok_media=GEOJSON,
        ),
        "delete": op(
            "Archive a zone: it leaves lists, lookups and new campaigns; past campaigns keep it",
            "200",
            ref("Feature"),
            params=ID_PARAM,
            extra=NOT_FOUND,
            ok_media=GEOJSON,
        ),
    },
}
OPENAPI_SCHEMAS = components(
    schemas.ZoneInput, schemas.FeatureCollection, schemas.ImportResult, schemas.Lookup, schemas.Preview
)
