"""Every API route asks who is calling and what their role allows."""

from __future__ import annotations

import pytest

from tests.factories import IN_A, ZONE_A, create_zone, feature


def test_no_token_is_401(api):
    status, body = api.with_token(None).get("/api/v1/zones")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_unknown_token_is_401(api):
    status, _ = api.with_token("not-a-token").get("/api/v1/campaigns")
    assert status == 401


@pytest.mark.parametrize("role", ["finance", "approver"])
def test_roles_that_do_not_send_cannot_create_campaigns(api, make_user, role):
    zone = create_zone(api, "Wilda", ZONE_A)
    _email, token = make_user(role)
    status, body = api.with_token(token).post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "minor", "body": "x", "zone_ids": [zone]}
    )
    assert status == 403
    assert "error" in body
    assert api.get("/api/v1/campaigns")[1] == []


def test_finance_can_read_but_not_draw_zones(api, make_user):
    _email, token = make_user("finance")
    finance = api.with_token(token)
    assert finance.get("/api/v1/zones")[0] == 200
    assert finance.post("/api/v1/zones", feature("Wilda", ZONE_A))[0] == 403


def test_only_admins_register_subscribers_through_the_api(api, make_user):
    _email, token = make_user("operator")
    status, _ = api.with_token(token).post(
        "/api/v1/subscribers", {"phone": "+48601234567", "location": IN_A, "verified": True}
    )
    assert status == 403


def test_operator_can_draw_zones(api, make_user):
    _email, token = make_user("operator")
    status, body = api.with_token(token).post("/api/v1/zones", feature("Wilda", ZONE_A))
    assert status == 201
    assert body["properties"]["code"] == "WILDA"


def test_openapi_document_describes_the_routes_and_needs_no_token(api):
    # Public since issue 17 (the /api/docs page reads it): routes and shapes only; the routes still need tokens.
    status, doc = api.with_token(None).get("/api/v1/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/zones", "/api/v1/subscribers", "/api/v1/campaigns", "/api/v1/campaigns/{id}/send"):
        assert path in doc["paths"]
