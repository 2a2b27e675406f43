"""Shapes and people the tests reuse: two neighbouring zones in Poznań and points in and around them."""
from __future__ import annotations

ZONE_A = {"type": "Polygon", "coordinates": [[[16.90, 52.38], [16.93, 52.38], [16.93, 52.40], [16.90, 52.40],
                                              [16.90, 52.38]]]}
ZONE_B = {"type": "Polygon", "coordinates": [[[16.94, 52.38], [16.97, 52.38], [16.97, 52.40], [16.94, 52.40],
                                              [16.94, 52.38]]]}
IN_A = {"lat": 52.39, "lon": 16.91}
IN_A_2 = {"lat": 52.385, "lon": 16.92}
IN_B = {"lat": 52.39, "lon": 16.95}
OUTSIDE = {"lat": 52.42, "lon": 16.91}
BOWTIE = {"type": "Polygon", "coordinates": [[[16.90, 52.40], [16.95, 52.45], [16.95, 52.40], [16.90, 52.45],
                                              [16.90, 52.40]]]}
OUT_OF_RANGE = {"type": "Polygon", "coordinates": [[[200, 52.40], [201, 52.40], [201, 52.45], [200, 52.40]]]}


def feature(name: str, geometry: dict) -> dict:
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


def create_zone(api, name: str, geometry: dict) -> int:
    status, body = api.post("/api/v1/zones", feature(name, geometry))
    assert status == 201, body
    return body["id"]


def create_subscriber(api, phone: str, *locations: dict) -> int:
    status, body = api.post("/api/v1/subscribers", {
        "phone": phone, "verified": True,
        "locations": [dict(loc, label=f"place {n}") for n, loc in enumerate(locations)]})
    assert status == 201, body
    return body["id"]
