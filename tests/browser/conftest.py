"""Headless Chromium (Debian's, never a Playwright download) driving the admin UI over real HTTP."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("SYRENA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "Correct-Horse-42"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
                    "(or point SYRENA_CHROMIUM at a Chromium binary); never `playwright install`.",
                    pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _offline(live_server: str):
    """Only the app under test is reachable: map tiles and anything else outside fail at once,
    as they would in a crisis room without Internet (and never slow a test down)."""
    own = urlsplit(live_server).netloc

    def route(r):
        if urlsplit(r.request.url).netloc == own:
            r.continue_()
        else:
            r.abort("internetdisconnected")
    return route


@pytest.fixture
def new_context(browser, live_server):
    """new_context(**options): a fresh browser context (no cookies) on the live server; closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("locale", "pl-PL")
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        context.route("**/*", _offline(live_server))
        contexts.append(context)
        return context
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh context with a Polish browser (a crisis-room PC in Poznań)."""
    return new_context().new_page()


@pytest.fixture
def login():
    """login(page, email): log in through the form, wait for the dashboard."""
    def do(page, email: str, password: str = PASSWORD):
        page.goto("/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(password)
        page.locator("form.form button[type=submit]").click()
        page.wait_for_url(lambda url: urlsplit(url).path == "/")
    return do
