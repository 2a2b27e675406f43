"""Hostile text — HTML, JavaScript, SQL metacharacters — in zone names, campaign texts and subscribers'
addresses is stored and shown verbatim, and nothing runs: headless Chromium renders the pages and checks
that no injected script executed and that the pages broke no Content-Security-Policy rule of their own."""

from __future__ import annotations

import pytest

from tests.factories import IN_A, ZONE_A

pytestmark = pytest.mark.browser

# Each would set window.__pwned if the page ran it.
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
SQL = "'; DROP TABLE zone; -- \" OR 1=1 --"
NAME = f"Wilda {XSS} {SQL}"[:120]


@pytest.fixture
def hostile(api, settings):
    status, zone = api.post(
        "/api/v1/zones", {"type": "Feature", "properties": {"name": NAME, "description": XSS}, "geometry": ZONE_A}
    )
    assert status == 201, zone
    status, sub = api.post(
        "/api/v1/subscribers",
        {
            "phone": "+48601200399",
            "verified": True,
            "locations": [dict(IN_A, label="<b>Dom</b><svg onload=alert(1)>'--", address=f"ul. {SQL} {XSS}")],
        },
    )
    assert status == 201, sub
    status, campaign = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "title": f"T {XSS}",
            "body": f"Uwaga {XSS} {SQL}",
            "zone_ids": [zone["id"]],
        },
    )
    assert status == 201, campaign
    return {"zone": zone, "subscriber": sub["id"], "campaign": campaign["id"]}


def test_hostile_text_is_stored_verbatim(api, hostile, db):
    from sqlalchemy import text

    assert db.execute(text("SELECT name FROM zone WHERE id = :id"), {"id": hostile["zone"]["id"]}).scalar() == NAME
    status, campaign = api.get(f"/api/v1/campaigns/{hostile['campaign']}")
    assert status == 200 and campaign["body"] == f"Uwaga {XSS} {SQL}"
    assert db.execute(text("SELECT count(*) FROM zone")).scalar() == 1  # the DROP stayed text


def test_hostile_text_is_shown_verbatim_and_never_runs(hostile, page, login, make_user):
    email, _ = make_user("admin")
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, email)
    pages = [
        "/",
        "/zones/",
        "/campaigns/",
        f"/campaigns/{hostile['campaign']}",
        f"/campaigns/{hostile['campaign']}/review",
        "/subscribers/",
        f"/subscribers/{hostile['subscriber']}",
        "/admin/audit/",
        "/admin/users/",
        "/account",
    ]
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None, f"injected script ran on {path}"
        assert page.locator("img[src=x]").count() == 0, f"injected markup became an element on {path}"
    page.goto("/zones/")
    assert page.get_by_text(NAME, exact=False).count() >= 1  # shown as text, character for character
    page.goto(f"/subscribers/{hostile['subscriber']}")
    assert page.get_by_text(f"ul. {SQL}", exact=False).count() >= 1
    assert violations == [], "a page breaks its own Content-Security-Policy (inline script or style)"


def test_the_public_pages_never_run_hostile_text(hostile, api, page):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for path in ("/subscribe/", "/alerts"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None
    assert violations == []
