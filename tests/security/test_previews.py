"""Issue 19, risk "costly previews": an area preview counts residents on every change while someone draws, so
it is bounded ([zones] preview_max_vertices, preview_max_area_km2: 422 naming the bound) and limited per user
([zones] preview_limit, 30 per minute: 429 JSON saying when to try again) — over the API and the staff pages."""

from __future__ import annotations

import math

from tests.factories import ZONE_A
from tests.helpers import ApiClient
from tests.security.conftest import csrf_of


def _ring(n: int, lon=16.92, lat=52.40, r=0.01) -> dict:
    pts = [[lon + r * math.cos(2 * math.pi * i / n), lat + r * math.sin(2 * math.pi * i / n)] for i in range(n)]
    return {"type": "Polygon", "coordinates": [pts + [pts[0]]]}


# About 0.6° × 0.4° near Poznań: some 1,900 km², under a saved zone's 3,000 km² but over a preview's 1,000.
HUGE = {"type": "Polygon", "coordinates": [[[16.6, 52.2], [17.2, 52.2], [17.2, 52.6], [16.6, 52.6], [16.6, 52.2]]]}


def test_a_preview_is_bounded_in_vertices_and_area(api):
    status, body = api.post("/api/v1/zones/preview", _ring(12_000))
    assert (status, body["error"]["code"]) == (422, "invalid_zone"), body
    assert "10,000" in body["error"]["message"]
    status, body = api.post("/api/v1/zones/preview", HUGE)
    assert status == 422 and "1,000 km²" in body["error"]["message"], body
    assert api.post("/api/v1/zones/preview", _ring(2_000))[0] == 200  # a real district's outline is fine

    status, body = api.post(
        "/api/v1/campaigns/preview", {"kind": "alert", "severity": "extreme", "body": "Test.", "area": [HUGE]}
    )
    assert (status, body["error"]["code"]) == (422, "invalid_campaign"), body
    assert "km²" in body["error"]["message"]
    line = {
        "line": {"type": "LineString", "coordinates": [[16.9 + i * 1e-6, 52.4] for i in range(10_001)]},
        "buffer_m": 50,
    }
    status, body = api.post(
        "/api/v1/campaigns/preview", {"kind": "alert", "severity": "extreme", "body": "Test.", "area": [line]}
    )
    assert status == 422 and "positions" in body["error"]["message"], body


def test_previews_are_limited_per_user_with_a_clear_429(api, live_server, make_user, staff):
    operator = ApiClient(live_server, make_user("operator")[1])
    for _ in range(30):
        status, body = operator.post("/api/v1/zones/preview", ZONE_A)
        assert status == 200, body
    status, body = operator.post(
        "/api/v1/campaigns/preview", {"kind": "alert", "severity": "extreme", "body": "Test.", "area": [ZONE_A]}
    )
    assert (status, body["error"]["code"]) == (429, "rate_limited"), body  # one budget for both previews
    assert "area previews" in body["error"]["message"] and body["error"]["details"]["retry_after"] >= 1
    assert api.post("/api/v1/zones/preview", ZONE_A)[0] == 200  # another user is not affected

    web, _email, _token = staff("operator")
    token = csrf_of(web.get("/zones/").text)
    statuses = [
        web.http.post(
            web.base + "/zones/data/preview", json=ZONE_A, timeout=30, headers={"X-CSRFToken": token}
        ).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429, statuses
    r = web.http.post(
        web.base + "/campaigns/preview",
        json={"kind": "alert", "severity": "extreme", "body": "Test.", "area": [ZONE_A]},
        timeout=30,
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text[:300]
