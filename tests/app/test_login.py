"""Logging in to the admin UI over HTTP, as a browser would (cookies and the CSRF token)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request


def _log_in(base: str, email: str, password: str) -> tuple[int, urllib.request.OpenerDirector]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password}).encode()
    try:
        with opener.open(base + "/login", data=form) as response:
            return response.status, opener
    except urllib.error.HTTPError as e:
        return e.code, opener


def test_the_default_admin_address_on_a_local_domain_can_log_in(live_server, settings):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    with session_scope(settings.database.url) as session:
        accounts.create_user(session, "admin@syrena.local", "admin", "Correct-Horse-42")

    status, opener = _log_in(live_server, "admin@syrena.local", "Correct-Horse-42")

    assert status == 200
    assert opener.open(live_server + "/").status == 200


def test_a_wrong_password_is_refused(live_server, settings):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    with session_scope(settings.database.url) as session:
        accounts.create_user(session, "ops@syrena.local", "operator", "Correct-Horse-42")
    status, _ = _log_in(live_server, "ops@syrena.local", "wrong-password")
    assert status == 401
