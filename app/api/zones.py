"""Zones API."""
from __future__ import annotations

from flask import g, jsonify, request

from app.api import bp
from app.api.common import STAFF, json_body, map_domain_error, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, op, ref
from subscribers.service import active_subscribers_per_zone
from syrena_core.accounts import Role, record
from zones import service as zones
from zones.exceptions import ZoneError, ZoneNotFound

map_domain_error(ZoneNotFound, 404, "zone_not_found")
map_domain_error(ZoneError, 422, "invalid_zone")


def _zone_collection():
    session = db()
    counts = active_subscribers_per_zone(session)
    features = [zones.zone_feature(z, {"subscribers": counts.get(z.id, 0)}) for z in zones.list_zones(session)]
    return jsonify({"type": "FeatureCollection", "features": features})


@bp.get("/zones")
@requires(*STAFF)
def list_zones():
    return _zone_collection()


@bp.get("/zones.geojson")
@requires(*STAFF)
def zones_geojson():
    return _zone_collection()


@bp.post("/zones")
@requires(Role.OPERATOR)
def create_zone():
    body = json_body()
    name = body.get("name") or (body.get("properties") or {}).get("name")
    repair = request.args.get("repair") in ("1", "true")
    session = db()
    zone = zones.create_zone(session, name, body, repair=repair, sms_code=body.get("sms_code"))
    record(session, "zone.create", g.api_user, "zone", zone.id, {"name": zone.name})
    session.commit()
    return jsonify(zones.zone_feature(zone)), 201


@bp.get("/zones/<int:zone_id>")
@requires(*STAFF)
def get_zone(zone_id: int):
    (zone,) = zones.get_zones(db(), [zone_id])
    return jsonify(zones.zone_feature(zone))


OPENAPI_PATHS = {
    "/api/v1/zones": {
        "get": op("List zones as GeoJSON with active subscriber counts", "200", ref("FeatureCollection")),
        "post": op("Create a zone from a GeoJSON Polygon/MultiPolygon (Feature or bare geometry)", "201",
                   ref("Feature"), body=ref("ZoneInput"),
                   params=[{"name": "repair", "in": "query", "schema": {"type": "boolean"},
                            "description": "repair an invalid polygon instead of refusing it"}]),
    },
    "/api/v1/zones.geojson": {"get": op("All zones as a GeoJSON FeatureCollection", "200", ref("FeatureCollection"))},
    "/api/v1/zones/{id}": {"get": op("One zone", "200", ref("Feature"), params=ID_PARAM, extra=NOT_FOUND)},
}
OPENAPI_SCHEMAS = {
    "Geometry": {"type": "object", "required": ["type", "coordinates"],
                 "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                                "coordinates": {"type": "array", "items": {}}}},
    "ZoneInput": {"type": "object", "description": "A GeoJSON Feature (name in properties.name) or a bare geometry "
                  "with a top-level name",
                  "properties": {"type": {"type": "string"}, "name": {"type": "string"}, "sms_code": {"type": "string"},
                                 "properties": {"type": "object"}, "geometry": ref("Geometry"),
                                 "coordinates": {"type": "array", "items": {}}}},
    "Feature": {"type": "object", "properties": {
        "type": {"type": "string"}, "id": {"type": "integer"}, "geometry": ref("Geometry"),
        "properties": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "slug": {"type": "string"},
            "sms_code": {"type": "string"}, "subscribers": {"type": "integer"}}}}},
    "FeatureCollection": {"type": "object", "properties": {
        "type": {"type": "string"}, "features": {"type": "array", "items": ref("Feature")}}},
}
