"""Staff accounts: strong hashed passwords, lockout after repeated wrong ones, sessions that end (logout
everywhere, new password, role change), a TOTP second factor, scoped API tokens."""
from __future__ import annotations

import re
import time

import pyotp
import pytest

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


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(make_user, web, settings, audit_rows):
    email, _ = make_user("operator")
    attempts = settings.security.login_attempts
    for _ in range(attempts):
        assert web().login(email, "Wrong-Password-99").status_code == 401
    assert _user(settings, email)["locked_until"] is not None
    locked = web().login(email)  # the right password, now refused
    assert locked.status_code == 429
    assert "locked" in locked.text or "zablokowane" in locked.text
    assert audit_rows("user.lock") and audit_rows("login.locked")

    # An administrator lifts the lock; the right password works again.
    from syrena_core.db import session_scope
    from syrena_core import accounts
    with session_scope(settings.database.url) as s:
        u = accounts.find_user(s, email)
        u.locked_until = None
    assert web().login(email).status_code == 302


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
    weak = me.post("/account", {"current": PASSWORD, "new": "password123", "repeat": "password123"},
                   csrf_from="/account")
    assert weak.status_code == 200 and other.get("/").status_code == 200
    ok = me.post("/account", {"current": PASSWORD, "new": "Another-Long-Phrase-7", "repeat": "Another-Long-Phrase-7"},
                 csrf_from="/account")
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
    assert scoped.get("/api/v1/campaigns")[0] == 200                      # finance reads campaigns too
    assert scoped.post("/api/v1/zones", {})[0] == 403

    boss, _email, _token = staff("admin")                               # demoted by another admin, on the page
    r = boss.post(f"/admin/users/{owner_id}/role", {"role": "operator"}, csrf_from="/admin/users/")
    assert r.status_code == 302, r.text[:300]
    db.expire_all()
    assert db.get(accounts.User, owner_id).role == "operator"

    for path in ("/api/v1/billing/tariffs", "/api/v1/campaigns", "/api/v1/zones"):
        status, body = scoped.get(path)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (path, body)
    assert "no longer" in scoped.get("/api/v1/zones")[1]["error"]["message"]
    status, body = scoped.post("/api/v1/zones", {"type": "Feature", "properties": {"name": "X"}, "geometry": None})
    assert status == 403, body                                           # not the operator it would have become
    assert full.get("/api/v1/audit")[0] == 403                           # an admin grant: now only an operator's
    assert full.get("/api/v1/zones")[0] == 200


def test_logout_ends_the_session_on_the_server_a_copied_cookie_opens_nothing(make_user, web, live_server):
    """Issue 19 #7: a session cookie copied before /logout still opened /campaigns/ until the idle timeout."""
    import requests
    email, _ = make_user("operator")
    me, elsewhere = web(), web()
    me.login(email)
    elsewhere.login(email)                                   # the same user in another browser
    assert me.get("/campaigns/").status_code == 200
    stolen = me.http.cookies.get("session")
    assert stolen
    r = me.post("/logout", {}, csrf_from="/")
    assert r.status_code == 302
    replay = requests.get(f"{live_server}/campaigns/", cookies={"session": stolen}, allow_redirects=False, timeout=30)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    assert elsewhere.get("/campaigns/").status_code == 200    # only that session ended
    me.login(email)                                          # and logging in again works
    assert me.get("/campaigns/").status_code == 200
