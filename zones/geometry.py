"""Turning GeoJSON from users and files into valid WGS84 multipolygons."""
from __future__ import annotations

from typing import Any

from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity, make_valid

from zones.exceptions import ZoneGeometryInvalid


def _check_ranges(geom) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ZoneGeometryInvalid(
            f"coordinates out of range (longitude −180…180, latitude −90…90; got {minx:g},{miny:g} – {maxx:g},{maxy:g}); "
            "GeoJSON is [longitude, latitude] in WGS84")


def _polygons_of(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):  # a GeometryCollection left by make_valid: keep its areas
        return [p for g in geom.geoms for p in _polygons_of(g)]
    return []


def geometry_from_geojson(obj: Any) -> dict[str, Any]:
    """The geometry of a GeoJSON Feature or a bare geometry."""
    if not isinstance(obj, dict):
        raise ZoneGeometryInvalid("expected a GeoJSON object")
    if obj.get("type") == "Feature":
        obj = obj.get("geometry")
        if not isinstance(obj, dict):
            raise ZoneGeometryInvalid("the Feature has no geometry")
    if obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise ZoneGeometryInvalid(f"a zone must be a Polygon or MultiPolygon, not {obj.get('type')!r}")
    return obj


def to_multipolygon(geojson_geometry: dict[str, Any], repair: bool = False) -> MultiPolygon:
    """A valid MultiPolygon, or ZoneGeometryInvalid saying what is wrong (and where)."""
    try:
        geom = shape(geojson_geometry)
    except (ShapelyError, GEOSException, ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ZoneGeometryInvalid(f"not a readable polygon: {e}") from None
    if geom.is_empty:
        raise ZoneGeometryInvalid("the polygon is empty")
    _check_ranges(geom)
    if not geom.is_valid:
        if not repair:
            raise ZoneGeometryInvalid(f"invalid polygon: {explain_validity(geom)}")
        geom = make_valid(geom)
    polygons = [p for p in _polygons_of(geom) if not p.is_empty and p.area > 0]
    if not polygons:
        raise ZoneGeometryInvalid("the polygon has no area")
    return MultiPolygon(polygons)


def to_geojson(geom) -> dict[str, Any]:
    return mapping(geom)
