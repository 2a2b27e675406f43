"""The reports API (app/api/reports.py): the contract of GET/PATCH /api/v1/reports and POST …/reply, who may do
what, bad input named by its field — and a reply from the inbox through the real path: the worker texts it to the
reporter's phone at the simulator and the ledger charges it as transactional."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from subscribers.models import ResidentReport
from syrena_core.accounts import User
from syrena_core.audit import AuditLog
from syrena_core.db import session_scope
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone
from tests.helpers import ApiClient

REPORTER = "+48601555444"


def _report(db, phone=REPORTER, status="new", received_ago_hours=0.0, **fields) -> int:
    now = datetime.now(UTC)
    report = ResidentReport(
        phone=phone,
        text=fields.pop("text", "Zalana piwnica"),
        status=status,
        received_at=now - timedelta(hours=received_ago_hours),
        updated_at=now,
        **fields,
    )
    db.add(report)
    db.commit()
    return report.id


@pytest.fixture
def as_role(live_server, make_user, settings):
    """as_role(role) → (an ApiClient with a new user's token of that role, the user's id)."""

    def client(role: str) -> tuple[ApiClient, int]:
        email, token = make_user(role)
        with session_scope(settings.database.url) as session:
            user_id = session.scalar(select(User.id).where(User.email == email))
        return ApiClient(live_server, token), user_id

    return client


@pytest.fixture
def zone_a(api) -> int:
    return create_zone(api, "Zachód", ZONE_A)


def test_the_list_is_newest_first_and_filters_by_status_time_and_zone(api, db, zone_a):
    old = _report(db, received_ago_hours=30, status="closed")
    located = _report(
        db,
        location="SRID=4326;POINT(16.91 52.39)",
        location_source="text",
        address="Głogowska 77, Poznań",
        zone_id=zone_a,
    )
    status, page = api.get("/api/v1/reports")
    assert status == 200 and page["total"] == 2
    assert [r["id"] for r in page["items"]] == [located, old]
    first = page["items"][0]
    assert first["phone"] == REPORTER and first["zone"] == "Zachód" and first["location_source"] == "text"
    assert (first["lat"], first["lon"]) == pytest.approx((52.39, 16.91))
    assert datetime.fromisoformat(first["received_at"]).utcoffset() is not None  # ISO 8601 with an offset
    assert [r["id"] for r in api.get("/api/v1/reports?status=closed")[1]["items"]] == [old]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert [r["id"] for r in api.get(f"/api/v1/reports?since={since}")[1]["items"]] == [located]
    assert [r["id"] for r in api.get(f"/api/v1/reports?zone={zone_a}")[1]["items"]] == [located]
    assert api.get("/api/v1/reports?limit=1&offset=1")[1]["items"][0]["id"] == old


def test_patch_changes_status_and_assignee_adds_a_note_and_audits_each(api, as_role, db):
    report_id = _report(db)
    _operator, operator_id = as_role("operator")
    status, body = api.patch(
        f"/api/v1/reports/{report_id}", {"status": "in_progress", "assignee_id": operator_id, "note": "Jedzie OSP"}
    )
    assert status == 200, body
    assert body["status"] == "in_progress" and body["assignee_id"] == operator_id
    assert [(n["kind"], n["body"]) for n in body["notes"]] == [("note", "Jedzie OSP")]
    status, body = api.patch(f"/api/v1/reports/{report_id}", {"assignee_id": None})
    assert status == 200 and body["assignee_id"] is None
    db.expire_all()
    actions = db.scalars(
        select(AuditLog.action).where(AuditLog.object_type == "resident_report").order_by(AuditLog.id)
    ).all()
    assert actions == ["report.update", "report.note", "report.update"]
    first = db.scalar(select(AuditLog).where(AuditLog.action == "report.update").order_by(AuditLog.id))
    assert first.before == {"status": "new", "assignee_id": None}
    assert first.after == {"status": "in_progress", "assignee_id": operator_id}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": None}, "status"),
        ({"assignee_id": "nobody"}, "assignee_id"),
        ({"assignee_id": 999999}, "assignee_id"),
        ({"assignee_id": True}, "assignee_id"),
        ({"note": ""}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"colour": "red"}, "colour"),
        ({}, "status"),
    ],
)
def test_a_bad_change_is_422_naming_its_field_and_changes_nothing(api, db, change, field):
    report_id = _report(db)
    status, body = api.patch(f"/api/v1/reports/{report_id}", change)
    assert status == 422, body
    assert body["error"]["code"] == "invalid_report_change" and body["error"]["details"] == {"field": field}
    assert field in body["error"]["message"]
    assert api.get(f"/api/v1/reports/{report_id}")[1]["status"] == "new"


def test_a_control_character_in_a_note_is_refused_before_anything_changes(api, db):
    report_id = _report(db)
    status, body = api.patch(f"/api/v1/reports/{report_id}", {"note": "bad\x07bell"})
    assert status == 422 and body["error"]["code"] == "unsafe_text"  # app.security, for every JSON body
    assert api.get(f"/api/v1/reports/{report_id}")[1]["notes"] == []


def test_a_finance_user_cannot_be_assigned(api, as_role, db):
    report_id = _report(db)
    _client, finance_id = as_role("finance")
    status, body = api.patch(f"/api/v1/reports/{report_id}", {"assignee_id": finance_id})
    assert status == 422 and body["error"]["details"] == {"field": "assignee_id"}


@pytest.mark.parametrize(
    ("reply", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": 12}, "body"),
        ({}, "body"),
        ({"body": "x" * (153 * 6 + 1)}, "body"),  # seven GSM-7 parts; [campaigns] max_parts is 6
        ({"body": "ż" * (67 * 6 + 1)}, "body"),  # seven UCS-2 parts, few characters
        ({"body": "ok", "to": "+48600000000"}, "to"),
    ],
)
def test_a_bad_reply_is_422_naming_its_field_and_sends_nothing(api, db, simulator, reply, field):
    report_id = _report(db)
    status, body = api.post(f"/api/v1/reports/{report_id}/reply", reply)
    assert status == 422, body
    assert body["error"]["details"] == {"field": field}
    assert api.get(f"/api/v1/reports/{report_id}")[1]["notes"] == []


def test_unknown_reports_are_404(api):
    assert api.get("/api/v1/reports/999999")[0] == 404
    assert api.patch("/api/v1/reports/999999", {"status": "closed"})[0] == 404
    assert api.post("/api/v1/reports/999999/reply", {"body": "Dziękujemy"})[0] == 404


def test_roles_operators_work_approvers_read_without_the_home_address_finance_sees_nothing(as_role, db, api):
    create_subscriber(api, REPORTER, IN_A)
    report_id = _report(
        db, location="SRID=4326;POINT(16.91 52.39)", location_source="registered", address="Głogowska 77, Poznań"
    )
    operator, _ = as_role("operator")
    approver, _ = as_role("approver")
    finance, _ = as_role("finance")
    assert operator.get(f"/api/v1/reports/{report_id}")[1]["address"] == "Głogowska 77, Poznań"
    status, seen = approver.get(f"/api/v1/reports/{report_id}")
    assert status == 200
    assert seen["phone"] != REPORTER and seen["phone"].endswith("44")  # masked
    assert (seen["address"], seen["lat"], seen["lon"], seen["location_source"]) == (None, None, None, "none")
    assert approver.get("/api/v1/reports")[1]["items"][0]["address"] is None
    assert approver.patch(f"/api/v1/reports/{report_id}", {"status": "closed"})[0] == 403
    assert approver.post(f"/api/v1/reports/{report_id}/reply", {"body": "x"})[0] == 403
    assert finance.get("/api/v1/reports")[0] == 403
    assert finance.get(f"/api/v1/reports/{report_id}")[0] == 403
    assert operator.patch(f"/api/v1/reports/{report_id}", {"status": "closed"})[0] == 200


def test_the_reports_are_in_the_openapi_document(api):
    status, document = api.get("/api/v1/openapi.json")
    assert status == 200
    assert {"get", "patch"} <= set(document["paths"]["/api/v1/reports/{id}"])
    assert "post" in document["paths"]["/api/v1/reports/{id}/reply"]
    assert document["components"]["schemas"]["ReportChange"]["properties"]["status"]["enum"] == [
        "new",
        "in_progress",
        "closed",
    ]


def test_bad_list_filters_are_refused_by_name(api):
    status, body = api.get("/api/v1/reports?status=urgent")
    assert status == 422 and body["error"]["details"] == {"field": "status"}
    status, body = api.get("/api/v1/reports?since=yesterday")
    assert status == 400 and body["error"]["details"] == {"parameter": "since"}
    status, body = api.get("/api/v1/reports?zone=west")
    assert status == 400 and body["error"]["details"] == {"parameter": "zone"}
