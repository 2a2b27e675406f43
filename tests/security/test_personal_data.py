"""Issue 19, risk "personal data by role": finance and approvers see residents' numbers masked
("+48 601 *** *12") and no places; operators and admins see them in full; every view of a subscriber's detail
is audited, whoever looks."""

from __future__ import annotations

import pytest

from tests.factories import IN_A, ZONE_A, create_zone
from tests.security.conftest import audit_rows  # noqa: F401 (a fixture)

PHONE = "+48601234512"
MASKED = "+48 601 *** *12"
ADDRESS = "Górna Wilda 7"


@pytest.fixture
def resident(api):
    create_zone(api, "Wilda", ZONE_A)
    status, body = api.post(
        "/api/v1/subscribers",
        {
            "phone": PHONE,
            "verified": True,
            "locations": [{"label": "dom", "address": ADDRESS, "lat": IN_A["lat"], "lon": IN_A["lon"]}],
        },
    )
    assert status == 201, body
    return body["id"]


def _digits(html: str) -> bool:
    return PHONE in html or "601234512" in html


@pytest.mark.parametrize("role", ["finance", "approver"])
def test_finance_and_approvers_see_numbers_masked_and_no_places(role, staff, resident, audit_rows):
    web, email, _token = staff(role)
    listing = web.get("/subscribers/")
    assert listing.status_code == 200
    assert MASKED in listing.text and not _digits(listing.text)
    assert ADDRESS not in listing.text and 'name="q"' not in listing.text
    found = web.get("/subscribers/?q=" + ADDRESS.split()[0]).text  # no search by address either
    assert "Found: 1" in found or "data-subscriber-id" in found  # the query is ignored, not answered
    detail = web.get(f"/subscribers/{resident}")
    assert detail.status_code == 200
    assert MASKED in detail.text and not _digits(detail.text)
    assert ADDRESS not in detail.text and "dom:" not in detail.text
    assert f"{IN_A['lat']:.5f}" not in detail.text and 'id="places-hidden"' in detail.text
    views = [a for a in audit_rows("subscriber.view") if a["object_id"] == str(resident)]
    assert [(a["actor"], a["details"]["full"]) for a in views] == [(email, False)]


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operators_and_admins_see_them_in_full_and_each_look_is_audited(role, staff, resident, audit_rows):
    web, email, _token = staff(role)
    listing = web.get("/subscribers/").text
    assert PHONE in listing and ADDRESS in listing
    assert "data-subscriber-id" in web.get("/subscribers/?q=Wilda").text
    for _ in range(2):
        detail = web.get(f"/subscribers/{resident}").text
        assert PHONE in detail and ADDRESS in detail and MASKED not in detail
    views = [a for a in audit_rows("subscriber.view") if a["object_id"] == str(resident)]
    assert [(a["actor"], a["details"]["full"]) for a in views] == [(email, True), (email, True)]
