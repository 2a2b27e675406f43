"""What staff see of official warnings: the dashboard's review card with its map, the feed page's status lines,
the campaign page's note about an update, and GET /api/v1/feeds/alerts."""

from __future__ import annotations

import re

from feeds.service import poll_source
from syrena_core.config import FeedSettings, FeedSource, replace
from tests.feeds.conftest import Route, cap_file


def _logged_in_client(app, email: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": "Correct-Horse-42", "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def _poll(settings, feed_server, path: str, name: str) -> list[int]:
    feed_server.routes["/warning.xml"] = Route(cap_file(path))
    source = FeedSource(name="imgw", url=feed_server.url("/warning.xml"))
    test_settings = replace(settings, feeds=FeedSettings(sources=(source,), timeout_seconds=1.0))
    return poll_source(settings.database.url, source, test_settings).drafts


def test_staff_see_the_warning_its_map_and_its_draft(app, settings, feed_server, poznan_zones, make_user, api):
    [draft] = _poll(settings, feed_server, "poznan_warta_flood.xml", "imgw")
    email, _ = make_user("operator")
    client = _logged_in_client(app, email)
    dashboard = client.get("/").get_data(as_text=True)
    assert 'id="official-warnings"' in dashboard
    assert f"/campaigns/{draft}" in dashboard and "warning-map" in dashboard
    _poll(settings, feed_server, "poznan_warta_flood_update.xml", "imgw")
    detail = client.get(f"/campaigns/{draft}").get_data(as_text=True)
    assert 'id="source-follow-up"' in detail and "2.49.0.0.616.0.PL.TEST.SYRENA.0001" in detail
    listing = client.get("/feeds").get_data(as_text=True)
    assert 'data-state="drafted"' in listing and 'data-state="follow_up"' in listing
    # The API: incoming alerts with the draft's id.
    status, body = api.get("/api/v1/feeds/alerts")
    assert status == 200 and body["total"] == 2
    first = body["items"][-1]
    assert first["identifier"] == "2.49.0.0.616.0.PL.TEST.SYRENA.0001" and first["campaign_id"] == draft
    assert first["msg_type"] == "Alert" and first["state"] == "drafted" and first["severity"] == "Severe"
    assert first["sent"] == "2026-12-06T07:00:00+00:00"


def test_the_feed_page_lists_configured_sources_with_their_status(app, make_user):
    email, _ = make_user("operator")
    page = _logged_in_client(app, email).get("/feeds")
    assert page.status_code == 200
    assert 'id="no-sources"' in page.get_data(as_text=True)  # none configured in the test settings
