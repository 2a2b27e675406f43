"""The web layer's defences: CSRF on every form, a cross-site page cannot approve an alert, security headers,
cookie flags, body size and rate limits, and no start with the default secret key outside development."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from syrena_core.config import replace
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone
from tests.harness import body_closed_before_sending
from tests.security.conftest import Web


def _pending_alert(api) -> int:
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601200301", IN_A)
    status, campaign = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Awaria wodociagu", "zone_ids": [zone]}
    )
    assert status == 201, campaign
    status, body = api.post(f"/api/v1/campaigns/{campaign['id']}/submit")
    assert status == 200 and body["status"] == "pending_approval", body
    return campaign["id"]


def _status(api, campaign_id: int) -> str:
    return api.get(f"/api/v1/campaigns/{campaign_id}")[1]["status"]


def test_a_form_post_without_the_csrf_token_is_refused(api, staff, audit_rows):
    campaign_id = _pending_alert(api)
    approver, _email, _t = staff("approver")
    r = approver.post(f"/campaigns/{campaign_id}/approve", {})
    assert r.status_code == 400
    assert _status(api, campaign_id) == "pending_approval"
    r = approver.post("/logout", {})
    assert r.status_code == 400 and approver.get("/").status_code == 200  # still logged in
    assert not audit_rows("campaign.approve")


@pytest.mark.browser
def test_a_cross_site_page_cannot_approve_an_alert(api, make_user, new_context, live_server, login):
    campaign_id = _pending_alert(api)
    email, _ = make_user("approver")
    context = new_context()
    page = context.new_page()
    login(page, email)
    # The approver, still logged in, opens a page on another site that posts the approval form by itself.
    attack = f"""<!doctype html><form id=f method=post action="{live_server}/campaigns/{campaign_id}/approve">
        <input name=reason value=x></form><script>document.getElementById('f').submit()</script>"""
    context.route("http://evil.example/**", lambda r: r.fulfill(status=200, content_type="text/html", body=attack))
    page.goto("http://evil.example/prize")
    page.wait_for_url(lambda url: url.startswith(live_server))
    assert _status(api, campaign_id) == "pending_approval"
    # The same person on Syrena itself can still do it (the test's attack failed for the right reason).
    page.goto(f"/campaigns/{campaign_id}/review")
    expect(page.locator(f"form[action$='/campaigns/{campaign_id}/approve'] input[name=csrf_token]")).to_have_count(1)


def test_every_page_sends_the_security_headers(staff, web):
    admin, _e, _t = staff("admin")
    for client, path in ((web(), "/login"), (admin, "/"), (admin, "/admin/audit/"), (web(), "/subscribe/")):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP here


def test_hsts_is_sent_over_https(app):
    r = app.test_client().get("/login", base_url="https://syrena.example")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_outside_development_the_default_secret_key_is_refused(settings):
    from app import create_app
    from app.security import InsecureConfiguration

    production = replace(settings, app=replace(settings.app, environment="production", secret_key="dev-only-change-me"))
    with pytest.raises(InsecureConfiguration, match="SYRENA_APP__SECRET_KEY"):
        create_app(production)
    fine = replace(production, app=replace(production.app, secret_key="k" * 40))
    assert create_app(fine).config["SESSION_COOKIE_SECURE"] is True


def test_the_published_secret_key_is_refused_in_every_environment_and_not_shipped(settings):
    """Issue 19: with the committed environment and secret_key a forged cookie opened /admin/users/ as admin."""
    from app import create_app
    from app.security import InsecureConfiguration
    from syrena_core.config import ROOT, load_settings

    dev = replace(settings, app=replace(settings.app, secret_key="dev-only-change-me"))
    assert dev.app.environment == "development"
    with pytest.raises(InsecureConfiguration, match="published"):
        create_app(dev)
    shipped = load_settings(ROOT / "config.toml", environ={})
    assert shipped.app.secret_key == "" and shipped.app.environment == "development"


def test_without_a_key_development_generates_one_and_keeps_it(settings, tmp_path):
    import os

    from app import create_app
    from app.security import InsecureConfiguration

    keyfile = tmp_path / "var" / "secret-key"
    dev = replace(settings, app=replace(settings.app, secret_key="", secret_key_file=str(keyfile)))
    first = create_app(dev).config["SECRET_KEY"]
    assert len(first) >= 32 and first != "dev-only-change-me"
    assert keyfile.read_text() == first and oct(os.stat(keyfile).st_mode & 0o777) == "0o600"
    assert create_app(dev).config["SECRET_KEY"] == first  # kept: sessions survive a restart
    production = replace(dev, app=replace(dev.app, environment="production"))
    with pytest.raises(InsecureConfiguration, match="SYRENA_APP__SECRET_KEY"):
        create_app(production)  # production never relies on a generated file


def test_a_cookie_signed_with_the_published_key_opens_nothing(settings, make_user, tmp_path):
    import threading

    from flask import Flask
    from werkzeug.serving import make_server

    from app import create_app

    dev = replace(settings, app=replace(settings.app, secret_key="", secret_key_file=str(tmp_path / "secret-key")))
    app = create_app(dev, {"TESTING": True})
    server = make_server("127.0.0.1", 0, body_closed_before_sending(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser = Web(f"http://127.0.0.1:{server.server_port}")
        email, _ = make_user("admin")
        assert browser.login(email).status_code == 302
        assert browser.get("/admin/users/").status_code == 200
        genuine = app.session_interface.get_signing_serializer(app)
        payload = genuine.loads(browser.http.cookies.get("session"))  # a real admin session's content ...
        attacker = Flask("attacker")
        attacker.secret_key = "dev-only-change-me"
        forged = app.session_interface.get_signing_serializer(attacker).dumps(payload)  # ... signed by anyone
        stranger = Web(browser.base)
        stranger.http.cookies.set("session", forged)
        r = stranger.get("/admin/users/")
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    finally:
        server.shutdown()


def test_an_oversized_body_gets_a_json_413(api, serve_with):
    from tests.helpers import ApiClient

    small = ApiClient(serve_with(max_body_mb=1), api.token)
    status, body = small.post("/api/v1/zones", raw=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}')
    assert status == 413
    assert body["error"]["code"] == "request_entity_too_large"


def test_each_token_has_its_own_rate_limit(make_user, serve_with):
    from tests.helpers import ApiClient

    base = serve_with(api_limit="3 per minute")
    _e, first = make_user("operator")
    _e, second = make_user("operator")
    one = ApiClient(base, first)
    assert [one.get("/api/v1/zones")[0] for _ in range(3)] == [200, 200, 200]
    status, body = one.get("/api/v1/zones")
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert ApiClient(base, second).get("/api/v1/zones")[0] == 200  # another token is not affected


def test_public_endpoints_are_limited_per_ip(live_server, api):
    from tests.helpers import ApiClient

    public = ApiClient(live_server, None)
    statuses = [public.post("/api/v1/public/subscriptions/cancel", {"phone": f"+4860130{i:04d}"})[0] for i in range(12)]
    assert 429 in statuses  # [subscribers] form_limit = 10 per hour per IP


def test_behind_a_configured_proxy_the_audit_names_the_client_not_the_proxy(api, serve_with, audit_rows):
    import urllib.request

    def create_zone_via(base: str, name: str, forwarded_for: str) -> None:
        body = json.dumps({"type": "Feature", "properties": {"name": name}, "geometry": ZONE_A}).encode()
        req = urllib.request.Request(
            base + "/api/v1/zones",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {api.token}",
                "Content-Type": "application/json",
                "X-Forwarded-For": forwarded_for,
            },
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 201

    create_zone_via(serve_with(app={"proxy_hops": 1}), "Behind nginx", "203.0.113.7")
    create_zone_via(serve_with(), "Direct", "203.0.113.8")  # no proxy configured: the header is a client's lie
    by_name = {r["details"]["name"]: r["remote_addr"] for r in audit_rows("zone.create")}
    assert by_name == {"Behind nginx": "203.0.113.7", "Direct": "127.0.0.1"}


def test_login_posts_are_rate_limited_per_ip(serve_with, make_user):
    base = serve_with(login_limit="3 per minute")
    _email, _ = make_user("operator")
    statuses = [Web(base).login("nobody@test.syrena", "Wrong-Password-99").status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401] and statuses[3] == 429


def test_every_form_that_posts_carries_the_csrf_token():
    """Static check of every template: a POST form without the token would be refused anyway (400); this names it."""
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "app" / "templates"
    missing = []
    for path in templates.rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        for form in re.finditer(r"<form\b[^>]*>.*?</form>", source, re.S | re.I):
            opening = form.group(0)[: form.group(0).index(">")]
            if (
                re.search(r"method=[\"']?post", opening, re.I)
                and "csrf_token" not in form.group(0)
                and "hidden_tag()" not in form.group(0)
            ):
                missing.append(f"{path.relative_to(templates)}: {opening[:80]}")
    assert missing == []


def test_templates_hold_no_inline_script_handlers_or_styles():
    """What the Content-Security-Policy would block: inline <script> code, on*= handlers, style= attributes."""
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "app" / "templates"
    found = []
    for path in templates.rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        for m in re.finditer(r"<script\b([^>]*)>", source, re.I):
            if "src=" not in m.group(1) and "application/json" not in m.group(1):
                found.append(f"{path.name}: inline <script>")
        for m in re.finditer(r"<[a-z][^>]*\s(on[a-z]+|style)\s*=", source, re.I):
            found.append(f"{path.name}: {m.group(1)}=")
        if re.search(r"<style\b", source, re.I):
            found.append(f"{path.name}: <style>")
    assert found == []


def test_the_atom_feed_links_to_the_configured_public_url_whatever_the_host_header(api, serve_with, worker, wait):
    """Issue 19 #11: `Host: evil.example` made every link of /alerts.atom point to evil.example."""
    import requests
    from lxml import etree

    zone = create_zone(api, "Wilda", ZONE_A)
    status, c = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Alarm powodziowy.", "zone_ids": [zone]}
    )
    assert status == 201 and api.post(f"/api/v1/campaigns/{c['id']}/send")[0] == 202
    base = serve_with(app={"public_url": "https://syrena.example.pl"})
    for host in ("evil.example", "evil.example:443", None):
        headers = {"Host": host} if host else {}
        r = requests.get(f"{base}/alerts.atom", headers=headers, timeout=30)
        assert r.status_code == 200
        assert b"evil.example" not in r.content and b"127.0.0.1" not in r.content
        feed = etree.fromstring(r.content)
        links = [e.get("href") for e in feed.iter("{http://www.w3.org/2005/Atom}link")]
        ids = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}id") if e.text.startswith("http")]
        assert f"https://syrena.example.pl/alerts/{c['id']}.xml" in links
        assert all(u.startswith("https://syrena.example.pl/") for u in links + ids), links + ids


def test_a_public_url_that_is_no_http_address_is_refused_at_start_up():
    from syrena_core.config import AppSettings, ConfigError

    with pytest.raises(ConfigError, match="public_url"):
        AppSettings(public_url="evil.example/alerts")
