"""What the approver approves is what is sent (issue 19, defect 1): the target is frozen when the alert is
submitted. A zone used by an alert awaiting approval or its send time cannot be reshaped (409 zone_in_use
naming the alerts); the previews, the approval page and the send use the copy; residents subscribed by a
neighbouring zone's SMS code are those of the moment of submission."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from campaigns.workflow import start_due_campaigns
from tests.campaigns.conftest import received, settled
from tests.factories import IN_A, ZONE_A, ZONE_B, create_subscriber, create_zone, feature
from tests.helpers import ApiClient

pytestmark = pytest.mark.usefixtures("approval_required")

# Zone A grown north and west: it then holds the three people outside it as well.
ENLARGED_A = {
    "type": "Polygon",
    "coordinates": [[[16.88, 52.37], [16.935, 52.37], [16.935, 52.43], [16.88, 52.43], [16.88, 52.37]]],
}
OUTSIDE_A = [{"lat": 52.41, "lon": 16.91}, {"lat": 52.42, "lon": 16.89}, {"lat": 52.375, "lon": 16.885}]
# Zone B grown west over most of zone A (B itself is not targeted).
B_OVER_A = {
    "type": "Polygon",
    "coordinates": [[[16.905, 52.38], [16.97, 52.38], [16.97, 52.40], [16.905, 52.40], [16.905, 52.38]]],
}


def _people(api) -> tuple[int, str]:
    """Wilda (zone A) with one resident in it and three just outside; → (zone id, the resident's digits)."""
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    for n, place in enumerate(OUTSIDE_A, start=2):
        create_subscriber(api, f"+4860100000{n}", place)
    return zone, "48601000001"


def _submitted(operator, zone: int, **extra) -> dict:
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "zone_ids": [zone],
            "body": "Alarm powodziowy: wyjdz na wyzsze pietro.",
            **extra,
        },
    )
    assert status == 201, c
    status, c = operator.post(f"/api/v1/campaigns/{c['id']}/submit")
    assert (status, c["status"]) == (200, "pending_approval"), c
    return c


def _recipients(client, campaign_id: int) -> int:
    status, preview = client.get(f"/api/v1/campaigns/{campaign_id}/preview")
    assert status == 200, preview
    return preview["recipients"]


def _enlarge_refused(operator, zone: int, geometry: dict, campaign_id: int) -> None:
    status, body = operator.call("PUT", f"/api/v1/zones/{zone}", feature("Wilda", geometry))
    assert (status, body["error"]["code"]) == (409, "zone_in_use"), body
    assert f"#{campaign_id}" in body["error"]["message"]  # names the alert that holds the zone
    status, now = operator.get(f"/api/v1/zones/{zone}")
    assert now["geometry"]["coordinates"][0][0] == ZONE_A["coordinates"][0]  # unchanged


def test_a_scheduled_approved_alert_reaches_only_the_approved_zone(
    api, operator, approver, db, worker, simulator, wait
):
    zone, inside = _people(api)
    later = datetime.now(UTC) + timedelta(hours=1)
    c = _submitted(operator, zone, scheduled_for=later.isoformat())
    assert _recipients(approver, c["id"]) == 1  # what the approver sees…
    status, approved = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert (status, approved["status"]) == (202, "scheduled"), approved

    _enlarge_refused(operator, zone, ENLARGED_A, c["id"])
    status, renamed = operator.call("PUT", f"/api/v1/zones/{zone}", {"properties": {"name": "Wilda Stara"}})
    assert status == 200, renamed  # a new name changes nobody's warning
    assert _recipients(operator, c["id"]) == 1

    assert start_due_campaigns(db, later + timedelta(seconds=1)) == [c["id"]]
    wait(settled(operator, c["id"]), 60, "the scheduled alert to complete")
    assert list(received(simulator)) == [inside]  # …is who gets it


def test_a_zone_changed_while_the_alert_awaits_approval_is_refused_and_the_approved_target_is_sent(
    api, operator, live_server, make_user, page, login, worker, simulator, wait
):
    zone, inside = _people(api)
    c = _submitted(operator, zone)
    approver_email, token = make_user("approver")
    approver = ApiClient(live_server, token)
    assert _recipients(approver, c["id"]) == 1

    _enlarge_refused(operator, zone, ENLARGED_A, c["id"])

    # The approval page: the recipients and the map are those of the submitted target.
    login(page, approver_email)
    page.goto(f"/campaigns/{c['id']}/review")
    assert page.locator("#review-recipients").inner_text().strip() == "1"
    target = json.loads(page.locator("#review-map-data").text_content())
    (wilda,) = [f for f in target["features"] if f["properties"]["kind"] == "zone"]
    assert wilda["properties"]["frozen"] is True
    assert wilda["geometry"]["coordinates"][0][0] == ZONE_A["coordinates"][0]

    status, approved = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert (status, approved["status"]) == (202, "sending"), approved
    wait(settled(operator, c["id"]), 60, "the alert to complete")
    assert list(received(simulator)) == [inside]


def test_a_neighbouring_zone_grown_after_submission_adds_none_of_its_code_subscribers(
    api, operator, approver, db, worker, simulator, wait
):
    zone, inside = _people(api)
    neighbour = create_zone(api, "Rataje", ZONE_B)
    # A resident who texted "START RATAJE": subscribed to the whole zone B, no point of their own.
    db.execute(
        text("""
        WITH s AS (INSERT INTO subscriber (phone, language, status, source, created_at)
                   VALUES ('+48601000099', 'pl', 'active', 'sms', now()) RETURNING id)
        INSERT INTO subscriber_location (subscriber_id, label, zone_id) SELECT s.id, 'RATAJE', :zone FROM s"""),
        {"zone": neighbour},
    )
    db.commit()
    later = datetime.now(UTC) + timedelta(hours=1)
    c = _submitted(operator, zone, scheduled_for=later.isoformat())
    status, approved = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert (status, approved["status"]) == (202, "scheduled"), approved

    # Zone B is no target of the alert: it may be reshaped, and now covers most of zone A.
    status, body = operator.call("PUT", f"/api/v1/zones/{neighbour}", feature("Rataje", B_OVER_A))
    assert status == 200, body
    assert _recipients(operator, c["id"]) == 1

    assert start_due_campaigns(db, later + timedelta(seconds=1)) == [c["id"]]
    wait(settled(operator, c["id"]), 60, "the scheduled alert to complete")
    assert list(received(simulator)) == [inside]


def test_a_rejected_and_edited_alert_follows_the_zone_again_until_submitted(api, operator, approver):
    zone, _inside = _people(api)
    c = _submitted(operator, zone)
    status, body = approver.post(f"/api/v1/campaigns/{c['id']}/reject", {"reason": "Za mały obszar"})
    assert status == 200, body
    status, body = operator.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"title": "Powódź"})
    assert (status, body["status"], body["target_frozen_at"]) == (200, "draft", None), body
    status, body = operator.call("PUT", f"/api/v1/zones/{zone}", feature("Wilda", ENLARGED_A))
    assert status == 200, body  # a draft holds no zone
    assert _recipients(operator, c["id"]) == 4
    status, again = operator.post(f"/api/v1/campaigns/{c['id']}/submit")
    assert status == 200 and again["target_frozen_at"] is not None, again
    assert _recipients(approver, c["id"]) == 4  # the approver sees the new shape


def test_the_send_uses_the_frozen_copy_even_if_the_zone_changed_by_another_way(
    api, operator, approver, db, worker, simulator, wait
):
    zone, inside = _people(api)
    later = datetime.now(UTC) + timedelta(hours=1)
    c = _submitted(operator, zone, scheduled_for=later.isoformat())
    approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    # Not through the API (which refuses it): e.g. a database restore or a future import path.
    db.execute(
        text("UPDATE zone SET geom = ST_Multi(ST_GeomFromGeoJSON(:g)) WHERE id = :id"),
        {"g": json.dumps(ENLARGED_A), "id": zone},
    )
    db.commit()
    assert _recipients(approver, c["id"]) == 1
    assert start_due_campaigns(db, later + timedelta(seconds=1)) == [c["id"]]
    wait(settled(operator, c["id"]), 60, "the scheduled alert to complete")
    assert list(received(simulator)) == [inside]


def _cap_polygon(client, campaign_id: int) -> set[str]:
    from lxml import etree

    status, payload = client.get(f"/api/v1/campaigns/{campaign_id}/cap.xml")
    assert status == 200, payload
    doc = etree.fromstring(payload.encode() if isinstance(payload, str) else payload)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    return set(doc.findtext("cap:info/cap:area/cap:polygon", namespaces=ns).split())


def test_cap_the_public_map_and_an_all_clear_show_the_area_that_was_warned(
    api, operator, approver, live_server, worker, simulator, wait
):
    zone, _inside = _people(api)
    c = _submitted(operator, zone)
    approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    wait(settled(operator, c["id"]), 60, "the alert to complete")
    status, body = operator.call("PUT", f"/api/v1/zones/{zone}", feature("Wilda", ENLARGED_A))
    assert status == 200, body  # sent: the zone is free again

    warned = {"52.380000,16.900000", "52.380000,16.930000", "52.400000,16.930000", "52.400000,16.900000"}
    assert _cap_polygon(operator, c["id"]) == warned
    with urllib.request.urlopen(f"{live_server}/alerts") as r:
        public = r.read().decode()
    areas = json.loads(re.search(r'id="alerts-map-data">(.*?)</script>', public, re.S).group(1))
    (shape,) = [f["geometry"] for f in areas["features"]]  # the map of alerts in force: the old shape
    assert shape["coordinates"][0][0] == ZONE_A["coordinates"][0], shape
    status, clear = operator.post(f"/api/v1/campaigns/{c['id']}/all-clear", {"body": "Odwołanie alarmu."})
    assert status == 201, clear  # awaits approval
    assert clear["target_frozen_at"] is not None
    assert _cap_polygon(operator, clear["id"]) == warned
    assert _recipients(approver, clear["id"]) == 1  # exactly those warned
