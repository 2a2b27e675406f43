"""Targets: zones and ad-hoc areas (polygon, circle, buffer around a line) — their union, each person once,
through the API, RQ, SMPP and the simulator."""

from __future__ import annotations

import json
import re

import pytest

from campaigns.exceptions import InvalidCampaign
from campaigns.targeting import areas_from_text
from tests.campaigns.conftest import received, settled
from tests.factories import BOWTIE, IN_A, IN_A_2, IN_B, OUTSIDE, ZONE_A, ZONE_B, create_subscriber, create_zone

# Overlapping the east half of zone A and the west half of zone B.
MIDDLE = {
    "type": "Polygon",
    "coordinates": [[[16.92, 52.38], [16.95, 52.38], [16.95, 52.40], [16.92, 52.40], [16.92, 52.38]]],
}


def _send(api, **target) -> dict:
    status, c = api.post("/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Wyciek gazu", **target})
    assert status == 201, c
    status, sent = api.post(f"/api/v1/campaigns/{c['id']}/send")
    assert status == 202, sent
    return c


def test_overlapping_zones_and_several_homes_give_one_message_each(api, operator, worker, simulator, wait):
    a = create_zone(api, "Wilda", ZONE_A)
    b = create_zone(api, "Rataje", ZONE_B)
    middle = create_zone(api, "Środek", MIDDLE)
    create_subscriber(api, "+48601000001", IN_A)  # in A only
    create_subscriber(api, "+48601000002", IN_A_2)  # in A and in the middle zone
    create_subscriber(api, "+48601000003", IN_A, IN_B)  # two homes, both targeted
    create_subscriber(api, "+48601000004", OUTSIDE)
    c = _send(operator, zone_ids=[a, b, middle], area=MIDDLE)  # the middle once more, as a drawn area
    done = wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert done["recipients"] == 3
    assert sorted(received(simulator)) == ["48601000001", "48601000002", "48601000003"]


def test_a_circle_reaches_those_within_its_radius_in_true_metres(api, operator, worker, simulator, wait):
    # 0.0027° of latitude ≈ 300 m; 0.0045° ≈ 500 m.
    create_subscriber(api, "+48601000011", {"lat": 52.3900, "lon": 16.91})
    create_subscriber(api, "+48601000012", {"lat": 52.3927, "lon": 16.91})  # ~300 m north
    create_subscriber(api, "+48601000013", {"lat": 52.3945, "lon": 16.91})  # ~500 m north
    c = _send(operator, area={"circle": {"lat": 52.39, "lon": 16.91, "radius_m": 400}})
    wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert sorted(received(simulator)) == ["48601000011", "48601000012"]


def test_a_buffer_around_a_line_reaches_the_bank_and_no_further(api, operator, worker, simulator, wait):
    river = {"type": "LineString", "coordinates": [[16.90, 52.39], [16.93, 52.39]]}
    create_subscriber(api, "+48601000021", {"lat": 52.3915, "lon": 16.91})  # ~167 m from the line
    create_subscriber(api, "+48601000022", {"lat": 52.3885, "lon": 16.92})  # ~167 m on the other bank
    create_subscriber(api, "+48601000023", {"lat": 52.3925, "lon": 16.91})  # ~278 m
    create_subscriber(api, "+48601000024", {"lat": 52.3900, "lon": 16.935})  # past the line's end, ~340 m
    c = _send(operator, area={"line": river, "buffer_m": 200})
    wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert sorted(received(simulator)) == ["48601000021", "48601000022"]


def test_zones_and_areas_make_one_union(api, operator, worker, simulator, wait):
    b = create_zone(api, "Rataje", ZONE_B)
    create_subscriber(api, "+48601000031", IN_A)
    create_subscriber(api, "+48601000032", IN_B)
    create_subscriber(api, "+48601000033", OUTSIDE)
    c = _send(operator, zone_ids=[b], area=[{"circle": {"lat": IN_A["lat"], "lon": IN_A["lon"], "radius_m": 50}}])
    done = wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert sorted(received(simulator)) == ["48601000031", "48601000032"]
    assert done["area"][0]["type"] == "circle"


@pytest.mark.parametrize(
    "area, message",
    [
        (BOWTIE, "area 1"),
        ({"circle": {"lat": 52.39, "lon": 16.91, "radius_m": -5}}, "radius_m"),
        ({"circle": {"lat": 52.39, "lon": 16.91}}, "radius_m must be a number"),
        ({"line": {"type": "LineString", "coordinates": [[16.9, 52.39]]}, "buffer_m": 100}, "two positions"),
        ({"line": {"type": "LineString", "coordinates": [[16.9, 52.39], [16.95, 52.39]]}, "buffer_m": 0}, "buffer_m"),
        ({"type": "Point", "coordinates": [16.9, 52.39]}, "Polygon"),
        ("Wilda", "expected"),
    ],
)
def test_bad_areas_are_refused(api, operator, area, message):
    status, body = operator.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "x", "area": area}
    )
    assert status == 422, body
    assert message in body["error"]["message"]


# ---------------------------------------------------------------- an area pasted instead of drawn (the composer)
def test_pasted_lines_of_lat_lon_become_a_closed_polygon_in_geojson_order():
    typed = "52.383, 16.905\n\n52.383;16.925\n52.395\t16.925\n 52.395 , 16.905 \n"
    assert areas_from_text(typed) == [
        {
            "type": "Polygon",
            "coordinates": [[[16.905, 52.383], [16.925, 52.383], [16.925, 52.395], [16.905, 52.395], [16.905, 52.383]]],
        }
    ]


def test_pasted_geojson_features_each_become_an_area():
    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in (ZONE_A, ZONE_B)],
    }
    assert areas_from_text(json.dumps(collection)) == [ZONE_A, ZONE_B]
    assert areas_from_text(json.dumps(ZONE_A)) == [ZONE_A]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "nothing pasted"),
        ("52.38, 16.90\nnear the river\n52.40, 16.93", 'line 2: "near the river" is not "latitude, longitude"'),
        ("52.38, 16.90, 7\n52.38, 16.93\n52.40, 16.93", 'line 1: "52.38, 16.90, 7" is not'),
        ("52.38, 16.90\n52.38, 16.93", "at least three points"),
        ('{"type": "Polygon", "coordinates": [[', "not valid GeoJSON"),
        ('{"type": "Point", "coordinates": [16.9, 52.4]}', "the pasted GeoJSON is a Point"),
        ('{"type": "FeatureCollection", "features": []}', "has no features"),
        (
            "16.91, 52.39\n16.93, 52.39\n16.93, 52.40",
            "line 1: the point (16.91, 52.39) lies outside the service area; latitude and longitude swapped?",
        ),
    ],
)
def test_pasted_text_that_is_no_area_is_refused_saying_why(typed, message):
    with pytest.raises(InvalidCampaign, match=re.escape(message)):
        areas_from_text(typed)


def test_a_pasted_bowtie_is_refused_like_a_drawn_one():
    with pytest.raises(InvalidCampaign, match="area 1"):
        areas_from_text(json.dumps(BOWTIE))
