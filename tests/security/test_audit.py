"""The audit trail: every change of state leaves an append-only row saying who, when, from where, what,
before and after; administrators browse, filter and export it, in the UI and through the API."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import IN_A, ZONE_A, ZONE_B, create_subscriber, feature


def test_the_database_refuses_to_change_or_delete_audit_rows(api, db, audit_rows):
    api.post("/api/v1/zones", feature("Wilda", ZONE_A))
    assert audit_rows("zone.create")
    for statement in ("UPDATE audit_log SET action = 'nothing.happened'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
    assert [r["action"] for r in audit_rows("zone.create")] == ["zone.create"]


def test_zone_create_edit_archive_through_the_api_are_audited_with_before_and_after(api, audit_rows, settings):
    status, zone = api.post("/api/v1/zones", feature("Wilda", ZONE_A))
    assert status == 201
    status, _ = api.call(
        "PUT",
        f"/api/v1/zones/{zone['id']}",
        {"type": "Feature", "properties": {"name": "Wilda Dolna"}, "geometry": ZONE_B},
    )
    assert status == 200
    assert api.call("DELETE", f"/api/v1/zones/{zone['id']}")[0] == 200

    rows = [r for r in audit_rows() if r["object_type"] == "zone"]
    assert [r["action"] for r in rows] == ["zone.create", "zone.update", "zone.archive"]
    assert all(r["actor"] and r["actor"].startswith("admin-") for r in rows)
    assert all(r["remote_addr"] == "127.0.0.1" for r in rows)
    update = rows[1]
    assert update["before"]["name"] == "Wilda" and update["after"]["name"] == "Wilda Dolna"
    assert update["object_id"] == str(zone["id"])


def test_user_role_and_token_changes_are_audited(staff, audit_rows, live_server):
    admin, admin_email, _ = staff("admin")
    _ops, ops_email, _ = staff("operator")
    from tests.security.conftest import csrf_of

    page = admin.get("/admin/users/").text
    ops_id = int(page.split(f'data-email="{ops_email}"')[0].rsplit('data-user-id="', 1)[1].split('"')[0])

    r = admin.post(f"/admin/users/{ops_id}/role", {"role": "approver"}, csrf_from="/admin/users/")
    assert r.status_code == 302
    r = admin.post(f"/admin/users/{ops_id}/tokens", {"role": "", "label": "scada"}, csrf_from="/admin/users/")
    assert r.status_code == 200
    shown = r.text.split('id="new-token">')[1].split("<")[0]
    assert len(shown) > 30
    assert shown not in admin.get("/admin/users/").text  # shown once only
    assert csrf_of(page)

    role = audit_rows("user.role")[-1]
    assert role["actor"] == admin_email and role["object_id"] == str(ops_id)
    assert role["before"] == {"role": "operator"} and role["after"] == {"role": "approver"}
    token = audit_rows("token.issue")[-1]
    assert token["actor"] == admin_email and token["details"]["label"] == "scada"
    assert shown not in str(audit_rows())  # the token itself is never written down


def test_a_revoked_token_stops_working_and_the_revocation_is_audited(api, make_user, settings, audit_rows):
    from syrena_core import accounts
    from syrena_core.db import session_scope

    email, token = make_user("operator")
    assert api.with_token(token).get("/api/v1/zones")[0] == 200
    with session_scope(settings.database.url) as s:
        token_id = accounts.find_user(s, email).tokens[0].id
        accounts.revoke_token(s, token_id)
    assert api.with_token(token).get("/api/v1/zones")[0] == 401
    assert audit_rows("token.revoke")[-1]["object_id"] == str(token_id)


def test_tariff_changes_subscriber_erasure_and_billing_exports_are_audited(api, staff, audit_rows):
    status, _ = api.post(
        "/api/v1/billing/tariffs",
        {"valid_from": "2026-01-01T00:00:00+00:00", "price_per_part": "0.20", "monthly_fee": "400.00"},
    )
    assert status == 201, _
    assert audit_rows("tariff.create")

    subscriber_id = create_subscriber(api, "+48601200300", IN_A)
    admin, admin_email, _token = staff("admin")
    r = admin.post(
        f"/subscribers/{subscriber_id}/erase",
        {"reason": "request by letter"},
        csrf_from=f"/subscribers/{subscriber_id}",
    )
    assert r.status_code == 302
    erase = audit_rows("subscriber.erase")[-1]
    assert erase["actor"] == admin_email and erase["object_id"] == str(subscriber_id)

    finance, finance_email, finance_token = staff("finance")
    assert finance.get("/finance/2026-11/report.csv").status_code == 200
    assert api.with_token(finance_token).get("/api/v1/billing/report.csv?month=2026-11")[0] == 200
    exports = audit_rows("billing.export")
    assert [e["details"]["format"] for e in exports] == ["csv", "csv"]
    assert {e["actor"] for e in exports} == {finance_email}


def test_the_audit_api_is_for_admins_filters_and_pages(api, make_user):
    for name in ("Wilda", "Jeżyce", "Rataje"):
        api.post("/api/v1/zones", feature(name, ZONE_A if name == "Wilda" else ZONE_B))
    _e, ops = make_user("operator")
    assert api.with_token(ops).get("/api/v1/audit")[0] == 403

    status, page = api.get("/api/v1/audit?action=zone.&limit=2")
    assert status == 200
    assert page["total"] >= 1 and len(page["items"]) <= 2
    assert all(i["action"].startswith("zone.") for i in page["items"])
    status, everything = api.get("/api/v1/audit?limit=100000")
    assert status == 200 and everything["limit"] == 500  # capped
    ids = [i["id"] for i in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    status, by_actor = api.get("/api/v1/audit?actor=operator-")
    assert status == 200 and all((i["actor"] or "").startswith("operator-") for i in by_actor["items"])
    assert api.get("/api/v1/audit?since=yesterday")[0] == 400
    assert api.get("/api/v1/audit?limit=-1")[0] == 400


def test_admins_browse_filter_and_export_the_audit_log(api, staff, audit_rows):
    api.post("/api/v1/zones", feature('=HYPERLINK("http://x")', ZONE_A))
    admin, admin_email, _ = staff("admin")
    page = admin.get("/admin/audit/?action=zone.create")
    assert page.status_code == 200
    assert "zone.create" in page.text and "login" not in page.text.split('id="audit"')[1].split("</table>")[0]

    export = admin.get("/admin/audit/export.csv?action=zone.create")
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [r["action"] for r in rows] == ["zone.create"]
    assert rows[0]["details"].startswith("{")
    assert audit_rows("audit.export")[-1]["actor"] == admin_email

    operator, _email, _t = staff("operator")
    assert operator.get("/admin/audit/").status_code == 403
    assert operator.get("/admin/audit/export.csv").status_code == 403


def test_csv_cells_cannot_become_spreadsheet_formulas():
    from app.audit_ui import _cell

    assert _cell("=1+1") == "'=1+1"
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("Wilda") == "Wilda"


def test_campaign_actions_are_audited_with_their_actor(api, make_user, audit_rows):
    zone = api.post("/api/v1/zones", feature("Wilda", ZONE_A))[1]["id"]
    create_subscriber(api, "+48601200310", IN_A)
    op_email, op_token = make_user("operator")
    ap_email, ap_token = make_user("approver")
    operator, approver = api.with_token(op_token), api.with_token(ap_token)

    def draft(text_: str, severity: str = "severe") -> int:
        status, c = operator.post(
            "/api/v1/campaigns", {"kind": "alert", "severity": severity, "body": text_, "zone_ids": [zone]}
        )
        assert status == 201, c
        return c["id"]

    rejected, approved, overridden = draft("Jeden"), draft("Dwa"), draft("Trzy", "extreme")
    for c in (rejected, approved):
        assert operator.post(f"/api/v1/campaigns/{c}/submit")[0] == 200
    assert approver.post(f"/api/v1/campaigns/{rejected}/reject", {"reason": "literówka"})[0] == 200
    assert approver.post(f"/api/v1/campaigns/{approved}/approve")[0] == 202
    assert (
        operator.post(f"/api/v1/campaigns/{overridden}/override", {"reason": "gas leak, no approver reachable"})[0]
        == 202
    )
    assert operator.post(f"/api/v1/campaigns/{approved}/pause")[0] in (200, 409)
    assert operator.post(f"/api/v1/campaigns/{approved}/cancel", {"reason": "test"})[0] == 200

    by_action = {}
    for r in audit_rows():
        if r["object_type"] == "campaign":
            by_action.setdefault(r["action"], []).append((r["actor"], r["object_id"]))
    assert {(op_email, str(c)) for c in (rejected, approved, overridden)} <= set(by_action["campaign.create"])
    assert by_action["campaign.reject"] == [(ap_email, str(rejected))]
    assert by_action["campaign.approve"] == [(ap_email, str(approved))]
    assert by_action["campaign.override"] == [(op_email, str(overridden))]
    assert (ap_email, str(approved)) in by_action["campaign.send"]
    assert by_action["campaign.cancel"] == [(op_email, str(approved))]
    assert all(r["remote_addr"] == "127.0.0.1" for r in audit_rows() if r["object_type"] == "campaign")
