"""The pages that show official warnings, with one in, checked by axe-core (WCAG 2.1 AA) in Chromium: the
dashboard's review card with its map, the feed page and the draft's campaign page with its follow-up note."""

from __future__ import annotations

import pytest

from feeds.service import poll_source
from syrena_core.config import FeedSettings, FeedSource, replace
from tests.app.test_accessibility import axe_violations, described
from tests.conftest import PASSWORD, _offline
from tests.feeds.conftest import Route, cap_file

pytestmark = pytest.mark.browser


def test_official_warning_pages_have_no_wcag_violations(
    browser, live_server, settings, feed_server, poznan_zones, make_user
):
    source = FeedSource(name="imgw", url=feed_server.url("/warning.xml"))
    test_settings = replace(settings, feeds=FeedSettings(sources=(source,), timeout_seconds=1.0))
    feed_server.routes["/warning.xml"] = Route(cap_file("poznan_warta_flood.xml"))
    [draft] = poll_source(settings.database.url, source, test_settings).drafts
    feed_server.routes["/warning.xml"] = Route(cap_file("poznan_warta_flood_update.xml"))
    poll_source(settings.database.url, source, test_settings)
    email, _token = make_user("operator")
    context = browser.new_context(base_url=live_server, locale="pl-PL", bypass_csp=True)  # axe is injected inline
    context.route("**/*", _offline(live_server))
    try:
        page = context.new_page()
        page.goto("/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form.form button[type=submit]").click()
        page.wait_for_url(lambda url: url.rstrip("/") == live_server)
        found = {}
        for path in ("/", "/feeds", f"/campaigns/{draft}"):
            page.goto(path, wait_until="load")
            page.wait_for_load_state("networkidle")
            if path == "/":
                assert page.locator("#official-warnings svg.warning-map").count() == 1
                assert "Nowe ostrzeżenie urzędowe" in page.locator("#official-warnings h2").inner_text()
            if path.startswith("/campaigns/"):
                assert "zaktualizowało" in page.locator("#source-follow-up").inner_text()
            violations = axe_violations(page)
            if violations:
                found[path] = violations
        assert not found, described(found)
    finally:
        context.close()
