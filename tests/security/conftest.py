"""Fixtures for the security tests: staff browsers over real HTTP (cookies, CSRF tokens), audit rows."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from syrena_core.config import replace
from tests.harness import body_closed_before_sending

PASSWORD = "Correct-Horse-42"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "the page has no CSRF token"
    return m.group(1) or m.group(2)


class Web:
    """A staff member's browser without JavaScript: a cookie jar and the form's CSRF token."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=30, **kw)

    def post(self, path: str, data: dict | None = None, csrf_from: str | None = None, **kw) -> requests.Response:
        """POST a form; with `csrf_from` the token is read from that page first (as a browser would have it)."""
        data = dict(data or {})
        if csrf_from is not None:
            data["csrf_token"] = csrf_of(self.get(csrf_from).text)
        return self.http.post(self.base + path, data=data, allow_redirects=False, timeout=30, **kw)

    def login(self, email: str, password: str = PASSWORD) -> requests.Response:
        return self.post("/login", {"email": email, "password": password}, csrf_from="/login")


@pytest.fixture
def web(live_server):
    """web() → a fresh anonymous browser on the live server."""
    return lambda: Web(live_server)


@pytest.fixture
def staff(live_server, make_user):
    """staff(role) → (Web logged in as a new user with that role, email, API token)."""

    def make(role: str):
        email, token = make_user(role)
        client = Web(live_server)
        r = client.login(email)
        assert r.status_code == 302, r.text[:500]
        return client, email, token

    return make


@pytest.fixture
def audit_rows(settings):
    """audit_rows(action=None) → the audit log's rows (optionally of one action), oldest first."""
    from syrena_core.audit import AuditLog
    from syrena_core.db import session_scope

    def rows(action: str | None = None):
        with session_scope(settings.database.url) as s:
            q = select(AuditLog).order_by(AuditLog.id)
            if action:
                q = q.where(AuditLog.action == action)
            return [
                {
                    "action": r.action,
                    "actor_id": r.actor_id,
                    "object_type": r.object_type,
                    "object_id": r.object_id,
                    "details": r.details,
                    "before": r.before,
                    "after": r.after,
                    "remote_addr": r.remote_addr,
                    "actor": r.actor.email if r.actor else None,
                }
                for r in s.scalars(q).unique()
            ]

    return rows


@pytest.fixture
def serve_with(settings):
    """serve_with(**security) → base URL of the app served over HTTP with these [security] settings changed
    (and the [app] ones given as app={...})."""
    import threading

    from werkzeug.serving import make_server

    servers = []

    def start(app: dict | None = None, **changes):
        from app import create_app

        changed = replace(
            settings, security=replace(settings.security, **changes), app=replace(settings.app, **(app or {}))
        )
        server = make_server(
            "127.0.0.1", 0, body_closed_before_sending(create_app(changed, {"TESTING": True})), threaded=True
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
