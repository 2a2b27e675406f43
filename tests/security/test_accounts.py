"""Staff accounts: strong hashed passwords, lockout after repeated wrong ones, sessions that end (logout
everywhere, new password, role change), a TOTP second factor, scoped API tokens."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.harness import body_closed_before_sending
from tests.security.conftest import PASSWORD, Web, csrf_of


def _user(settings, email):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    with session_scope(settings.database.url) as s:
        u = accounts.find_user(s, email)
        return {"hash": u.password_hash, "locked_until": u.locked_until, "totp": u.totp_secret, "id": u.id}


def test_passwords_are_stored_as_slow_salted_hashes(make_user, settings):
    email, _ = make_user("operator")
    stored = _user(settings, email)["hash"]
    assert stored.startswith(("scrypt:", "argon2")) and PASSWORD not in stored


@pytest.mark.parametrize("weak", ["short", "password1234", "qwertyuiop12", "operator@city.test"])
def test_weak_passwords_are_refused(settings, weak):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    with pytest.raises(accounts.AccountError), session_scope(settings.database.url) as s:
        accounts.create_user(s, "operator@city.test", "operator", weak)


WRONG = "Wrong-Password-99"


def _as_seen(response, email: str) -> str:
    """The page as anyone would compare it: without the per-session CSRF token, the typed e-mail and the
    seconds left to wait (two requests a moment apart may round them differently)."""
    page = re.sub(
        r'value="[^"]*"(?=[^>]*name="csrf_token")|(?<=name="csrf_token")[^>]*value="[^"]*"', "", response.text
    ).replace(email, "EMAIL")
    return re.sub(r"\d+ s\.", "N s.", page)


def _wait_said(response) -> int:
    """The seconds the page tells the user to wait."""
    return int(re.search(r"(\d+) s\.", response.text).group(1))


def _expire_wait(settings, email: str) -> None:
    """What waiting out the current back-off does (no test sleeps for it)."""
    from sqlalchemy import text

    from syrena_core.db import session_scope

    with session_scope(settings.database.url) as s:
        s.execute(
            text("UPDATE login_throttle SET blocked_until = now() - interval '1 second' WHERE account = :a"),
            {"a": email},
        )


def test_unknown_and_real_accounts_get_the_same_answers_also_once_throttled(make_user, web, settings):
    """Issue 19 #9: after 5 wrong passwords only real accounts answered 429 "locked"."""
    real, _ = make_user("approver", email="approver-aa@test.syrena")
    ghost = "approver-bb@test.syrena"  # no such account; as long as the real one
    attempts = settings.security.login_attempts
    for _ in range(attempts):
        a, b = web().login(real, WRONG), web().login(ghost, WRONG)
        assert a.status_code == b.status_code == 401
        assert _as_seen(a, real) == _as_seen(b, ghost)
    a, b = web().login(real, WRONG), web().login(ghost, WRONG)
    assert a.status_code == b.status_code == 429
    assert _as_seen(a, real) == _as_seen(b, ghost)
    assert 0 < _wait_said(a) <= settings.security.login_backoff_seconds and "Retry-After" in b.headers
    assert "nieudanych logowań" in a.text or "failed logins" in a.text
    # While the pair waits, not even the right password is checked from this address.
    assert web().login(real).status_code == 429


def test_an_unknown_e_mail_costs_the_same_password_hashing_as_a_real_one(make_user, web, monkeypatch):
    from syrena_core import accounts

    checked: list[str] = []
    real_check = accounts.check_password_hash

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real_check(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", spy)
    email, _ = make_user("admin")
    assert web().login(email, WRONG).status_code == 401
    assert web().login("nobody-at-all@test.syrena", WRONG).status_code == 401
    stored, dummy = checked
    assert dummy == accounts.dummy_password_hash() != stored
    method = stored.rsplit("$", 2)[0]  # e.g. "scrypt:32768:8:1": the algorithm and its cost
    assert dummy.rsplit("$", 2)[0] == method


def test_an_attackers_address_failing_does_not_stop_the_real_user_elsewhere(
    serve_with, make_user, settings, audit_rows
):
    base = serve_with(app={"proxy_hops": 1})  # behind one proxy: the client is the one in X-Forwarded-For
    email, _ = make_user("approver")
    attacker = Web(base)
    attacker.http.headers["X-Forwarded-For"] = "203.0.113.66"
    answers = [attacker.login(email, WRONG).status_code for _ in range(3 * settings.security.login_attempts)]
    assert answers[: settings.security.login_attempts] == [401] * settings.security.login_attempts
    assert set(answers[settings.security.login_attempts :]) == {429}
    assert attacker.login(email).status_code == 429  # his address waits, even with the password

    user = Web(base)
    user.http.headers["X-Forwarded-For"] = "198.51.100.7"
    assert user.login(email).status_code == 302  # the approver is not locked out
    assert user.get("/").status_code == 200

    failed = [r for r in audit_rows("login.failed") if r["details"]["email"] == email]
    assert len(failed) == settings.security.login_attempts
    assert {r["remote_addr"] for r in failed} == {"203.0.113.66"}
    assert all(r["details"]["factor"] == "password" for r in failed)
    throttled = [r for r in audit_rows("login.throttled") if r["details"]["email"] == email]
    assert len(throttled) == 2 * settings.security.login_attempts + 1
    assert [r["details"]["address"] for r in audit_rows("login.backoff") if r["details"]["email"] == email] == [
        "203.0.113.66"
    ]


def test_the_back_off_grows_with_every_failure_and_a_good_login_ends_it(make_user, web, settings, audit_rows):
    email, _ = make_user("operator")
    security = settings.security
    for _ in range(security.login_attempts):
        assert web().login(email, WRONG).status_code == 401
    waits = []
    for _ in range(3):
        r = web().login(email, WRONG)
        assert r.status_code == 429
        waits.append(_wait_said(r))
        _expire_wait(settings, email)
        assert web().login(email, WRONG).status_code == 401  # checked once the wait is over, and counted
    assert waits[0] <= security.login_backoff_seconds < waits[1] <= 2 * security.login_backoff_seconds < waits[2]
    assert [r["details"]["seconds"] for r in audit_rows("login.backoff") if r["details"]["email"] == email] == [
        security.login_backoff_seconds * 2**i for i in range(4)
    ]

    _expire_wait(settings, email)
    assert web().login(email).status_code == 302  # the right password after the wait ...
    assert web().login(email, WRONG).status_code == 401  # ... starts the count again


def test_an_administrator_lifts_the_wait_at_once(make_user, web, staff, settings, audit_rows):
    email, _ = make_user("approver")
    for _ in range(settings.security.login_attempts + 1):
        web().login(email, WRONG)
    assert web().login(email).status_code == 429
    admin, _admin_email, _token = staff("admin")
    r = admin.post(f"/admin/users/{_user(settings, email)['id']}/unlock", {}, csrf_from="/admin/users/")
    assert r.status_code == 302
    assert web().login(email).status_code == 302
    assert audit_rows("user.unlock")


def test_an_administrator_resets_a_lost_second_factor_on_the_users_page(serve_with, make_user, settings, audit_rows):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    base = serve_with(totp_required=True)
    email, _ = make_user("approver")
    secret = accounts.new_totp_secret()
    with session_scope(settings.database.url) as s:
        accounts.find_user(s, email).totp_secret = secret
    user = Web(base)
    assert user.login(email).headers["Location"].endswith("/login/code")
    form = user.get("/login/code").text
    assert user.post("/login/code", {"code": _code_for(secret), "csrf_token": csrf_of(form)}).status_code == 302
    assert user.get("/").status_code == 200

    admin_email, _ = make_user("admin")
    with session_scope(settings.database.url) as s:
        accounts.find_user(s, admin_email).totp_secret = admin_secret = accounts.new_totp_secret()
    admin = Web(base)
    admin.login(admin_email)
    form = admin.get("/login/code").text
    assert admin.post("/login/code", {"code": _code_for(admin_secret), "csrf_token": csrf_of(form)}).status_code == 302
    r = admin.post(f"/admin/users/{_user(settings, email)['id']}/totp-reset", {}, csrf_from="/admin/users/")
    assert r.status_code == 302
    assert _user(settings, email)["totp"] is None
    assert user.get("/").status_code == 302  # the user's sessions ended
    assert user.login(email).headers["Location"].endswith("/account/totp")  # enrols again
    reset = audit_rows("user.totp_reset")[-1]
    assert reset["actor"] == admin_email and reset["object_id"] == str(_user(settings, email)["id"])


def test_wrong_second_factor_codes_are_throttled_like_passwords(serve_with, make_user, settings, audit_rows):
    import pyotp

    from syrena_core import accounts
    from syrena_core.db import session_scope

    base = serve_with(totp_required=True)
    email, _ = make_user("admin")
    with session_scope(settings.database.url) as s:
        accounts.find_user(s, email).totp_secret = pyotp.random_base32()
    browser = Web(base)
    for _ in range(settings.security.login_attempts):
        assert browser.login(email).status_code == 302  # the password is right; the code is not
        form = browser.get("/login/code").text
        assert browser.post("/login/code", {"code": "000000", "csrf_token": csrf_of(form)}).status_code == 401
    assert browser.login(email).status_code == 429  # this address now waits, as after wrong passwords
    assert [r["details"]["factor"] for r in audit_rows("login.failed") if r["details"]["email"] == email] == [
        "totp"
    ] * settings.security.login_attempts


def test_the_session_cookie_is_httponly_samesite_and_expires_when_idle(make_user, web, settings):
    email, _ = make_user("operator")
    browser = web()
    r = browser.login(email)
    cookie = next(c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a permanent session: the idle timeout travels with it


def test_logout_everywhere_ends_every_session_of_the_user(make_user, web):
    email, _ = make_user("operator")
    office, home = web(), web()
    office.login(email)
    home.login(email)
    assert home.get("/").status_code == 200
    r = office.post("/account/logout-everywhere", csrf_from="/account")
    assert r.status_code == 302
    assert home.get("/").status_code == 302  # back to the login page
    assert office.get("/").status_code == 302


def test_a_role_change_ends_the_users_sessions(make_user, web, settings):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    email, _ = make_user("approver")
    browser = web()
    browser.login(email)
    assert browser.get("/").status_code == 200
    with session_scope(settings.database.url) as s:
        accounts.change_role(s, accounts.find_user(s, email), "finance")
    assert browser.get("/").status_code == 302


def test_a_new_password_must_be_strong_and_logs_out_other_sessions(make_user, web):
    email, _ = make_user("operator")
    me, other = web(), web()
    me.login(email)
    other.login(email)
    weak = me.post(
        "/account", {"current": PASSWORD, "new": "password123", "repeat": "password123"}, csrf_from="/account"
    )
    assert weak.status_code == 200 and other.get("/").status_code == 200
    ok = me.post(
        "/account",
        {"current": PASSWORD, "new": "Another-Long-Phrase-7", "repeat": "Another-Long-Phrase-7"},
        csrf_from="/account",
    )
    assert ok.status_code == 302
    assert me.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert web().login(email, "Another-Long-Phrase-7").status_code == 302


def _code_for(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset)


def test_totp_enrolment_then_login_with_a_code_when_required(serve_with, make_user, settings, audit_rows):
    base = serve_with(totp_required=True)
    email, _ = make_user("approver")
    browser = Web(base)
    r = browser.login(email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/totp")
    assert browser.get("/").status_code == 302  # not logged in before the second factor
    page = browser.get("/account/totp").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "otpauth://totp/" in page and 'src="data:image/svg+xml;base64,' in page
    wrong = browser.post("/account/totp", {"code": "000000", "csrf_token": csrf_of(page)})
    assert wrong.status_code == 200 and browser.get("/").status_code == 302
    r = browser.post("/account/totp", {"code": _code_for(secret), "csrf_token": csrf_of(page)})
    assert r.status_code == 302
    assert browser.get("/").status_code == 200
    assert _user(settings, email)["totp"] == secret
    assert audit_rows("user.totp_enrol")

    # Next time: password, then the code; a wrong code is refused, a used code cannot be replayed.
    again = Web(base)
    r = again.login(email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code")
    form = again.get("/login/code").text
    assert again.post("/login/code", {"code": "123456", "csrf_token": csrf_of(form)}).status_code == 401
    assert again.get("/").status_code == 302
    code = _code_for(secret, 30)  # the next step's code: the enrolment used this one
    assert again.post("/login/code", {"code": code, "csrf_token": csrf_of(form)}).status_code == 302
    assert again.get("/").status_code == 200
    replay = Web(base)
    replay.login(email)
    form = replay.get("/login/code").text
    assert replay.post("/login/code", {"code": code, "csrf_token": csrf_of(form)}).status_code == 401


def test_roles_without_the_requirement_log_in_with_a_password_only(serve_with, make_user):
    base = serve_with(totp_required=True)
    email, _ = make_user("operator")
    browser = Web(base)
    assert browser.login(email).status_code == 302
    assert browser.get("/").status_code == 200


def test_tokens_are_scoped_to_a_role_and_cannot_exceed_their_user(api, make_user, settings):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    admin_email, _ = make_user("admin")
    ops_email, _ = make_user("operator")
    with session_scope(settings.database.url) as s:
        finance_token = accounts.issue_token(s, accounts.find_user(s, admin_email), role="finance")
        with pytest.raises(accounts.AccountError):
            accounts.issue_token(s, accounts.find_user(s, ops_email), role="admin")
    scoped = api.with_token(finance_token)
    assert scoped.get("/api/v1/billing/tariffs")[0] == 200
    assert scoped.get("/api/v1/audit")[0] == 403  # an admin's token narrowed to finance
    assert scoped.post("/api/v1/zones", {})[0] == 403


def test_a_narrowed_token_never_widens_when_its_owner_is_demoted(api, make_user, settings, staff, db):
    """Issue 19 #5: an admin's token narrowed to finance acted as operator once the admin became operator."""
    from syrena_core import accounts
    from syrena_core.db import session_scope

    owner_email, _ = make_user("admin")
    with session_scope(settings.database.url) as s:
        owner = accounts.find_user(s, owner_email)
        owner_id = owner.id
        finance_token = accounts.issue_token(s, owner, role="finance")
        admin_grant = accounts.issue_token(s, owner, role="admin")
    scoped, full = api.with_token(finance_token), api.with_token(admin_grant)
    assert scoped.get("/api/v1/billing/tariffs")[0] == 200
    assert scoped.get("/api/v1/campaigns")[0] == 200  # finance reads campaigns too
    assert scoped.post("/api/v1/zones", {})[0] == 403

    boss, _email, _token = staff("admin")  # demoted by another admin, on the page
    r = boss.post(f"/admin/users/{owner_id}/role", {"role": "operator"}, csrf_from="/admin/users/")
    assert r.status_code == 302, r.text[:300]
    db.expire_all()
    assert db.get(accounts.User, owner_id).role == "operator"

    for path in ("/api/v1/billing/tariffs", "/api/v1/campaigns", "/api/v1/zones"):
        status, body = scoped.get(path)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (path, body)
    assert "no longer" in scoped.get("/api/v1/zones")[1]["error"]["message"]
    status, body = scoped.post("/api/v1/zones", {"type": "Feature", "properties": {"name": "X"}, "geometry": None})
    assert status == 403, body  # not the operator it would have become
    assert full.get("/api/v1/audit")[0] == 403  # an admin grant: now only an operator's
    assert full.get("/api/v1/zones")[0] == 200


def test_logout_ends_the_session_on_the_server_a_copied_cookie_opens_nothing(make_user, web, live_server):
    """Issue 19 #7: a session cookie copied before /logout still opened /campaigns/ until the idle timeout."""
    import requests

    email, _ = make_user("operator")
    me, elsewhere = web(), web()
    me.login(email)
    elsewhere.login(email)  # the same user in another browser
    assert me.get("/campaigns/").status_code == 200
    stolen = me.http.cookies.get("session")
    assert stolen
    r = me.post("/logout", {}, csrf_from="/")
    assert r.status_code == 302
    replay = requests.get(f"{live_server}/campaigns/", cookies={"session": stolen}, allow_redirects=False, timeout=30)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    assert elsewhere.get("/campaigns/").status_code == 200  # only that session ended
    me.login(email)  # and logging in again works
    assert me.get("/campaigns/").status_code == 200


def test_outside_development_approvers_and_admins_must_enrol_totp_whatever_the_setting(settings, make_user):
    """Issue 19: TOTP is required for approvers and admins whenever environment is not development."""
    import threading

    from werkzeug.serving import make_server

    from app import create_app
    from syrena_core.config import replace

    production = replace(
        settings,
        app=replace(settings.app, environment="production", secret_key="k" * 40),
        security=replace(settings.security, totp_required=False),
    )
    # Plain HTTP in this test only: production cookies are HTTPS-only, which a test server does not speak.
    app = create_app(production, {"TESTING": True, "SESSION_COOKIE_SECURE": False})
    server = make_server("127.0.0.1", 0, body_closed_before_sending(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        for role in ("approver", "admin"):
            email, _ = make_user(role)
            browser = Web(base)
            r = browser.login(email)
            assert r.status_code == 302 and r.headers["Location"].endswith("/account/totp"), role
            assert browser.get("/").status_code == 302  # not logged in before enrolling
            assert "otpauth://totp/" in browser.get("/account/totp").text
        email, _ = make_user("operator")
        browser = Web(base)
        r = browser.login(email)
        assert r.status_code == 302 and not r.headers["Location"].endswith("/account/totp")
        assert browser.get("/").status_code == 200
    finally:
        server.shutdown()
