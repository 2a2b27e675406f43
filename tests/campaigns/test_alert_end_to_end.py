"""The walking skeleton's path: API → PostGIS → Redis/RQ → `flask worker` → SMPP → simulator → receipts."""

from __future__ import annotations

from tests.factories import IN_A, IN_A_2, IN_B, OUTSIDE, ZONE_A, ZONE_B, create_subscriber, create_zone


def _send(api, body: str, zone_ids: list[int]) -> int:
    status, campaign = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": body, "zone_ids": zone_ids}
    )
    assert status == 201, campaign
    assert campaign["status"] == "draft"
    status, sent = api.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert status == 202, sent
    return campaign["id"]


def _settled(api, campaign_id: int):
    def check():
        status, c = api.get(f"/api/v1/campaigns/{campaign_id}")
        assert status == 200
        return c if c["status"] == "completed" else None

    return check


def test_alert_reaches_exactly_the_people_in_the_target_zones(api, worker, simulator, wait):
    a = create_zone(api, "Wilda", ZONE_A)
    b = create_zone(api, "Rataje", ZONE_B)
    create_subscriber(api, "+48601000001", IN_A)
    create_subscriber(api, "+48601000002", OUTSIDE)
    create_subscriber(api, "+48601000003", IN_A_2, IN_B)  # two homes, two target zones: one SMS
    text = "Awaria wodociagu: nie pij wody z kranu do odwolania."

    campaign_id = _send(api, text, [a, b])
    campaign = wait(_settled(api, campaign_id), 60, "the campaign to complete")

    assert campaign["recipients"] == 2
    assert campaign["counts"]["delivered"] == 2
    assert campaign["counts"]["failed"] == 0
    received = simulator.messages()
    assert sorted(m["destination_addr"].lstrip("+") for m in received) == ["48601000001", "48601000003"]
    assert all(m["text"] == text for m in received)
    assert campaign["cost"] == "0.3600"  # 2 messages × 1 part × 0.18 PLN


def test_alert_with_polish_letters_goes_out_as_ucs2_parts_and_is_delivered_whole(api, worker, simulator, wait):
    zone = create_zone(api, "Łazarz", ZONE_A)
    create_subscriber(api, "+48601000011", IN_A)
    text = (
        "Uwaga! Pożar hali magazynowej przy ul. Głogowskiej. Zamknij okna, wyłącz wentylację "
        "i nie wychodź z domu. Śledź komunikaty służb."
    )  # 126 characters, diacritics → UCS-2, 2 parts

    campaign_id = _send(api, text, [zone])
    campaign = wait(_settled(api, campaign_id), 60, "the campaign to complete")

    assert campaign["encoding"] == "ucs2"
    assert campaign["parts_per_message"] == 2
    assert campaign["counts"]["delivered"] == 1
    (received,) = simulator.messages()
    assert received["text"] == text
    assert received["parts"] == 2


def test_nobody_in_the_zone_completes_at_once_and_sends_nothing(api, worker, simulator, wait):
    zone = create_zone(api, "Pusta", ZONE_B)
    create_subscriber(api, "+48601000021", IN_A)
    campaign_id = _send(api, "Test", [zone])
    campaign = wait(_settled(api, campaign_id), 10, "the campaign to complete")
    assert campaign["recipients"] == 0
    assert simulator.messages() == []


def test_a_sent_campaign_cannot_be_sent_again(api, worker, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000031", IN_A)
    campaign_id = _send(api, "Raz", [zone])
    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/send")
    assert status == 409
    assert body["error"]["code"] == "invalid_state"
    wait(_settled(api, campaign_id), 60, "the campaign to complete")
