"""The zones as the public sees them: GeoJSON with names only, and the server's SVG drawing (north up, one path
per zone, holes kept, a label inside each)."""

from __future__ import annotations

import re

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape

from tests.factories import ZONE_A, ZONE_B
from zones.models import Zone
from zones.outline import public_features, svg_map

NORTH = Polygon([(16.90, 52.42), (16.93, 52.42), (16.93, 52.44), (16.90, 52.44)])


def _zone(zone_id: int, name: str, geometry) -> Zone:
    polygon = geometry if isinstance(geometry, Polygon) else shape(geometry)
    return Zone(
        id=zone_id, name=name, code=name.upper(), colour="#2e86ab", geom=from_shape(MultiPolygon([polygon]), 4326)
    )


def _numbers(path: str) -> list[float]:
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]


def test_the_public_geojson_holds_outlines_and_names_only():
    zone = _zone(1, "Wilda", ZONE_A)
    zone.description = "for staff"
    feature = public_features([zone])["features"][0]
    assert feature["properties"] == {"name": "Wilda", "code": "WILDA", "colour": "#2e86ab"}
    assert feature["geometry"]["type"] == "MultiPolygon"


def test_the_drawing_fits_its_width_keeps_north_up_and_labels_each_zone_inside_it():
    drawing = svg_map([_zone(1, "West", ZONE_A), _zone(2, "East", ZONE_B), _zone(3, "North", NORTH)], width=600)
    assert drawing.width == 600 and drawing.height > 0
    by_name = {s.name: s for s in drawing.shapes}
    for shape_ in drawing.shapes:
        assert shape_.path.startswith("M") and shape_.path.endswith("Z")
        xs, ys = _numbers(shape_.path)[0::2], _numbers(shape_.path)[1::2]
        assert min(xs) >= 0 and max(xs) <= 600 and min(ys) >= 0 and max(ys) <= drawing.height
        assert min(xs) < shape_.label_x < max(xs) and min(ys) < shape_.label_y < max(ys)
    assert by_name["West"].label_x < by_name["East"].label_x  # west on the left
    assert by_name["North"].label_y < by_name["West"].label_y  # north on top


def test_a_hole_is_drawn_as_a_second_ring_and_no_zones_draw_nothing():
    ring = Polygon(
        [(16.90, 52.38), (16.93, 52.38), (16.93, 52.40), (16.90, 52.40)],
        [[(16.91, 52.385), (16.92, 52.385), (16.92, 52.395), (16.91, 52.395)]],
    )
    assert svg_map([_zone(1, "Ring", ring)]).shapes[0].path.count("M") == 2
    assert svg_map([]) is None
