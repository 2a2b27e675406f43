"""The account commands administrators script: role changes, scoped tokens, revocation, unlocking — audited."""

from __future__ import annotations

from tests.helpers import ApiClient, run_flask


def test_role_change_scoped_token_and_revocation_from_the_command_line(settings, live_server, audit_rows):
    assert (
        run_flask("users", "create", "boss@city.test", "--role", "admin", input="Long-Enough-Pass1\n").returncode == 0
    )
    weak = run_flask("users", "create", "weak@city.test", "--role", "finance", input="password1234\n")
    assert weak.returncode == 1 and "guess" in weak.stderr

    made = run_flask("users", "token", "boss@city.test", "--role", "finance", "--label", "reports")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    api = ApiClient(live_server, token)
    assert api.get("/api/v1/billing/tariffs")[0] == 200
    assert api.get("/api/v1/audit")[0] == 403  # narrowed to finance

    listed = run_flask("users", "tokens", "boss@city.test")
    token_id = listed.stdout.split()[0]
    assert "finance" in listed.stdout and "reports" in listed.stdout and token not in listed.stdout
    assert run_flask("users", "revoke-token", token_id).returncode == 0
    assert api.get("/api/v1/billing/tariffs")[0] == 401

    changed = run_flask("users", "role", "boss@city.test", "operator")
    assert changed.returncode == 0 and "admin -> operator" in changed.stdout
    assert run_flask("users", "role", "nobody@city.test", "operator").returncode == 1
    assert audit_rows("user.role")[-1]["after"] == {"role": "operator"}
    assert audit_rows("token.revoke")[-1]["object_id"] == token_id
    from syrena_core import accounts
    from syrena_core.db import session_scope

    with session_scope(settings.database.url) as s:
        accounts.find_user(s, "boss@city.test").totp_secret = accounts.new_totp_secret()
    assert run_flask("users", "unlock", "boss@city.test", "--reset-totp").returncode == 0
    assert audit_rows("user.unlock")[-1]["details"] == {"reset_totp": True}
    # The same TOTP reset as the users page: the factor gone, every session ended, audited alike.
    with session_scope(settings.database.url) as s:
        boss = accounts.find_user(s, "boss@city.test")
        assert boss.totp_secret is None and boss.totp_last_step is None
        boss_id = str(boss.id)
    assert audit_rows("user.totp_reset")[-1]["object_id"] == boss_id
    assert audit_rows("user.logout_everywhere")[-1]["object_id"] == boss_id
