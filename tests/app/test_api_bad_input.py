"""Bad input gets a 4xx JSON error and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.factories import BOWTIE, IN_A, OUT_OF_RANGE, ZONE_A, create_zone, feature


def _zone_count(api) -> int:
    return len(api.get("/api/v1/zones")[1]["features"])


def _assert_error(status, body, expected_status):
    assert status == expected_status, body
    assert set(body["error"]) >= {"code", "message", "details"}


@pytest.mark.parametrize(
    "what, request_kwargs, expected",
    [
        ("malformed JSON", {"raw": b'{"name": "x", "geometry": '}, 400),
        ("a JSON list", {"raw": b"[1, 2]"}, 400),
        ("self-intersecting polygon", {"body": feature("bowtie", BOWTIE)}, 422),
        ("coordinates out of range", {"body": feature("far", OUT_OF_RANGE)}, 422),
        ("a point is no zone", {"body": feature("pt", {"type": "Point", "coordinates": [16.9, 52.4]})}, 422),
        ("no name", {"body": {"type": "Feature", "properties": {}, "geometry": ZONE_A}}, 422),
        ("garbage coordinates", {"body": feature("bad", {"type": "Polygon", "coordinates": [["a", "b"]]})}, 422),
    ],
)
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
    status, body = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": [zone, 9999]}
    )
    _assert_error(status, body, 422)
    assert "9999" in body["error"]["message"]
    assert api.get("/api/v1/campaigns")[1] == []


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "panic", "severity": "severe", "body": "x"},
        {"kind": "alert", "severity": "loud", "body": "x"},
        {"kind": "alert", "severity": "severe", "body": "   "},
        {"kind": "alert", "severity": "severe", "body": "x" * 2000},
        {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": "all"},
        {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": []},
    ],
)
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


# ---------------------------------------------------------------- issue 19 #10: input that became a 500
def _deep(levels: int) -> bytes:
    return b'{"a": ' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/v1/public/subscriptions"),
        ("POST", "/api/v1/public/subscriptions/verify"),
        ("POST", "/api/v1/campaigns"),
        ("POST", "/api/v1/campaigns/preview"),
        ("POST", "/api/v1/zones"),
        ("POST", "/api/v1/zones/preview"),
        ("POST", "/api/v1/subscribers"),
        ("POST", "/api/v1/billing/tariffs"),
        ("POST", "/api/v1/billing/corrections"),
        ("PATCH", "/api/v1/campaigns/1"),
        ("PUT", "/api/v1/zones/1"),
    ],
)
@pytest.mark.parametrize("levels", [40, 100_000])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(api, method, path, levels):
    client = api.with_token(None) if "/public/" in path else api
    status, body = client.call(method, path, raw=_deep(levels))
    _assert_error(status, body, 400)
    assert "nested too deeply" in body["error"]["message"]


@pytest.mark.parametrize(
    "method, path, payload",
    [
        ("POST", "/api/v1/public/subscriptions", {"phone": "+48601234567", "address": "Głogowska \ud800 77"}),
        ("POST", "/api/v1/zones", {"type": "Feature", "properties": {"name": "Wilda\ud800"}, "geometry": None}),
        ("POST", "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Alarm \ud800", "zone_ids": []}),
        (
            "POST",
            "/api/v1/billing/tariffs",
            {"valid_from": "2030-01-01T00:00:00+01:00", "price_per_part": "0.1", "monthly_fee": "1", "smsc": "\ud800"},
        ),
        (
            "POST",
            "/api/v1/subscribers",
            {"phone": "+48601234567", "verified": True, "locations": [{"lat": 52.39, "lon": 16.91, "label": "\ud800"}]},
        ),
    ],
)
def test_a_lone_surrogate_in_any_text_field_is_a_422_naming_it(api, method, path, payload):
    client = api.with_token(None) if "/public/" in path else api
    raw = json.dumps(payload).encode()  # json.dumps writes the lone surrogate as the escape \ud800
    assert b"\\ud800" in raw
    status, body = client.call(method, path, raw=raw)
    _assert_error(status, body, 422)
    assert "U+D800" in body["error"]["message"]


@pytest.mark.parametrize("key", ["settings", "now", "zone_limits", "author", "session", "extra"])
def test_campaign_keys_that_name_internal_arguments_are_unknown_fields(api, key):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, body = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Alarm.", "zone_ids": [zone], key: 1}
    )
    _assert_error(status, body, 422)
    assert f"unknown field(s): {key}" in body["error"]["message"]


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "10000-01", "2026-13"])
def test_a_billing_month_out_of_range_is_a_422(api, month):
    status, body = api.get(f"/api/v1/billing/report?month={month}")
    _assert_error(status, body, 422)
    assert "month" in body["error"]["message"]


@pytest.mark.parametrize("price", ["1e400", "-1e400", "1e-400", "NaN", "Infinity", "1" * 40])
def test_a_tariff_price_out_of_range_is_a_422(api, price):
    status, body = api.post(
        "/api/v1/billing/tariffs",
        {"valid_from": "2030-01-01T00:00:00+01:00", "price_per_part": price, "monthly_fee": "400"},
    )
    _assert_error(status, body, 422)
    assert "price_per_part" in body["error"]["message"]


@pytest.mark.parametrize(
    "csv_body, problem",
    [
        ("smsc_message_id,sent_at,parts,amount\nA1,2026-11-03T10:00:00+01:00,1,0.18\x00\n", "U+0000"),
        ("smsc_message_id,sent_at,parts,amount\nA1,9999-12-31T23:59:59-05:00,1,0.18\n", "9999"),
    ],
)
def test_a_reconciliation_csv_with_a_nul_or_an_impossible_time_is_a_422(api, csv_body, problem):
    status, body = api.call("POST", "/api/v1/billing/reconciliations?month=2026-11", raw=csv_body.encode())
    _assert_error(status, body, 422)
    assert problem in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "Feature", "properties": {"name": "X"}, "geometry": {"type": "Polygon", "coordinates": '
        b"[[[1" + b"0" * 400 + b", 52.4], [16.9, 52.4], [16.9, 52.5], [1" + b"0" * 400 + b", 52.4]]]}}",
        b'{"type": "Feature", "properties": {"name": "X"}, "geometry": {"type": "Polygon", "coordinates": '
        b"[[[-1" + b"0" * 30 + b", 52.4], [16.9, 52.4], [16.9, 52.5], [-1" + b"0" * 30 + b", 52.4]]]}}",
    ],
)
def test_numbers_beyond_every_range_are_a_422_not_a_500(api, live_server, raw):
    """Found by tests/security/test_hostile_json.py: an integer of 400 digits could not become a float (500)."""
    import requests

    status, body = api.post("/api/v1/zones", raw=raw)
    _assert_error(status, body, 422)
    assert body["error"]["code"] == "number_out_of_range"
    # The same file as an import (no JSON request body: the zone rules themselves refuse it).
    r = requests.post(
        f"{live_server}/api/v1/zones/import",
        timeout=30,
        data=b'{"type": "FeatureCollection", "features": [' + raw + b"]}",
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/octet-stream"},
    )
    assert 400 <= r.status_code < 500, r.text
    status, body = api.post(
        "/api/v1/campaigns",
        raw=b'{"kind": "alert", "severity": "severe", "body": "A", '
        b'"area": {"circle": {"lat": 1' + b"0" * 400 + b', "lon": 16.9, "radius_m": 100}}}',
    )
    _assert_error(status, body, 422)
    assert _zone_count(api) == 0
