"""Turning GeoJSON from users and files into valid WGS84 multipolygons, or saying exactly what is wrong."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity, make_valid

from syrena_core.config import ZoneSettings
from zones.exceptions import ZoneGeometryInvalid, ZoneGeometryRepairable, ZoneTooLarge

ZONE_TYPES = ("Polygon", "MultiPolygon")
# Kilometres per degree, for areas checked against a limit: a local equirectangular scale is exact
# enough (well under 1 %) for city-sized shapes, and needs no projection library.
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_AT_EQUATOR = 111.320
MIN_AREA_KM2 = 1e-6  # 1 m²: below this a "polygon" is a line drawn twice or a rounding artefact


@dataclass
class ValidGeometry:
    geom: MultiPolygon
    repairs: list[str] = field(default_factory=list)  # what `repair` changed, in words; empty if nothing


def geometry_from_geojson(obj: Any) -> dict[str, Any]:
    """The geometry of a GeoJSON Feature or a bare geometry, checked to be a (Multi)Polygon."""
    if not isinstance(obj, dict) or "type" not in obj:
        raise ZoneGeometryInvalid('not GeoJSON: expected a Feature or a geometry object with a "type"')
    if obj.get("type") == "Feature":
        obj = obj.get("geometry")
        if not isinstance(obj, dict):
            raise ZoneGeometryInvalid("the Feature has no geometry")
    kind = obj.get("type")
    if kind not in ZONE_TYPES:
        raise ZoneGeometryInvalid(f"a zone must be a Polygon or MultiPolygon, not {kind!r}")
    return obj


def _describe_ring(polygon: int, ring: int, multi: bool) -> str:
    where = "the outer ring" if ring == 0 else f"hole {ring}"
    return f"{where} of polygon {polygon + 1}" if multi else where


def _check_position(pos: Any, where: str) -> None:
    if (
        not isinstance(pos, list | tuple)
        or len(pos) not in (2, 3)
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in pos)
    ):
        raise ZoneGeometryInvalid(f"{where}: a position must be [longitude, latitude], got {pos!r:.60}")
    # An integer like 10**400 is no float at all: math.isfinite would raise OverflowError on it.
    if not all(math.isfinite(c) if isinstance(c, float) else abs(c) < 2**63 for c in pos):
        raise ZoneGeometryInvalid(f"{where}: a position must hold finite numbers, got {pos!r:.80}")
    lon, lat = pos[0], pos[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ZoneGeometryInvalid(
            f"{where}: coordinates out of range: [{lon:g}, {lat:g}] (longitude −180…180, latitude −90…90); "
            "GeoJSON is [longitude, latitude] in WGS84"
        )


def check_structure(geometry: dict[str, Any]) -> int:
    """Check the raw coordinates before any library closes or fixes them: numbers in range, rings of at
    least 4 positions that end where they start. Returns the number of positions."""
    multi = geometry["type"] == "MultiPolygon"
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list | tuple):
        raise ZoneGeometryInvalid("the geometry has no coordinates array")
    if not coordinates:
        raise ZoneGeometryInvalid("the geometry is empty")
    polygons = coordinates if multi else [coordinates]
    positions = 0
    for p, rings in enumerate(polygons):
        if not isinstance(rings, list | tuple) or not rings or not all(isinstance(r, list | tuple) for r in rings):
            raise ZoneGeometryInvalid(
                f"polygon {p + 1} is not a list of rings" if multi else "a Polygon's coordinates are a list of rings"
            )
        for r, ring in enumerate(rings):
            where = _describe_ring(p, r, multi)
            for pos in ring:
                _check_position(pos, where)
            if len(ring) < 4:
                raise ZoneGeometryInvalid(
                    f"{where} has {len(ring)} positions; a ring needs at least 4 "
                    "(three corners and the first one repeated at the end)"
                )
            first, last = list(ring[0][:2]), list(ring[-1][:2])
            if first != last:
                raise ZoneGeometryInvalid(
                    f"{where} is not closed: it starts at {first} and ends at {last}; "
                    "the last position must repeat the first"
                )
            positions += len(ring)
    return positions


def area_km2(geom) -> float:
    if geom.is_empty:
        return 0.0
    scale = math.cos(math.radians(geom.centroid.y)) * KM_PER_DEGREE_LON_AT_EQUATOR * KM_PER_DEGREE_LAT
    return geom.area * scale


def _check_service_area(geom, box: tuple[float, ...]) -> None:
    min_lon, min_lat, max_lon, max_lat = box
    minx, miny, maxx, maxy = geom.bounds
    if min_lon <= minx and maxx <= max_lon and min_lat <= miny and maxy <= max_lat:
        return
    if min_lon <= miny and maxy <= max_lon and min_lat <= minx and maxx <= max_lat:
        raise ZoneGeometryInvalid(
            f"the coordinates look swapped: positions such as [{minx:g}, {miny:g}] are [latitude, longitude], "
            "but GeoJSON positions are [longitude, latitude]"
        )
    raise ZoneGeometryInvalid(
        f"the zone lies outside the service area (longitude {min_lon:g}…{max_lon:g}, latitude "
        f"{min_lat:g}…{max_lat:g}); its extent is {minx:g},{miny:g} – {maxx:g},{maxy:g}"
    )


_PROBLEM_AT = re.compile(r"^(?P<what>[^\[]+)\[(?P<x>[-\d.e]+) (?P<y>[-\d.e]+)\]$")


def _explain(geom) -> str:
    """GEOS's 'Self-intersection[16.92 52.42]' said for people: what, and where (lon, lat)."""
    reason = explain_validity(geom)
    match = _PROBLEM_AT.match(reason)
    if not match:
        return reason
    return f"{match['what']} at longitude {float(match['x']):.6f}, latitude {float(match['y']):.6f}"


def _polygons_of(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):  # a GeometryCollection left by make_valid: keep its areas
        return [p for g in geom.geoms for p in _polygons_of(g)]
    return []


def _merge(polygons: list[Polygon]) -> MultiPolygon:
    if not polygons:
        return MultiPolygon()
    merged = shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]
    return MultiPolygon(_polygons_of(merged))


def validate(
    geojson_geometry: dict[str, Any], repair: bool = False, limits: ZoneSettings | None = None
) -> ValidGeometry:
    """A valid MultiPolygon within the limits, or ZoneGeometryInvalid saying what is wrong and where.
    With `repair`, an invalid polygon is made valid (Shapely's make_valid) and the changes are reported."""
    limits = limits or ZoneSettings()
    positions = check_structure(geojson_geometry)
    if positions > limits.max_vertices:
        raise ZoneTooLarge(f"the zone has {positions:,} vertices; at most {limits.max_vertices:,} are allowed")
    try:
        geom = shape(geojson_geometry)
    except (
        ShapelyError,
        GEOSException,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
    ) as e:  # OverflowError: a coordinate like 10**400, too large for a float
        raise ZoneGeometryInvalid(f"not a readable polygon: {e}") from None
    if geom.is_empty:
        raise ZoneGeometryInvalid("the geometry is empty")
    _check_service_area(geom, limits.service_area)
    repairs: list[str] = []
    if not geom.is_valid:
        problem = _explain(geom)
        fixed = make_valid(geom)
        repaired = _merge([p for p in _polygons_of(fixed) if not p.is_empty and p.area > 0])
        if area_km2(repaired) < MIN_AREA_KM2:
            raise ZoneGeometryInvalid(f"the polygon has no area ({problem})")
        if not repair:
            raise ZoneGeometryRepairable(f"invalid polygon: {problem}; it can be repaired automatically")
        dropped = sum(1 for g in getattr(fixed, "geoms", [fixed]) if not isinstance(g, Polygon | MultiPolygon))
        repairs.append(
            f"repaired {problem}: {len(_polygons_of(geom))} polygon(s) became {len(repaired.geoms)} "
            f"of {area_km2(repaired):.3f} km² in all"
            + (f"; {dropped} line or point part(s) without area dropped" if dropped else "")
        )
        geom = repaired
    else:
        geom = MultiPolygon(_polygons_of(geom))
    if area_km2(geom) < MIN_AREA_KM2:
        raise ZoneGeometryInvalid("the polygon has no area (its points lie on a line, or it is smaller than 1 m²)")
    area = area_km2(geom)
    if area > limits.max_area_km2:
        raise ZoneTooLarge(f"the zone covers {area:,.1f} km²; at most {limits.max_area_km2:,.0f} km² are allowed")
    return ValidGeometry(geom, repairs)


def to_geojson(geom) -> dict[str, Any]:
    """A geometry as GeoJSON, the one way Syrena writes one: with RFC 7946 §3.1.6 ring orientation (exterior
    rings counter-clockwise, holes clockwise — the right-hand rule), whatever way it was drawn or stored.
    PostGIS keeps rings as they came, and clients that follow the RFC (d3-geo among them) take a clockwise
    exterior for "the whole world minus this zone"."""
    return mapping(shapely.orient_polygons(geom, exterior_cw=False))
