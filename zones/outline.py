"""The city's live zones as the public sees them: outlines and names, never the staff's fields.

As GeoJSON (the public maps draw it over, or without, background tiles) and as an SVG drawing the server puts
in the page, so that a browser without JavaScript (or a map without tiles) still shows where the zones are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from zones.geometry import to_geojson
from zones.models import Zone

SVG_WIDTH = 600
SVG_MARGIN = 8
# Outlines are drawn to about a pixel: fewer points, a smaller page.
SVG_TOLERANCE_PX = 0.75


def public_features(zones: Iterable[Zone]) -> dict[str, Any]:
    """A FeatureCollection of the zones' outlines with their name, SMS code and colour only."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": z.id,
                "properties": {"name": z.name, "code": z.code, "colour": z.colour},
                "geometry": to_geojson(to_shape(z.geom)),
            }
            for z in zones
        ],
    }


@dataclass(frozen=True)
class SvgShape:
    name: str
    code: str
    colour: str
    path: str  # the SVG path's "d"
    label_x: float
    label_y: float


@dataclass(frozen=True)
class SvgMap:
    width: int
    height: int
    shapes: list[SvgShape]


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return []


def svg_map(zones: Iterable[Zone], width: int = SVG_WIDTH) -> SvgMap | None:
    """The zones projected simply (longitude shrunk by the cosine of the middle latitude, north up) into a
    drawing `width` pixels wide; None when there are no zones."""
    shapes = [(z, to_shape(z.geom)) for z in zones]
    if not shapes:
        return None
    min_x = min(g.bounds[0] for _, g in shapes)
    min_y = min(g.bounds[1] for _, g in shapes)
    max_x = max(g.bounds[2] for _, g in shapes)
    max_y = max(g.bounds[3] for _, g in shapes)
    shrink = math.cos(math.radians((min_y + max_y) / 2))
    span_x = max((max_x - min_x) * shrink, 1e-9)
    span_y = max(max_y - min_y, 1e-9)
    scale = (width - 2 * SVG_MARGIN) / span_x
    height = round(span_y * scale + 2 * SVG_MARGIN)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return SVG_MARGIN + (lon - min_x) * shrink * scale, SVG_MARGIN + (max_y - lat) * scale

    def ring(coords: Iterable[Any]) -> str:
        points = [xy(c[0], c[1]) for c in coords]
        return "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in points) + "Z"

    drawn = []
    for zone, geom in shapes:
        simple = geom.simplify(SVG_TOLERANCE_PX / scale, preserve_topology=True)
        path = "".join(
            ring(p.exterior.coords) + "".join(ring(hole.coords) for hole in p.interiors) for p in _polygons(simple)
        )
        anchor = geom.representative_point()
        label_x, label_y = xy(anchor.x, anchor.y)
        drawn.append(SvgShape(zone.name, zone.code, zone.colour, path, round(label_x, 1), round(label_y, 1)))
    return SvgMap(width, height, drawn)
