"""Shapes for the zones tests, in Poznań: a square with a square hole, and its eastern neighbour."""

from __future__ import annotations

# 16.90–16.94 × 52.38–52.42, with a hole 16.91–16.93 × 52.39–52.41.
DONUT = {
    "type": "Polygon",
    "coordinates": [
        [[16.90, 52.38], [16.94, 52.38], [16.94, 52.42], [16.90, 52.42], [16.90, 52.38]],
        [[16.91, 52.39], [16.91, 52.41], [16.93, 52.41], [16.93, 52.39], [16.91, 52.39]],
    ],
}
# Shares the edge lon = 16.94 with DONUT.
EAST = {
    "type": "Polygon",
    "coordinates": [[[16.94, 52.38], [16.98, 52.38], [16.98, 52.42], [16.94, 52.42], [16.94, 52.38]]],
}

INSIDE_DONUT = (52.385, 16.905)  # (lat, lon) in the ring of DONUT
IN_THE_HOLE = (52.40, 16.92)
ON_SHARED_EDGE = (52.40, 16.94)
ON_OUTER_CORNER = (52.38, 16.90)
INSIDE_EAST = (52.40, 16.96)
OUTSIDE = (52.45, 16.92)


def feature(name: str, geometry: dict, **properties) -> dict:
    return {"type": "Feature", "properties": {"name": name, **properties}, "geometry": geometry}


def square(lon: float, lat: float, size: float = 0.01) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]],
    }
