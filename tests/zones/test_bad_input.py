"""Every kind of bad zone input gets a clear 4xx naming the problem, and nothing is written."""

from __future__ import annotations

import json
import math

import pytest

from syrena_core.config import replace
from tests.zones.shapes import DONUT, EAST, feature, square

BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[16.90, 52.40], [16.95, 52.45], [16.95, 52.40], [16.90, 52.45], [16.90, 52.40]]],
}


def ring(*corners) -> dict:
    return {"type": "Polygon", "coordinates": [list(map(list, corners))]}


def circle(points: int, lon: float = 16.92, lat: float = 52.40, radius: float = 0.01) -> dict:
    coords = [
        [lon + radius * math.cos(2 * math.pi * i / points), lat + radius * math.sin(2 * math.pi * i / points)]
        for i in range(points)
    ]
    return {"type": "Polygon", "coordinates": [coords + [coords[0]]]}


def zone_count(api) -> int:
    return len(api.get("/api/v1/zones?include_archived=true")[1]["features"])


BAD_ZONES = [
    ("not GeoJSON", {"name": "x", "shape": "square"}, 422, "not GeoJSON"),
    ("a Point", feature("x", {"type": "Point", "coordinates": [16.9, 52.4]}), 422, "not 'Point'"),
    (
        "a LineString",
        feature("x", {"type": "LineString", "coordinates": [[16.9, 52.4], [16.95, 52.4]]}),
        422,
        "not 'LineString'",
    ),
    ("a Feature without geometry", {"type": "Feature", "properties": {"name": "x"}}, 422, "no geometry"),
    (
        "longitude out of range",
        feature("x", ring((200, 52.4), (201, 52.4), (201, 52.45), (200, 52.4))),
        422,
        "out of range",
    ),
    (
        "latitude out of range",
        feature("x", ring((16.9, 95), (16.95, 95), (16.95, 96), (16.9, 95))),
        422,
        "out of range",
    ),
    (
        "swapped lat/lon",
        feature("x", ring((52.40, 16.90), (52.40, 16.95), (52.45, 16.95), (52.40, 16.90))),
        422,
        "swapped",
    ),
    ("outside the service area", feature("x", square(2.35, 48.85)), 422, "outside the service area"),
    ("three positions", feature("x", ring((16.90, 52.40), (16.95, 52.40), (16.90, 52.40))), 422, "at least 4"),
    (
        "an unclosed ring",
        feature("x", ring((16.90, 52.40), (16.95, 52.40), (16.95, 52.45), (16.90, 52.45))),
        422,
        "not closed",
    ),
    (
        "an unclosed hole",
        feature("x", {"type": "Polygon", "coordinates": [DONUT["coordinates"][0], DONUT["coordinates"][1][:-1]]}),
        422,
        "hole 1 is not closed",
    ),
    ("a self-intersecting ring", feature("x", BOWTIE), 422, "Self-intersection at longitude 16.925"),
    ("empty coordinates", feature("x", {"type": "Polygon", "coordinates": []}), 422, "empty"),
    ("zero area", feature("x", ring((16.90, 52.40), (16.91, 52.41), (16.92, 52.42), (16.90, 52.40))), 422, "no area"),
    ("text for coordinates", feature("x", {"type": "Polygon", "coordinates": [["a", "b"]]}), 422, "position"),
    (
        "infinite coordinates",
        feature("x", ring((16.90, 52.40), (16.95, 52.40), (16.95, 1e999), (16.90, 52.40))),
        422,
        "finite",
    ),
    ("a larger area than allowed", feature("x", square(14.5, 49.5, 4.0)), 422, "km²"),
    ("no name", {"type": "Feature", "properties": {}, "geometry": DONUT}, 422, "needs a name"),
    ("a code with diacritics", feature("x", DONUT, code="ŁAZARZ"), 422, "letters A–Z"),
    ("a code with a space", feature("x", DONUT, code="STARE MIASTO"), 422, "letters A–Z"),
    ("a bad colour", feature("x", DONUT, colour="red"), 422, "#rrggbb"),
]


NOT_ABOUT_THE_SHAPE = {"no name", "a code with diacritics", "a code with a space", "a bad colour"}


@pytest.mark.parametrize("what, body, status, words", BAD_ZONES, ids=[b[0] for b in BAD_ZONES])
def test_a_bad_zone_is_refused_with_a_clear_message_and_nothing_written(api, what, body, status, words):
    got, answer = api.post("/api/v1/zones", body)
    assert got == status, answer
    assert words in answer["error"]["message"]
    assert zone_count(api) == 0
    # The preview (for what concerns the shape) and the import refuse it with the same words.
    if what not in NOT_ABOUT_THE_SHAPE:
        got, answer = api.post("/api/v1/zones/preview", body)
        assert got == 422 and words in answer["error"]["message"], answer
    got, answer = api.post(
        "/api/v1/zones/import", {"type": "FeatureCollection", "features": [feature("Dobra", EAST), body]}
    )
    assert got == 422 and "feature 2" in answer["error"]["message"] and words in answer["error"]["message"]
    assert zone_count(api) == 0


def test_malformed_json_and_non_objects_are_400(api):
    for raw in (b'{"type": "Feature", "geometry": ', b"[1, 2]", b"\xff\xfe"):
        status, body = api.call("POST", "/api/v1/zones", raw=raw)
        assert status == 400, body
    assert zone_count(api) == 0


def test_a_self_intersecting_ring_is_repaired_on_request_and_the_change_reported(api):
    status, body = api.post("/api/v1/zones?repair=true", feature("Kokardka", BOWTIE))
    assert status == 201, body
    (change,) = body["repairs"]
    assert "Self-intersection at longitude 16.925000, latitude 52.425000" in change
    assert "became 2" in change
    assert body["geometry"]["type"] == "MultiPolygon" and len(body["geometry"]["coordinates"]) == 2


def test_a_duplicate_name_is_a_conflict_whatever_the_case(api):
    assert api.post("/api/v1/zones", feature("Wilda", DONUT))[0] == 201
    status, body = api.post("/api/v1/zones", feature("WILDA", EAST))
    assert status == 409 and "Wilda" in body["error"]["message"]
    zone_id = api.post("/api/v1/zones", feature("Dębiec", EAST))[1]["id"]
    status, body = api.call("PUT", f"/api/v1/zones/{zone_id}", {"type": "Feature", "properties": {"name": "wilda"}})
    assert status == 409
    assert zone_count(api) == 2
    assert api.get(f"/api/v1/zones/{zone_id}")[1]["properties"]["name"] == "Dębiec"


def test_a_bad_edit_changes_nothing(api):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    status, body = api.call("PUT", f"/api/v1/zones/{zone_id}", feature("Wilda Nowa", BOWTIE))
    assert status == 422 and "Self-intersection" in body["error"]["message"]
    zone = api.get(f"/api/v1/zones/{zone_id}")[1]
    assert zone["properties"]["name"] == "Wilda"


@pytest.mark.parametrize(
    "raw, words",
    [
        ('{"type": "FeatureCollection", "features": [{"name": "Łazarz"}]}'.encode("iso-8859-2"), "not UTF-8"),
        (b"name;geometry\nWilda;POLYGON", "not JSON"),
        (json.dumps(feature("Wilda", DONUT)).encode(), "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": []}', "no features"),
    ],
)
def test_an_import_file_that_is_not_utf8_geojson_is_400(api, raw, words):
    status, body = api.call("POST", "/api/v1/zones/import", raw=raw)
    assert status == 400, body
    assert words in body["error"]["message"]
    assert zone_count(api) == 0


def test_duplicate_names_inside_one_file_refuse_the_whole_file(api):
    status, body = api.post(
        "/api/v1/zones/import",
        {"type": "FeatureCollection", "features": [feature("Wilda", DONUT), feature("Wilda", EAST)]},
    )
    assert status == 422 and "feature 2 ('Wilda')" in body["error"]["message"]
    assert zone_count(api) == 0


def test_the_vertex_limit_comes_from_the_configuration(settings, make_user):
    """An app configured with [zones] max_vertices = 100 refuses a 150-vertex circle, takes a 60-vertex one."""
    from app import create_app

    strict = create_app(replace(settings, zones=replace(settings.zones, max_vertices=100)), {"TESTING": True})
    _email, token = make_user("operator")
    client = strict.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post("/api/v1/zones", json=feature("Rondo", circle(150)), headers=headers)
    assert refused.status_code == 422
    assert "151 vertices; at most 100" in refused.get_json()["error"]["message"]
    assert client.post("/api/v1/zones", json=feature("Rondo", circle(60)), headers=headers).status_code == 201
