"""A campaign's target: zones and/or ad-hoc areas drawn for this campaign only.

An area is a GeoJSON (Multi)Polygon, a circle `{"circle": {"lat", "lon", "radius_m"}}` (a gas leak), or a
buffer of N metres around a line `{"line": <LineString>, "buffer_m": n}` (a river bank, a closed road).
Circles and buffers are built by PostGIS on the geography type, so their metres are true metres at any
latitude. The union of all of them (and of the zones) is the target.
"""

from __future__ import annotations

import json
import math
from typing import Any, cast

from geoalchemy2.shape import to_shape
from shapely import wkb
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, shape
from shapely.ops import unary_union
from sqlalchemy import text
from sqlalchemy.orm import Session

from campaigns.exceptions import InvalidCampaign, InvalidHazard
from syrena_core.config import ZoneSettings
from zones.exceptions import ZoneGeometryInvalid
from zones.geometry import to_geojson, validate

MAX_RADIUS_M = 50_000
MAX_BUFFER_M = 10_000
MAX_AREAS = 20


def _number(value: Any, what: str) -> float:
    try:  # an integer like 10**400 is too large for a float (OverflowError)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidCampaign(f"{what} must be a number")
        return float(value)
    except OverflowError:
        raise InvalidCampaign(f"{what} must be a number within range") from None


def _in_service_area(
    lon: float, lat: float, box: tuple[float, ...], what: str, error: type[InvalidCampaign] = InvalidCampaign
) -> None:
    if not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
        raise error(f"{what} ({lat:g}, {lon:g}) lies outside the service area; latitude and longitude swapped?")


def _parse_one(raw: Any, n: int, limits: ZoneSettings) -> dict[str, Any]:
    where = f"area {n}"
    if not isinstance(raw, dict):
        raise InvalidCampaign(f'{where}: expected a GeoJSON polygon, {{"circle": …}} or {{"line": …}}')
    if "circle" in raw:
        c = raw["circle"]
        if not isinstance(c, dict):
            raise InvalidCampaign(f'{where}: circle must be {{"lat", "lon", "radius_m"}}')
        lat, lon = _number(c.get("lat"), f"{where}: lat"), _number(c.get("lon"), f"{where}: lon")
        radius = _number(c.get("radius_m"), f"{where}: radius_m")
        if not 1 <= radius <= MAX_RADIUS_M:
            raise InvalidCampaign(f"{where}: radius_m must be between 1 and {MAX_RADIUS_M} metres")
        _in_service_area(lon, lat, limits.service_area, f"{where}: the centre")
        return {"type": "circle", "lat": lat, "lon": lon, "radius_m": radius}
    if "line" in raw:
        line = raw["line"]
        if isinstance(line, dict) and line.get("type") == "Feature":
            line = line.get("geometry")
        if not isinstance(line, dict) or line.get("type") != "LineString":
            raise InvalidCampaign(f"{where}: line must be a GeoJSON LineString")
        coords = line.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise InvalidCampaign(f"{where}: a line needs at least two positions")
        if len(coords) > limits.max_vertices:
            raise InvalidCampaign(
                f"{where}: the line has {len(coords):,} positions; at most {limits.max_vertices:,} are allowed"
            )
        for pos in coords:
            if not isinstance(pos, list) or len(pos) not in (2, 3):
                raise InvalidCampaign(f"{where}: a position must be [longitude, latitude]")
            _in_service_area(
                _number(pos[0], f"{where}: longitude"),
                _number(pos[1], f"{where}: latitude"),
                limits.service_area,
                f"{where}: a point of the line",
            )
        buffer_m = _number(raw.get("buffer_m"), f"{where}: buffer_m")
        if not 1 <= buffer_m <= MAX_BUFFER_M:
            raise InvalidCampaign(f"{where}: buffer_m must be between 1 and {MAX_BUFFER_M} metres")
        return {
            "type": "line",
            "line": {"type": "LineString", "coordinates": [p[:2] for p in coords]},
            "buffer_m": buffer_m,
        }
    geometry = raw.get("geometry") if raw.get("type") == "Feature" else raw
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidCampaign(f"{where}: expected a GeoJSON Polygon or MultiPolygon, a circle or a line")
    try:
        geom = validate(geometry, repair=False, limits=limits).geom
    except ZoneGeometryInvalid as e:
        raise InvalidCampaign(f"{where}: {e}") from None
    return {"type": "polygon", "geometry": to_geojson(geom)}


def parse_areas(raw: Any, limits: ZoneSettings | None = None) -> list[dict[str, Any]]:
    """Normalised area specs (what is stored in campaign.area_spec), or InvalidCampaign naming the problem."""
    if raw is None:
        return []
    limits = limits or ZoneSettings()
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > MAX_AREAS:
        raise InvalidCampaign(f"at most {MAX_AREAS} drawn areas")
    return [_parse_one(item, n, limits) for n, item in enumerate(items, start=1)]


# ---------------------------------------------------------------- an area typed or pasted (no map, no mouse)
MAX_PASTED_CHARS = 200_000
_SEPARATORS = str.maketrans({";": " ", ",": " ", "\t": " "})


def areas_from_text(typed: str, limits: ZoneSettings | None = None) -> list[dict[str, Any]]:
    """The areas a keyboard user pasted instead of drawing: GeoJSON (a Polygon or MultiPolygon, a Feature or a
    FeatureCollection of them), or one "latitude, longitude" pair per line, at least three, the ring closed here.
    Returns GeoJSON geometries, each checked as a drawn polygon is (parse_areas: valid, in the service area);
    InvalidCampaign says what is wrong and where."""
    typed = (typed or "").strip()
    if not typed:
        raise InvalidCampaign('nothing pasted: paste GeoJSON or one "latitude, longitude" per line')
    if len(typed) > MAX_PASTED_CHARS:
        raise InvalidCampaign(f"the pasted text has {len(typed):,} characters; at most {MAX_PASTED_CHARS:,} fit")
    limits = limits or ZoneSettings()
    geometries = _pasted_geojson(typed) if typed[0] in "{[" else [_pasted_pairs(typed, limits)]
    if len(geometries) > MAX_AREAS:
        raise InvalidCampaign(f"the pasted text holds {len(geometries)} areas; at most {MAX_AREAS}")
    for n, geometry in enumerate(geometries, start=1):
        _parse_one(geometry, n, limits)
    return geometries


def _pasted_geojson(typed: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(typed)
    except ValueError as e:
        raise InvalidCampaign(f"the pasted text is not valid GeoJSON: {e}") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        items = features if isinstance(features, list) else []
    else:
        items = [data]
    geometries = []
    for item in items:
        geometry = item.get("geometry") if isinstance(item, dict) and item.get("type") == "Feature" else item
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
            raise InvalidCampaign(f"the pasted GeoJSON is a {kind}; an area must be a Polygon or MultiPolygon")
        geometries.append({"type": geometry["type"], "coordinates": geometry.get("coordinates")})
    if not geometries:
        raise InvalidCampaign("the pasted FeatureCollection has no features")
    return geometries


def _pasted_pairs(typed: str, limits: ZoneSettings) -> dict[str, Any]:
    ring = []
    for n, line in enumerate(typed.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.translate(_SEPARATORS).split()
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            raise InvalidCampaign(
                f'line {n}: "{line.strip()[:60]}" is not "latitude, longitude" (e.g. 52.4064, 16.9252)'
            ) from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise InvalidCampaign(f"line {n}: latitude and longitude must be numbers")
        _in_service_area(lon, lat, limits.service_area, f"line {n}: the point")
        ring.append([lon, lat])
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4:
        raise InvalidCampaign('an area needs at least three points, one "latitude, longitude" per line')
    return {"type": "Polygon", "coordinates": [ring]}


_CIRCLE = text("SELECT ST_AsBinary(ST_Buffer(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :r)::geometry)")
_LINE = text("SELECT ST_AsBinary(ST_Buffer(ST_SetSRID(ST_GeomFromGeoJSON(:line), 4326)::geography, :r)::geometry)")


def spec_geometry(session: Session, spec: dict[str, Any]) -> Polygon | MultiPolygon:
    # shapely types what it builds as any geometry: a drawn polygon is one once parsed (_parse_one), and
    # ST_Buffer of a point or a line is a polygon.
    if spec["type"] == "circle":
        raw = session.scalar(_CIRCLE, {"lon": spec["lon"], "lat": spec["lat"], "r": spec["radius_m"]})
    elif spec["type"] == "line":
        raw = session.scalar(_LINE, {"line": json.dumps(spec["line"]), "r": spec["buffer_m"]})
    else:
        return cast(Polygon | MultiPolygon, shape(spec["geometry"]))
    return cast(Polygon | MultiPolygon, wkb.loads(bytes(raw)))


def _multi(geom) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return MultiPolygon([g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)])


def area_union(session: Session, specs: list[dict[str, Any]]) -> MultiPolygon | None:
    """The union of the drawn areas, as stored in campaign.area (None when nothing was drawn)."""
    if not specs:
        return None
    return _multi(unary_union([spec_geometry(session, s) for s in specs]))


def target_geojson(session: Session, zones, specs: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The target as a FeatureCollection: each zone and each drawn area (buffers and circles as built)."""
    return _collection(session, [(z.id, z.name, to_shape(z.geom)) for z in zones], specs, frozen=False)


def target_zones(campaign) -> list[tuple[int, str, Any]]:
    """A campaign's target zones as (id, name, shapely geometry): the copy frozen when it was submitted (issue 19:
    what was approved is what is sent and shown), else — a draft — the zones as they are now."""
    if campaign.target_frozen_at is not None:
        return [(f.zone_id, f.name, to_shape(f.geom)) for f in campaign.frozen_zones]
    return [(z.id, z.name, to_shape(z.geom)) for z in campaign.zones]


def campaign_target_geojson(session: Session, campaign) -> dict[str, Any]:
    """A saved campaign's target for maps (review/approval page, public alerts): the frozen copy once there is
    one; zone features then carry "frozen": true."""
    return _collection(
        session, target_zones(campaign), campaign.area_spec, frozen=campaign.target_frozen_at is not None
    )


def _collection(
    session: Session, zones: list[tuple[int, str, Any]], specs: list[dict[str, Any]] | None, frozen: bool
) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "properties": {"kind": "zone", "name": name, "id": zone_id, "frozen": frozen},
            "geometry": to_geojson(geom),
        }
        for zone_id, name, geom in zones
    ]
    for n, spec in enumerate(specs or [], start=1):
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": spec["type"], "name": f"#{n}"},
                "geometry": to_geojson(spec_geometry(session, spec)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def as_input(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored spec back in the form the API takes (to copy a target, e.g. into a follow-up)."""
    if spec["type"] == "circle":
        return {"circle": {"lat": spec["lat"], "lon": spec["lon"], "radius_m": spec["radius_m"]}}
    if spec["type"] == "line":
        return {"line": spec["line"], "buffer_m": spec["buffer_m"]}
    return spec["geometry"]


# ------------------------------------------------------------------------------ nearest the danger first
def parse_hazard(raw: Any, limits: ZoneSettings | None = None) -> dict[str, float] | None:
    """The operator's hazard point `{"lat", "lon"}` (None: not set), or InvalidHazard naming the problem."""
    if raw is None:
        return None
    limits = limits or ZoneSettings()
    if not isinstance(raw, dict):
        raise InvalidHazard('hazard must be {"lat": …, "lon": …} (or null to clear it)')
    unknown = sorted(set(raw) - {"lat", "lon"})
    if unknown:
        raise InvalidHazard(f"hazard: unknown field(s) {', '.join(unknown)}; it has only lat and lon")
    values = {}
    for key, what in (("lat", "latitude"), ("lon", "longitude")):
        value = raw.get(key)
        if value is None:
            raise InvalidHazard(f"hazard: {key} (the {what}) is missing")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidHazard(f"hazard: {key} (the {what}) must be a number, e.g. 52.4064")
        values[key] = float(value)
    _in_service_area(values["lon"], values["lat"], limits.service_area, "hazard: the point", InvalidHazard)
    return {"lat": values["lat"], "lon": values["lon"]}


def hazard_focus(specs: list[dict[str, Any]], hazard: dict | None):
    """What recipients' distances are measured from (shapely, lon/lat): the operator's hazard point, else the
    drawn circles' centres and lines (a gas leak's source, a river); None for zones and drawn polygons alone,
    which the snapshot measures from a point surely inside the target (ST_PointOnSurface: a centroid may lie
    outside a concave zone) — computed there, at send time, rather than on every preview."""
    if hazard is not None:
        return Point(hazard["lon"], hazard["lat"])
    sources = [
        Point(s["lon"], s["lat"]) if s["type"] == "circle" else LineString(s["line"]["coordinates"])
        for s in specs
        if s["type"] in ("circle", "line")
    ]
    if not sources:
        return None
    return sources[0] if len(sources) == 1 else GeometryCollection(sources)
