"""Each role against each route, allowed or forbidden, generated from the one table below (the reviewed access
policy). Allowed means the role gets past the gate (any answer but 401/403 — ids here do not exist, bodies are
empty); forbidden means 403, and 401 (API) or a redirect to the login page (UI) without credentials."""

from __future__ import annotations

import re

import pytest

from tests.security.conftest import Web, csrf_of

ADMIN, OPERATOR, APPROVER, FINANCE = "admin", "operator", "approver", "finance"
ROLES = (ADMIN, OPERATOR, APPROVER, FINANCE)
STAFF = set(ROLES)
X = 999999  # an id nothing has

# (method, path, roles allowed). Admins may do everything by design, so every set includes them.
API = [
    ("GET", "/api/v1/audit", {ADMIN}),
    ("GET", "/api/v1/billing/report?month=2026-11", {ADMIN, FINANCE}),
    ("GET", "/api/v1/billing/report.csv?month=2026-11", {ADMIN, FINANCE}),
    ("GET", "/api/v1/billing/tariffs", {ADMIN, FINANCE}),
    ("POST", "/api/v1/billing/tariffs", {ADMIN}),
    ("POST", "/api/v1/billing/corrections", {ADMIN, FINANCE}),
    ("POST", "/api/v1/billing/reconciliations", {ADMIN, FINANCE}),
    ("GET", f"/api/v1/billing/reconciliations/{X}", {ADMIN, FINANCE}),
    ("GET", "/api/v1/campaigns", STAFF),
    ("GET", "/api/v1/feeds/alerts", STAFF),
    ("POST", "/api/v1/campaigns", {ADMIN, OPERATOR}),
    ("POST", "/api/v1/campaigns/preview", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/campaigns/{X}", STAFF),
    ("PATCH", f"/api/v1/campaigns/{X}", {ADMIN, OPERATOR}),
    ("DELETE", f"/api/v1/campaigns/{X}", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/campaigns/{X}/preview", STAFF),
    ("GET", f"/api/v1/campaigns/{X}/cap.xml", STAFF),
    ("GET", f"/api/v1/campaigns/{X}/timeline", STAFF),
    ("GET", f"/api/v1/campaigns/{X}/timeline.pdf", STAFF),
    ("POST", f"/api/v1/campaigns/{X}/submit", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/campaigns/{X}/send", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/campaigns/{X}/approve", {ADMIN, APPROVER}),
    ("POST", f"/api/v1/campaigns/{X}/reject", {ADMIN, APPROVER}),
    ("POST", f"/api/v1/campaigns/{X}/override", {ADMIN, OPERATOR, APPROVER}),
    ("GET", "/api/v1/campaigns/overrides", STAFF),
    ("POST", f"/api/v1/campaigns/{X}/acknowledge-override", {ADMIN, APPROVER}),
    ("POST", f"/api/v1/campaigns/{X}/update", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/campaigns/{X}/all-clear", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/campaigns/{X}/pause", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/api/v1/campaigns/{X}/resume", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/api/v1/campaigns/{X}/cancel", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/api/v1/campaigns/{X}/resend-failed", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/campaigns/{X}/replies", {ADMIN, OPERATOR, APPROVER}),  # approvers: the tallies only
    ("GET", f"/api/v1/campaigns/{X}/replies.csv", {ADMIN, OPERATOR}),  # personal data
    ("GET", f"/api/v1/campaigns/{X}/replies.geojson", {ADMIN, OPERATOR}),  # personal data
    ("POST", f"/api/v1/campaigns/{X}/send-test", {ADMIN, OPERATOR}),
    ("GET", "/api/v1/test-groups", STAFF),
    ("POST", "/api/v1/test-groups", {ADMIN}),
    ("GET", f"/api/v1/test-groups/{X}", STAFF),
    ("PUT", f"/api/v1/test-groups/{X}", {ADMIN}),
    ("DELETE", f"/api/v1/test-groups/{X}", {ADMIN}),
    ("GET", "/api/v1/groups", {ADMIN, OPERATOR, APPROVER}),  # operators pick groups for a call-out
    ("POST", "/api/v1/groups", {ADMIN}),
    ("GET", f"/api/v1/groups/{X}", {ADMIN, OPERATOR, APPROVER}),
    ("PUT", f"/api/v1/groups/{X}", {ADMIN}),
    ("DELETE", f"/api/v1/groups/{X}", {ADMIN}),
    ("GET", "/api/v1/callouts", {ADMIN, OPERATOR, APPROVER}),  # staff phones: not finance
    ("POST", "/api/v1/callouts", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/callouts/{X}", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/api/v1/callouts/{X}/resend", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/callouts/{X}/close", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/campaigns/{X}/media", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/campaigns/{X}/follow-up", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/campaigns/{X}/worklist.pdf", {ADMIN, OPERATOR}),  # personal data: addresses
    ("GET", f"/api/v1/campaigns/{X}/worklist.csv", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/campaigns/{X}/worklist.geojson", {ADMIN, OPERATOR}),
    ("POST", "/api/v1/subscribers", {ADMIN}),
    ("GET", "/api/v1/reports", {ADMIN, OPERATOR, APPROVER}),
    ("GET", f"/api/v1/reports/{X}", {ADMIN, OPERATOR, APPROVER}),
    ("PATCH", f"/api/v1/reports/{X}", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/reports/{X}/reply", {ADMIN, OPERATOR}),
    ("GET", "/api/v1/templates", STAFF),
    ("POST", "/api/v1/templates", {ADMIN, OPERATOR}),
    ("GET", f"/api/v1/templates/{X}", STAFF),
    ("PUT", f"/api/v1/templates/{X}", {ADMIN, OPERATOR}),
    ("DELETE", f"/api/v1/templates/{X}", {ADMIN, OPERATOR}),
    ("POST", f"/api/v1/templates/{X}/preapprove", {ADMIN, APPROVER}),
    ("GET", "/api/v1/zones", STAFF),
    ("GET", "/api/v1/zones.geojson", STAFF),
    ("POST", "/api/v1/zones", {ADMIN, OPERATOR}),
    ("POST", "/api/v1/zones/import", {ADMIN, OPERATOR}),
    ("GET", "/api/v1/zones/lookup?lat=52.4&lon=16.9", STAFF),
    ("POST", "/api/v1/zones/preview", STAFF),
    ("GET", f"/api/v1/zones/{X}", STAFF),
    ("PUT", f"/api/v1/zones/{X}", {ADMIN, OPERATOR}),
    ("DELETE", f"/api/v1/zones/{X}", {ADMIN, OPERATOR}),
]
UI = [
    ("GET", "/", STAFF),
    ("GET", "/account", STAFF),
    ("POST", "/account", STAFF),
    ("GET", "/admin/audit/", {ADMIN}),
    ("GET", "/feeds", STAFF),
    ("GET", "/admin/audit/export.csv", {ADMIN}),
    ("GET", "/admin/rq", {ADMIN}),
    ("POST", "/admin/rq/failed/alerts/nojob/requeue", {ADMIN}),
    ("GET", "/admin/status", {ADMIN, OPERATOR}),
    ("GET", "/admin/status.json", {ADMIN, OPERATOR}),
    ("GET", "/admin/users/", {ADMIN}),
    ("POST", "/admin/users/", {ADMIN}),
    ("POST", f"/admin/users/{X}/active", {ADMIN}),
    ("POST", f"/admin/users/{X}/logout", {ADMIN}),
    ("POST", f"/admin/users/{X}/phone", {ADMIN}),
    ("POST", f"/admin/users/{X}/role", {ADMIN}),
    ("POST", f"/admin/users/{X}/tokens", {ADMIN}),
    ("POST", f"/admin/users/{X}/totp-reset", {ADMIN}),
    ("POST", f"/admin/users/{X}/unlock", {ADMIN}),
    ("POST", f"/admin/users/tokens/{X}/revoke", {ADMIN}),
    ("GET", "/admin/test-groups", {ADMIN}),  # redirects to the groups page, kind test
    ("GET", f"/admin/test-groups/{X}", {ADMIN}),
    ("GET", "/callouts/", {ADMIN, OPERATOR, APPROVER}),
    ("POST", "/callouts/", {ADMIN, OPERATOR}),
    ("POST", "/callouts/analyse", {ADMIN, OPERATOR}),
    ("GET", f"/callouts/{X}", {ADMIN, OPERATOR, APPROVER}),
    ("GET", f"/callouts/{X}.json", {ADMIN, OPERATOR, APPROVER}),
    ("GET", f"/callouts/{X}.pdf", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/callouts/{X}/resend", {ADMIN, OPERATOR}),
    ("POST", f"/callouts/{X}/close", {ADMIN, OPERATOR}),
    ("POST", f"/campaigns/{X}/media", {ADMIN, OPERATOR}),
    ("GET", "/admin/groups", {ADMIN}),
    ("POST", "/admin/groups", {ADMIN}),
    ("GET", f"/admin/groups/{X}", {ADMIN}),
    ("POST", f"/admin/groups/{X}", {ADMIN}),
    ("GET", f"/admin/groups/{X}/members.csv", {ADMIN}),
    ("POST", f"/admin/groups/{X}/members.csv", {ADMIN}),
    ("POST", f"/admin/groups/{X}/delete", {ADMIN}),
    ("POST", f"/campaigns/{X}/send-test", {ADMIN, OPERATOR}),
    ("GET", "/campaigns/", STAFF),
    ("GET", f"/campaigns/{X}", STAFF),
    ("GET", f"/campaigns/{X}/progress.json", STAFF),
    ("GET", f"/campaigns/{X}/replies.json", {ADMIN, OPERATOR, APPROVER}),  # approvers: the tallies only
    ("GET", f"/campaigns/{X}/replies-map.geojson", {ADMIN, OPERATOR}),
    ("GET", f"/campaigns/{X}/replies.csv", {ADMIN, OPERATOR}),
    ("GET", f"/campaigns/{X}/replies.geojson", {ADMIN, OPERATOR}),
    ("POST", f"/campaigns/{X}/pause", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/campaigns/{X}/approve", {ADMIN, OPERATOR, APPROVER}),  # the action itself checks approver
    ("POST", f"/campaigns/{X}/acknowledge-override", {ADMIN, APPROVER}),
    ("GET", f"/campaigns/{X}/cap.xml", STAFF),
    ("GET", f"/campaigns/{X}/timeline.pdf", STAFF),
    ("GET", f"/campaigns/{X}/edit", {ADMIN, OPERATOR}),
    ("GET", f"/campaigns/{X}/review", STAFF),
    ("POST", f"/campaigns/{X}/follow-up", {ADMIN, OPERATOR}),
    ("GET", f"/campaigns/{X}/worklist.pdf", {ADMIN, OPERATOR}),  # personal data: addresses
    ("GET", f"/campaigns/{X}/worklist.csv", {ADMIN, OPERATOR}),
    ("GET", f"/campaigns/{X}/worklist.geojson", {ADMIN, OPERATOR}),
    ("POST", "/campaigns/analyse", {ADMIN, OPERATOR}),
    ("POST", "/campaigns/area-from-text", {ADMIN, OPERATOR}),
    ("GET", "/campaigns/new", {ADMIN, OPERATOR}),
    ("POST", "/campaigns/preview", {ADMIN, OPERATOR}),
    ("POST", "/campaigns/save", {ADMIN, OPERATOR}),
    ("GET", "/templates/", STAFF),
    ("GET", "/templates/new", {ADMIN, OPERATOR}),
    ("POST", "/templates/new", {ADMIN, OPERATOR}),
    ("GET", f"/templates/{X}", STAFF),
    ("POST", f"/templates/{X}", {ADMIN, OPERATOR}),
    ("POST", f"/templates/{X}/archive", {ADMIN, OPERATOR}),
    ("POST", f"/templates/{X}/preapprove", {ADMIN, APPROVER}),
    ("GET", "/finance/", {ADMIN, FINANCE}),
    ("GET", "/finance/2026-11/report.csv", {ADMIN, FINANCE}),
    ("GET", "/finance/2026-11/report.xlsx", {ADMIN, FINANCE}),
    ("GET", "/finance/2026-11/statement.pdf", {ADMIN, FINANCE}),
    ("GET", "/finance/reconciliation", {ADMIN, FINANCE}),
    ("POST", "/finance/reconciliation", {ADMIN, FINANCE}),
    ("GET", f"/finance/reconciliation/{X}", {ADMIN, FINANCE}),
    ("GET", "/finance/tariffs", {ADMIN, FINANCE}),
    ("POST", "/finance/tariffs", {ADMIN}),
    ("GET", "/reports/", {ADMIN, OPERATOR, APPROVER}),
    ("GET", f"/reports/{X}", {ADMIN, OPERATOR, APPROVER}),
    ("POST", f"/reports/{X}/update", {ADMIN, OPERATOR}),
    ("POST", f"/reports/{X}/note", {ADMIN, OPERATOR}),
    ("POST", f"/reports/{X}/reply", {ADMIN, OPERATOR}),
    ("GET", "/subscribers/", STAFF),
    ("GET", f"/subscribers/{X}", STAFF),
    ("POST", f"/subscribers/{X}/erase", {ADMIN}),
    ("GET", "/subscribers/import", {ADMIN}),
    ("POST", "/subscribers/import", {ADMIN}),
    ("GET", f"/subscribers/import/{X}", {ADMIN}),
    ("GET", f"/subscribers/import/{X}/progress.json", {ADMIN}),
    ("GET", f"/subscribers/import/{X}/skipped.csv", {ADMIN}),
    ("GET", "/zones/", STAFF),
    ("GET", "/zones/data.geojson", STAFF),
    ("GET", "/zones/export.geojson", STAFF),
    ("POST", "/zones/data", {ADMIN, OPERATOR}),
    ("PUT", f"/zones/data/{X}", {ADMIN, OPERATOR}),
    ("DELETE", f"/zones/data/{X}", {ADMIN, OPERATOR}),
    ("POST", "/zones/data/import", {ADMIN, OPERATOR}),
    ("POST", "/zones/data/preview", STAFF),
]
# Open to everyone (log in, residents' pages, assets, probes) or to a login in progress.
PUBLIC = {
    "/login",
    "/login/code",
    "/logout",
    "/account/totp",
    "/account/logout-everywhere",
    "/lang/<code>",
    "/subscribe/",
    "/subscribe/addresses",
    "/subscribe/manage",
    "/subscribe/verify",
    "/subscribe/my-data",  # the resident's own data, behind the code texted to the phone (session grant)
    "/subscribe/my-data.json",
    "/subscribe/zones.geojson",
    "/alerts",
    "/api/docs",
    "/api/docs/vendor/<filename>",
    "/alerts.atom",
    "/alerts/<int:campaign_id>.xml",
    "/healthz",
    "/readyz",
    "/metrics",
    "/static/<path:filename>",
    "/static/vendor/leaflet/<path:filename>",
    "/finance/vendor/chartjs/<path:filename>",
    "/zones/vendor/geoman/<path:filename>",
}
PUBLIC_API = {
    "/api/v1/openapi.json",  # the API's description, read by /api/docs without a token
    "/api/v1/public/subscriptions",
    "/api/v1/public/subscriptions/cancel",
    "/api/v1/public/subscriptions/export",
    "/api/v1/public/subscriptions/verify",
}


def _shape(path: str) -> str:
    path = path.split("?")[0]
    # "alerts" only as the RQ page's queue name (/admin/rq/failed/alerts/...): /api/v1/feeds/alerts is a route.
    return re.sub(r"/(\d+|2026-11|(?<=failed/)alerts|nojob)(?=/|$|\.)", "/{}", path)


def _rule_shape(rule: str) -> str:
    return re.sub(r"<[^>]+>", "{}", rule)


def test_the_table_covers_every_route(app):
    listed = {(m, _shape(p)) for m, p, _ in API + UI}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.rule in PUBLIC_API:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            shapes = {_rule_shape(rule.rule)}
            if "<any(" in rule.rule:  # one row per action route is enough: the gate is the same
                shapes = {re.sub(r"\{\}$", s, _rule_shape(rule.rule)) for s in ("pause", "approve")}
            if not any((method, s) in listed for s in shapes):
                missing.append(f"{method} {rule.rule}")
    assert missing == [], "add these routes to the role matrix"


@pytest.fixture
def callers(make_user, live_server):
    """One API token and one logged-in browser per role, plus the anonymous ones."""
    tokens, browsers = {}, {}
    for role in ROLES:
        email, tokens[role] = make_user(role)
        browsers[role] = Web(live_server)
        assert browsers[role].login(email).status_code == 302
    browsers[None] = Web(live_server)
    return tokens, browsers


def _api_status(api, token, method, path) -> int:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return api.with_token(token).call(method, path, body)[0]


def test_every_role_against_every_api_route(api, callers):
    tokens, _ = callers
    wrong = []
    for method, path, allowed in API:
        if _api_status(api, None, method, path) != 401:
            wrong.append(f"anonymous {method} {path}")
        for role in ROLES:
            status = _api_status(api, tokens[role], method, path)
            ok = status not in (401, 403) and status < 500 if role in allowed else status == 403
            if not ok:
                wrong.append(f"{role} {method} {path} -> {status}")
    assert wrong == []


def test_every_role_against_every_page(callers):
    _, browsers = callers
    tokens = {role: csrf_of(b.get("/account").text) for role, b in browsers.items() if role}
    wrong = []
    for method, path, allowed in UI:
        anonymous = browsers[None].http.request(
            method, browsers[None].base + path, allow_redirects=False, data={}, timeout=30
        )
        # Without a session: the login page (GET), or the CSRF refusal before anything else (state changes).
        if not (
            (anonymous.status_code == 302 and "/login" in anonymous.headers.get("Location", ""))
            or (method != "GET" and anonymous.status_code == 400)
        ):
            wrong.append(f"anonymous {method} {path} -> {anonymous.status_code}")
        for role in ROLES:
            b = browsers[role]
            r = b.http.request(
                method,
                b.base + path,
                data={"csrf_token": tokens[role]},
                headers={"X-CSRFToken": tokens[role]},
                allow_redirects=False,
                timeout=30,
            )
            status = r.status_code
            login = status == 302 and "/login" in r.headers.get("Location", "")
            ok = status not in (401, 403) and status < 500 and not login if role in allowed else status == 403
            if not ok:
                wrong.append(f"{role} {method} {path} -> {status}")
    assert wrong == []
