"""The call-outs API contract (issue 20): POST/GET /api/v1/callouts, resend, close, the media copy; roles; every
bad input a 422 naming the problem with nothing sent; the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campaigns import groups
from tests.helpers import ApiClient

A, B = "+48601800001", "+48601800002"


@pytest.fixture
def team(db):
    group = groups.create_group(
        db, None, {"name": "ZZK", "kind": "team", "members": [{"name": "Anna", "phone": A}, {"phone": B}]}
    )
    db.commit()
    return group.id


@pytest.fixture
def client(live_server, make_user):
    return lambda role: ApiClient(live_server, make_user(role)[1])


def test_the_contract_keys(api, db, team):
    status, created = api.post("/api/v1/callouts", {"group_ids": [team], "body": "Zbiorka", "ack": True})
    assert status == 201, created
    status, got = api.get(f"/api/v1/callouts/{created['id']}")
    assert status == 200
    assert {"id", "status", "members", "groups"} <= set(got)
    assert got["status"] == "open"
    for member in got["members"]:
        assert {"name", "phone", "group_id", "state", "confirmed_at", "escalated_to"} <= set(member)
        assert member["state"] in {"sent", "delivered", "confirmed", "declined", "escalated", "no_answer"}
    assert got["groups"] == [
        {
            "id": team,
            "name": "ZZK",
            "kind": "team",
            "members": 2,
            "confirmed": 0,
            "declined": 0,
            "needed": 2,
            "possible": 2,
            "unreachable": False,
            "unreachable_at": None,
            "needed_at": None,
        }
    ]
    assert got["timeline"]["sent_at"] == got["created_at"]
    assert (got["escalate_after_s"], got["reply_minutes"]) == (300, 120)  # the defaults
    assert db.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'callout.create'")) == 1


def test_roles(client, team):
    body = {"group_ids": [team], "body": "Zbiorka"}
    assert client("operator").post("/api/v1/callouts", body)[0] == 201
    assert client("approver").post("/api/v1/callouts", body)[0] == 403
    assert client("finance").post("/api/v1/callouts", body)[0] == 403
    assert client("approver").get("/api/v1/callouts")[0] == 200


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"group_ids": None, "body": "x"}, "group_ids"),
        ({"group_ids": [], "body": "x"}, "group_ids"),
        ({"group_ids": [987654], "body": "x"}, "987654"),
        ({"group_ids": "TEAM", "body": "x"}, "group_ids"),
        ({"group_ids": ["TEAM"], "body": "x"}, "group_ids[0]"),
        ({"body": ""}, "body"),
        ({"body": "x", "escalate_after_s": 10}, "escalate_after_s"),
        ({"body": "x", "escalate_after_s": 90000}, "escalate_after_s"),
        ({"body": "x", "reply_minutes": -1}, "reply_minutes"),
        ({"body": "x", "ack": 1}, "ack"),
        ({"body": "a\x00b"}, "NUL"),  # refused before parsing, for every endpoint (400)
        ([], "object"),  # not an object (400)
    ],
)
def test_bad_input_is_422_naming_it_and_sends_nothing(api, db, team, body, names):
    if isinstance(body, dict):
        body = {"group_ids": [team], **body}
    status, answer = api.post("/api/v1/callouts", body)
    assert status == (400 if names in ("NUL", "object") else 422), answer
    assert names in answer["error"]["message"]
    assert db.scalar(text("SELECT count(*) FROM callout")) == 0
    assert db.scalar(text("SELECT count(*) FROM message")) == 0


def test_a_deleted_group_and_an_empty_one_are_refused(api, db, team):
    assert api.call("DELETE", f"/api/v1/test-groups/{team}")[0] in (204, 404)  # kind team: not a test group
    groups.delete_group(db, groups.get_group(db, team), None)
    db.commit()
    status, answer = api.post("/api/v1/callouts", {"group_ids": [team], "body": "x"})
    assert status == 422 and "deleted" in answer["error"]["message"]
    db.execute(text("DELETE FROM contact_group_member"))
    db.execute(text("UPDATE contact_group SET deleted_at = NULL"))
    db.commit()
    status, answer = api.post("/api/v1/callouts", {"group_ids": [team], "body": "x"})
    assert status == 422 and "no members" in answer["error"]["message"]


def test_unknown_callouts_are_404_and_closed_ones_409(api, team):
    assert api.get("/api/v1/callouts/424242")[0] == 404
    assert api.post("/api/v1/callouts/424242/close", {})[0] == 404
    _status, created = api.post("/api/v1/callouts", {"group_ids": [team], "body": "x"})
    assert api.post(f"/api/v1/callouts/{created['id']}/close", {})[0] == 200
    status, answer = api.post(f"/api/v1/callouts/{created['id']}/resend", {})
    assert status == 409 and "closed" in answer["error"]["message"]


def test_the_media_copy_takes_a_sent_real_alert_to_media_groups_only(api, db, team):
    media = groups.create_group(db, None, {"name": "Radio Merkury", "kind": "media", "members": [{"phone": B}]})
    db.commit()
    cid = db.scalar(
        text("""INSERT INTO campaign (kind, severity, title, body, status, created_at, sent_at)
                VALUES ('alert', 'severe', 'Powódź', 'Wały na Warcie przelane. Ewakuacja Starołęki.', 'completed',
                        now(), now()) RETURNING id""")
    )
    draft = db.scalar(
        text("""INSERT INTO campaign (kind, severity, body, status, created_at)
                VALUES ('alert', 'severe', 'x', 'draft', now()) RETURNING id""")
    )
    db.commit()
    status, answer = api.post(f"/api/v1/campaigns/{cid}/media", {"group_ids": [team]})
    assert status == 422 and "not a media group" in answer["error"]["message"]
    assert api.post(f"/api/v1/campaigns/{draft}/media", {"group_ids": [media.id]})[0] == 409
    status, copy = api.post(f"/api/v1/campaigns/{cid}/media", {"group_ids": [media.id]})
    assert status == 201, copy
    assert copy["ack"] is False and copy["media_of"] == cid
    assert copy["text"].startswith("Komunikat dla mediów – alert Syrena (Powódź):\nWały na Warcie przelane.")
    assert f"/alerts/{cid}.xml" in copy["text"] and "Odpisz" not in copy["text"]
