"""Exercises and tests (issue 16): CAP status, the test group or the second confirmation, the mandatory prefix,
never public, charged apart; "send test" of a draft."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import text

from tests.campaigns.conftest import received, settled
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone

XSD = Path(__file__).parent / "data" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "atom": "http://www.w3.org/2005/Atom"}
PREFIX_PL = "ĆWICZENIA – TO NIE JEST PRAWDZIWY ALARM"
PREFIX_EN = "EXERCISE - THIS IS NOT A REAL ALERT"
PREFIX_UK = "НАВЧАННЯ – ЦЕ НЕ СПРАВЖНЯ ТРИВОГА"
STAFF = ["+48601900001", "+48601900002"]
RESIDENT = "+48601900101"
BODY = "Awaria wodociagu: nie pij wody z kranu do odwolania."


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def _group(api, phones=STAFF, name="Sztab ćwiczeń") -> int:
    status, group = api.post(
        "/api/v1/test-groups",
        {"name": name, "members": [{"name": f"Dyżurny {n}", "phone": p} for n, p in enumerate(phones, 1)]},
    )
    assert status == 201, group
    return group["id"]


def _draft(client, zone: int, **fields):
    return client.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": BODY, "zone_ids": [zone], **fields}
    )


def _public(live_server, path: str) -> bytes:
    with urllib.request.urlopen(live_server + path, timeout=10) as r:
        return r.read()


def test_an_exercise_without_a_test_group_or_the_second_confirmation_is_refused(api, operator):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, error = _draft(operator, zone, status="exercise")
    assert status == 422, error
    assert "test_group_id" in error["error"]["message"]
    assert "confirm_real_target" in error["error"]["message"]
    status, _listed = operator.get("/api/v1/campaigns")
    assert _listed == []


def test_the_status_key_takes_the_cap_status_and_answers_keep_the_workflow_state(api, operator):
    zone = create_zone(api, "Wilda", ZONE_A)
    group = _group(api)
    status, campaign = _draft(operator, zone, status="exercise", test_group_id=group)
    assert status == 201, campaign
    assert campaign["status"] == "draft"  # the workflow state, as before
    assert campaign["cap_status"] == "exercise"
    assert campaign["test_group_id"] == group
    assert campaign["body"] == f"{PREFIX_PL}\n{BODY}"
    # The prefix's Ć and dash are not GSM 03.38: UCS-2, counted in the parts the preview prices.
    assert campaign["encoding"] == "ucs2"
    assert campaign["parts_per_message"] == 2
    status, preview = operator.get(f"/api/v1/campaigns/{campaign['id']}/preview")
    assert preview["recipients"] == 2  # the group's phones, not the zone's residents
    assert preview["total_parts"] == 4
    status, error = _draft(operator, zone, status="sending")
    assert status == 422 and "actual, exercise, test" in error["error"]["message"]
    status, error = _draft(operator, zone, status="exercise", test_group_id=999999)
    assert status == 422 and "test_group_id" in error["error"]["message"]


def test_every_language_gets_its_prefix_once(api, operator):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, campaign = _draft(
        operator,
        zone,
        status="exercise",
        confirm_real_target=True,
        variants={"en": "Water main failure: do not drink tap water.", "uk": "Аварія водогону: не пийте воду."},
    )
    assert status == 201, campaign
    assert campaign["variants"]["en"].startswith(PREFIX_EN + "\n")
    assert campaign["variants"]["uk"].startswith(PREFIX_UK + "\n")
    # Saved again (the composer sends the texts back as they were): still one prefix each.
    status, again = operator.call("PATCH", f"/api/v1/campaigns/{campaign['id']}", {"body": campaign["body"]})
    assert status == 200, again
    assert again["body"].count(PREFIX_PL) == 1
    # Back to a real alert: the prefix goes.
    status, actual = operator.call(
        "PATCH", f"/api/v1/campaigns/{campaign['id']}", {"status": "actual", "confirm_real_target": False}
    )
    assert status == 200, actual
    assert actual["body"] == BODY and actual["cap_status"] == "actual"


def test_cap_says_exercise_and_test_and_validates(api, operator, schema):
    zone = create_zone(api, "Wilda", ZONE_A)
    group = _group(api)
    for cap_status, expected in (("exercise", "Exercise"), ("test", "Test")):
        status, campaign = _draft(operator, zone, status=cap_status, test_group_id=group)
        assert status == 201, campaign
        status, payload = operator.get(f"/api/v1/campaigns/{campaign['id']}/cap.xml")
        doc = etree.fromstring(payload.encode("utf-8"))
        schema.assertValid(doc)
        assert doc.findtext("cap:status", namespaces=NS) == expected
        assert doc.findtext("cap:note", namespaces=NS)


def test_an_exercise_to_a_test_group_is_delivered_charged_apart_and_never_public(
    api, operator, worker, simulator, wait, live_server, db
):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, RESIDENT, IN_A)
    group = _group(api)
    status, campaign = _draft(operator, zone, status="exercise", test_group_id=group)
    assert status == 201, campaign
    status, sent = operator.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert status == 202, sent
    done = wait(settled(operator, campaign["id"]), 60, "the exercise to complete")

    assert done["counts"]["delivered"] == 2
    got = received(simulator)
    assert sorted(got) == sorted(p.lstrip("+") for p in STAFF)  # the staff, not the resident
    assert all(t == f"{PREFIX_PL}\n{BODY}" for t in got.values())
    kinds = db.execute(
        text("SELECT kind, count(*), sum(amount) FROM cost_entry WHERE campaign_id = :c GROUP BY kind"),
        {"c": campaign["id"]},
    ).all()
    assert [(k, n) for k, n, _ in kinds] == [("exercise", 2)]
    assert done["cost"] == "0.7200"  # 2 messages × 2 UCS-2 parts × 0.18 PLN

    month = done["sent_at"][:7]
    status, report = api.get(f"/api/v1/billing/report?month={month}&group_by=campaign")
    assert status == 200, report
    assert report["totals"]["messages"] == 0 and report["totals"]["sms_cost"] == "0"  # not real traffic
    assert report["totals"]["exercise_messages"] == 2
    assert report["totals"]["exercise_cost"] == "0.7200"
    assert report["rows"] == []

    assert BODY.encode() not in _public(live_server, "/alerts")
    feed = etree.fromstring(_public(live_server, "/alerts.atom"))
    assert feed.findall("atom:entry", NS) == []
    with pytest.raises(urllib.error.HTTPError) as e:
        _public(live_server, f"/alerts/{campaign['id']}.xml")
    assert e.value.code == 404
    e.value.close()


def test_send_test_sends_every_language_to_the_group_and_leaves_the_draft(api, operator, worker, simulator, wait, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, RESIDENT, IN_A)
    group = _group(api, phones=STAFF[:1])
    english = "Water main failure: do not drink tap water."
    status, draft = _draft(operator, zone, variants={"en": english})
    assert status == 201, draft

    status, test = operator.post(f"/api/v1/campaigns/{draft['id']}/send-test", {"test_group_id": group})
    assert status == 202, test
    assert test["cap_status"] == "test" and test["test_of_id"] == draft["id"]
    done = wait(settled(operator, test["id"]), 60, "the test to complete")
    assert done["counts"]["delivered"] == 2
    texts = sorted(m["text"] for m in simulator.messages())
    assert texts == sorted([BODY, english])  # exactly as residents would get them
    assert {m["destination_addr"].lstrip("+") for m in simulator.messages()} == {STAFF[0].lstrip("+")}

    status, after = operator.get(f"/api/v1/campaigns/{draft['id']}")
    assert after["status"] == "draft" and after["counts"]["queued"] == 0 and after["recipients"] is None
    kinds = db.execute(text("SELECT DISTINCT kind FROM cost_entry WHERE campaign_id = :c"), {"c": test["id"]})
    assert kinds.scalars().all() == ["exercise"]
    audited = db.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'campaign.send_test' AND object_id = :c"),
        {"c": str(draft["id"])},
    ).scalar()
    assert audited == 1

    status, error = operator.post(f"/api/v1/campaigns/{draft['id']}/send-test", {})
    assert status == 422 and "test_group_id" in error["error"]["message"]


def test_the_prefix_goes_first_once_in_each_language_and_goes_away_for_a_real_alert():
    from campaigns.exercises import with_prefix

    once = with_prefix(BODY, "exercise", "pl")
    assert once == f"{PREFIX_PL}\n{BODY}"
    assert with_prefix(once, "exercise", "pl") == once
    transliterated = "CWICZENIA - TO NIE JEST PRAWDZIWY ALARM\n" + BODY  # the composer's "replace Polish letters"
    assert with_prefix(transliterated, "exercise", "pl") == transliterated
    assert with_prefix(once, "test", "pl") == f"TEST – TO NIE JEST PRAWDZIWY ALARM\n{BODY}"
    assert with_prefix(once, "actual", "pl") == BODY
    assert with_prefix("Flood", "exercise", "de").startswith("ÜBUNG")
    assert with_prefix(None, "exercise", "pl") is None


def test_an_exercise_confirmed_for_the_real_target_reaches_the_residents_with_the_prefix(
    api, operator, worker, simulator, wait
):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, RESIDENT, IN_A)
    status, campaign = _draft(operator, zone, status="exercise", confirm_real_target=True)
    assert status == 201, campaign
    assert operator.post(f"/api/v1/campaigns/{campaign['id']}/send")[0] == 202
    done = wait(settled(operator, campaign["id"]), 60, "the exercise to complete")
    assert done["counts"]["delivered"] == 1
    assert received(simulator) == {RESIDENT.lstrip("+"): f"{PREFIX_PL}\n{BODY}"}
