"""GeoJSON answers (app/geojson.py, zones.geometry.to_geojson): served as application/geo+json, with RFC 7946
ring orientation — exterior rings counter-clockwise, holes clockwise — however the zone was drawn."""

from __future__ import annotations

import requests
from shapely.geometry import LinearRing

from tests.security.conftest import Web, csrf_of

GEOJSON = "application/geo+json"
# Drawn clockwise (west → north → east → south), with a hole drawn counter-clockwise: both against the RFC.
CLOCKWISE_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[16.90, 52.38], [16.90, 52.40], [16.93, 52.40], [16.93, 52.38], [16.90, 52.38]],
        [[16.91, 52.385], [16.92, 52.385], [16.92, 52.395], [16.91, 52.395], [16.91, 52.385]],
    ],
}
CLOCKWISE_EAST = {
    "type": "Polygon",
    "coordinates": [[[16.94, 52.38], [16.94, 52.40], [16.97, 52.40], [16.97, 52.38], [16.94, 52.38]]],
}


def _polygons(geometry: dict) -> list:
    return geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]


def assert_rfc7946(document: dict) -> int:
    """Every polygon of a Feature or FeatureCollection: exterior counter-clockwise, holes clockwise; how many."""
    features = document["features"] if document["type"] == "FeatureCollection" else [document]
    checked = 0
    for feature in features:
        for exterior, *holes in _polygons(feature["geometry"]):
            assert LinearRing(exterior).is_ccw, f"{feature['properties'].get('name')}: exterior is clockwise"
            assert all(not LinearRing(h).is_ccw for h in holes), "a hole is counter-clockwise"
            checked += 1
    return checked


def _answer(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].split(";")[0] == GEOJSON
    return response.json()


def test_every_zone_api_answer_is_geojson_with_rfc7946_rings(live_server, make_user):
    _email, token = make_user("operator")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"

    def feature(name: str, geometry: dict) -> dict:
        return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}

    created = _answer(api.post(f"{live_server}/api/v1/zones", json=feature("Dziurawa", CLOCKWISE_WITH_HOLE)), 201)
    assert assert_rfc7946(created) == 1
    assert len(created["geometry"]["coordinates"][0]) == 2  # the hole is kept, turned clockwise
    zone_id = created["id"]
    assert assert_rfc7946(_answer(api.get(f"{live_server}/api/v1/zones/{zone_id}"))) == 1
    changed = api.put(f"{live_server}/api/v1/zones/{zone_id}", json=feature("Dziurawa", CLOCKWISE_EAST))
    assert assert_rfc7946(_answer(changed)) == 1
    _answer(api.post(f"{live_server}/api/v1/zones", json=feature("Druga", CLOCKWISE_WITH_HOLE)), 201)
    assert assert_rfc7946(_answer(api.get(f"{live_server}/api/v1/zones"))) == 2
    assert assert_rfc7946(_answer(api.get(f"{live_server}/api/v1/zones.geojson"))) == 2
    assert assert_rfc7946(_answer(api.delete(f"{live_server}/api/v1/zones/{zone_id}"))) == 1
    # The OpenAPI document says so too (schemathesis checks answers against it).
    doc = requests.get(f"{live_server}/api/v1/openapi.json", timeout=30).json()
    assert GEOJSON in doc["paths"]["/api/v1/zones.geojson"]["get"]["responses"]["200"]["content"]


def test_the_zones_page_data_and_export_are_geojson_with_rfc7946_rings(live_server, make_user):
    email, _token = make_user("operator")
    web = Web(live_server)
    assert web.login(email).status_code == 302
    headers = {"X-CSRFToken": csrf_of(web.get("/zones/").text)}
    body = {"type": "Feature", "properties": {"name": "Rysowana"}, "geometry": CLOCKWISE_WITH_HOLE}
    created = _answer(web.http.post(f"{live_server}/zones/data", json=body, headers=headers, timeout=30), 201)
    assert assert_rfc7946(created) == 1
    body["geometry"] = CLOCKWISE_EAST
    changed = web.http.put(f"{live_server}/zones/data/{created['id']}", json=body, headers=headers, timeout=30)
    assert assert_rfc7946(_answer(changed)) == 1
    assert assert_rfc7946(_answer(web.get("/zones/data.geojson"))) == 1
    export = web.get("/zones/export.geojson")
    assert assert_rfc7946(_answer(export)) == 1
    assert export.headers["Content-Disposition"] == "attachment; filename=zones.geojson"
    deleted = web.http.delete(f"{live_server}/zones/data/{created['id']}", headers=headers, timeout=30)
    assert assert_rfc7946(_answer(deleted)) == 1
