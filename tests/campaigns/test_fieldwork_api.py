"""The API of issue 15's after-the-send part, end to end: a follow-up to a slice sent through the real path (RQ
worker, SMPP simulator) after a second person's approval; the field worklist's downloads, roles and audit."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from tests.campaigns.conftest import received, settled
from tests.campaigns.test_fieldwork import QUESTION, answered, unsubscribe
from tests.factories import ZONE_A, create_subscriber, create_zone
from tests.helpers import ApiClient

ESME_RINVDSTADR = 0x0B
SAFE, HELP, HELP_STOPPED, SILENT, UNDELIVERABLE, REFUSED = (f"+4860140000{n}" for n in range(1, 7))
ADDRESSES = {
    SAFE: "Głogowska 1",
    HELP: "Głogowska 2",
    HELP_STOPPED: "Głogowska 2",
    SILENT: "Głogowska 4",
    UNDELIVERABLE: "Wierzbięcice 5",
    REFUSED: "Wierzbięcice 5",
}


def download(client: ApiClient, path: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(client.base + path, headers={"Authorization": f"Bearer {client.token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers.get("Content-Type", ""), e.read()


@pytest.fixture
def faulty_numbers(simulator):
    """The simulator refuses REFUSED's submit_sm and receipts UNDELIVERABLE as UNDELIV."""
    simulator.inject_faults(reject={REFUSED: ESME_RINVDSTADR}, undeliverable=[UNDELIVERABLE])
    yield
    simulator.inject_faults(reject={}, undeliverable=[])


def _approved_and_sent(operator, approver, wait, campaign_id: int) -> dict:
    status, body = operator.post(f"/api/v1/campaigns/{campaign_id}/submit")
    assert status == 200, body
    status, body = approver.post(f"/api/v1/campaigns/{campaign_id}/approve")
    assert status == 202, body
    return wait(settled(operator, campaign_id), 60, f"campaign {campaign_id} to complete")


@pytest.fixture
def question_sent(request, api, db, operator, approver, worker, simulator, wait):
    """A question alert to six residents of Wilda: two SMS did not get through; then the replies (as the reply
    path, another branch, stores them), and one who asked for help sent STOP since. The four-eyes rule is on."""
    for needed in ("approval_required", "faulty_numbers"):
        request.getfixturevalue(needed)
    zone = create_zone(api, "Wilda", ZONE_A)
    ids = {
        phone: create_subscriber(api, phone, {"lat": 52.39, "lon": 16.91, "address": address})
        for phone, address in ADDRESSES.items()
    }
    status, campaign = operator.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": "Powodz. Odpowiedz 1 lub 2.", "zone_ids": [zone]},
    )
    assert status == 201, campaign
    db.execute(
        text("UPDATE campaign SET question = :q WHERE id = :id"), {"q": json.dumps(QUESTION), "id": campaign["id"]}
    )
    db.commit()
    original = _approved_and_sent(operator, approver, wait, campaign["id"])
    assert (original["counts"]["delivered"], original["counts"]["failed"]) == (4, 2)
    answered(db, original["id"], SAFE, "1")
    answered(db, original["id"], HELP, "2")
    answered(db, original["id"], HELP_STOPPED, "2")
    unsubscribe(db, ids[HELP_STOPPED])
    simulator.clear_messages()
    return original


def test_a_follow_up_to_those_who_asked_for_help_reaches_exactly_them_after_approval(
    question_sent, operator, approver, simulator, wait
):
    original = question_sent
    status, draft = operator.post(
        f"/api/v1/campaigns/{original['id']}/follow-up", {"to": "answer:2", "body": "Pomoc jest w drodze."}
    )
    assert status == 201, draft
    assert (draft["status"], draft["reference_id"], draft["follow_up_to"]) == ("draft", original["id"], "answer:2")
    assert draft["preview"]["recipients"] == 1  # the one who sent STOP since is not counted
    status, body = operator.get(f"/api/v1/campaigns/{draft['id']}/preview")
    assert (status, body["recipients"]) == (200, 1)

    status, body = operator.post(f"/api/v1/campaigns/{draft['id']}/send")
    assert status == 409 and "approved" in body["error"]["message"]  # the four-eyes rule as for any alert
    sent = _approved_and_sent(operator, approver, wait, draft["id"])

    assert sent["recipients"] == 1
    assert received(simulator) == {HELP.lstrip("+"): "Pomoc jest w drodze."}


def test_a_follow_up_to_the_failed_and_to_the_silent(question_sent, operator, approver, db, wait):
    original = question_sent
    status, silent = operator.post(f"/api/v1/campaigns/{original['id']}/follow-up", {"to": "no_reply", "body": "?"})
    assert (status, silent["preview"]["recipients"]) == (201, 1)

    status, draft = operator.post(
        f"/api/v1/campaigns/{original['id']}/follow-up",
        {"to": "failed", "body": "Drugie podejscie.", "severity": "extreme"},
    )
    assert (status, draft["preview"]["recipients"], draft["severity"]) == (201, 2, "extreme")
    _approved_and_sent(operator, approver, wait, draft["id"])
    phones = set(db.scalars(text("SELECT phone FROM message WHERE campaign_id = :c"), {"c": draft["id"]}))
    assert phones == {UNDELIVERABLE, REFUSED}


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"body": "x"}, 422, "to is required"),
        ({"to": "answer:9", "body": "x"}, 422, "to: "),
        ({"to": "all", "body": "x"}, 422, "to must be one of"),
        ({"to": "failed"}, 422, "text is empty"),
        ({"to": "failed", "body": "x", "zone_ids": [1]}, 422, "unknown field"),
    ],
)
def test_bad_follow_up_requests_are_refused_and_change_nothing(question_sent, operator, db, payload, status, words):
    before = db.scalar(text("SELECT count(*) FROM campaign"))
    code, body = operator.post(f"/api/v1/campaigns/{question_sent['id']}/follow-up", payload)
    assert code == status, body
    assert words in body["error"]["message"]
    assert db.scalar(text("SELECT count(*) FROM campaign")) == before


def test_a_follow_up_needs_a_sent_campaign_an_operator_and_an_existing_campaign(
    api, operator, approver, make_user, live_server
):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, draft = operator.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "minor", "body": "x", "zone_ids": [zone]}
    )
    status, body = operator.post(f"/api/v1/campaigns/{draft['id']}/follow-up", {"to": "failed", "body": "y"})
    assert status == 409 and "has not been sent" in body["error"]["message"]
    assert operator.post("/api/v1/campaigns/999999/follow-up", {"to": "failed", "body": "y"})[0] == 404
    assert approver.post(f"/api/v1/campaigns/{draft['id']}/follow-up", {"to": "failed", "body": "y"})[0] == 403


# ------------------------------------------------------------------------------------------- the worklist
def test_the_worklist_downloads_list_the_failed_and_those_who_need_help(question_sent, operator, db):
    cid = question_sent["id"]
    status, media, body = download(operator, f"/api/v1/campaigns/{cid}/worklist.csv")
    assert (status, media.split(";")[0]) == (200, "text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [(r["zone"], r["street"], r["house_number"], r["failed"], r["needs_help"]) for r in rows] == [
        ("Wilda", "Głogowska", "2", "0", "2"),  # asked for help (one of them unsubscribed since: still visited)
        ("Wilda", "Wierzbięcice", "5", "2", "0"),  # UNDELIV and refused by the SMSC
    ]
    assert sorted(rows[1]["phones"].split()) == [UNDELIVERABLE, REFUSED]

    status, media, body = download(operator, f"/api/v1/campaigns/{cid}/worklist.geojson")
    assert (status, media) == (200, "application/geo+json")
    collection = json.loads(body)
    assert collection["type"] == "FeatureCollection"
    assert [f["geometry"]["type"] for f in collection["features"]] == ["Point", "Point"]
    assert collection["features"][1]["properties"]["failed"] == 2

    status, media, body = download(operator, f"/api/v1/campaigns/{cid}/worklist.pdf")
    assert (status, media) == (200, "application/pdf")
    words = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert "Strefa: Wilda" in words  # Polish by default, as the staff pages
    assert "Wierzbięcice 5 2" in words and "Głogowska 2 2" in words

    audit = db.execute(
        text("SELECT details->>'format', details->>'addresses' FROM audit_log WHERE action = :a ORDER BY id"),
        {"a": "campaign.worklist"},
    ).all()
    assert audit == [("csv", "2"), ("geojson", "2"), ("pdf", "2")]


def test_only_operators_and_admins_may_download_a_worklist(api, make_user, live_server, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    _status, draft = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "minor", "body": "x", "zone_ids": [zone]}
    )
    for role in ("approver", "finance"):
        client = ApiClient(live_server, make_user(role)[1])
        assert download(client, f"/api/v1/campaigns/{draft['id']}/worklist.csv")[0] == 403
    assert download(api, f"/api/v1/campaigns/{draft['id']}/worklist.csv")[0] == 200  # admin: an empty list
    assert download(api, "/api/v1/campaigns/999999/worklist.pdf")[0] == 404
    assert db.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'campaign.worklist'")) == 1
