"""Bad input gets a 4xx JSON error and changes nothing."""
from __future__ import annotations

import pytest

from tests.factories import BOWTIE, IN_A, OUT_OF_RANGE, ZONE_A, create_zone, feature


def _zone_count(api) -> int:
    return len(api.get("/api/v1/zones")[1]["features"])


def _assert_error(status, body, expected_status):
    assert status == expected_status, body
    assert set(body["error"]) >= {"code", "message", "details"}


@pytest.mark.parametrize("what, request_kwargs, expected", [
    ("malformed JSON", {"raw": b'{"name": "x", "geometry": '}, 400),
    ("a JSON list", {"raw": b"[1, 2]"}, 400),
    ("self-intersecting polygon", {"body": feature("bowtie", BOWTIE)}, 422),
    ("coordinates out of range", {"body": feature("far", OUT_OF_RANGE)}, 422),
    ("a point is no zone", {"body": feature("pt", {"type": "Point", "coordinates": [16.9, 52.4]})}, 422),
    ("no name", {"body": {"type": "Feature", "properties": {}, "geometry": ZONE_A}}, 422),
    ("garbage coordinates", {"body": feature("bad", {"type": "Polygon", "coordinates": [["a", "b"]]})}, 422),
])
def test_bad_zones_are_refused_and_nothing_is_written(api, what, request_kwargs, expected):
    status, body = api.post("/api/v1/zones", **request_kwargs)
    _assert_error(status, body, expected)
    assert _zone_count(api) == 0


def test_invalid_polygon_error_says_what_is_wrong(api):
    _status, body = api.post("/api/v1/zones", feature("bowtie", BOWTIE))
    assert "Self-intersection" in body["error"]["message"]


@pytest.mark.parametrize("phone", ["12ab", "", "+4860", "+48 123", None, 48601234567])
def test_invalid_phone_numbers_are_refused(api, phone):
    status, body = api.post("/api/v1/subscribers", {"phone": phone, "location": IN_A, "verified": True})
    _assert_error(status, body, 422)


@pytest.mark.parametrize("location", [{"lat": 95, "lon": 16.9}, {"lat": "x", "lon": 16.9}, {"lat": 52.4}, "here"])
def test_invalid_locations_are_refused(api, location):
    status, body = api.post("/api/v1/subscribers", {"phone": "+48601234567", "location": location, "verified": True})
    _assert_error(status, body, 422)


def test_a_phone_subscribed_twice_is_a_conflict_and_the_first_stays(api):
    assert api.post("/api/v1/subscribers", {"phone": "601 234 567", "location": IN_A, "verified": True})[0] == 201
    status, body = api.post("/api/v1/subscribers", {"phone": "+48601234567", "location": IN_A, "verified": True})
    _assert_error(status, body, 409)


def test_a_campaign_for_an_unknown_zone_is_refused(api):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, body = api.post("/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "x",
                                                  "zone_ids": [zone, 9999]})
    _assert_error(status, body, 422)
    assert "9999" in body["error"]["message"]
    assert api.get("/api/v1/campaigns")[1] == []


@pytest.mark.parametrize("payload", [
    {"kind": "panic", "severity": "severe", "body": "x"},
    {"kind": "alert", "severity": "loud", "body": "x"},
    {"kind": "alert", "severity": "severe", "body": "   "},
    {"kind": "alert", "severity": "severe", "body": "x" * 2000},
    {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": "all"},
    {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": []},
])
def test_invalid_campaigns_are_refused(api, payload):
    payload.setdefault("zone_ids", [create_zone(api, "Wilda", ZONE_A)])
    status, body = api.post("/api/v1/campaigns", payload)
    _assert_error(status, body, 422)
    assert api.get("/api/v1/campaigns")[1] == []


def test_unknown_campaign_is_404(api):
    status, body = api.get("/api/v1/campaigns/12345")
    _assert_error(status, body, 404)
    status, body = api.post("/api/v1/campaigns/12345/send")
    _assert_error(status, body, 404)
