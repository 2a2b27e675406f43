"""Who gets what: language variants (falling back to Polish), alerts to everyone vs info to its topic's
subscribers and never in quiet hours (with a pinned clock), schedules kept in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from campaigns.workflow import start_due_campaigns
from tests.campaigns.conftest import received, set_subscriber, settled
from tests.factories import IN_A, IN_A_2, ZONE_A, create_subscriber, create_zone

DAY = datetime(2030, 1, 15, 11, 0, tzinfo=UTC)  # 12:00 in Poznań (CET)
NIGHT = datetime(2030, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 in Poznań
MORNING = datetime(2030, 1, 16, 6, 0, tzinfo=UTC)  # 07:00 in Poznań: quiet hours end


def test_each_resident_gets_their_language_and_the_rest_polish(api, operator, db, worker, simulator, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    people = {"48601000001": "pl", "48601000002": "en", "48601000003": "de", "48601000004": "uk"}
    for phone, language in people.items():
        set_subscriber(db, create_subscriber(api, "+" + phone, IN_A), language=language)
    texts = {"pl": "Uwaga: powódź na Wildzie.", "en": "Warning: flood in Wilda.", "de": "Achtung: Hochwasser."}
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": texts["pl"],
            "variants": {"en": texts["en"], "de": texts["de"]},
            "zone_ids": [zone],
        },
    )
    assert status == 201, c
    status, preview = operator.get(f"/api/v1/campaigns/{c['id']}/preview")
    assert preview["by_language"] == {"pl": 2, "en": 1, "de": 1}
    assert operator.post(f"/api/v1/campaigns/{c['id']}/send")[0] == 202
    wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert received(simulator) == {
        "48601000001": texts["pl"],
        "48601000002": texts["en"],
        "48601000003": texts["de"],
        "48601000004": texts["pl"],
    }  # no Ukrainian text


def test_ukrainian_residents_get_the_ukrainian_variant_counted_and_priced_as_ucs2(
    api, operator, db, worker, simulator, wait
):
    """Cyrillic is UCS-2: 67 characters per part of a long SMS, so the Ukrainian text costs its own parts."""
    zone = create_zone(api, "Wilda", ZONE_A)
    people = {"48601000021": "pl", "48601000022": "en", "48601000023": "uk", "48601000024": "uk"}
    for phone, language in people.items():
        set_subscriber(db, create_subscriber(api, "+" + phone, IN_A), language=language)
    texts = {
        "pl": "Uwaga: powodz na Wildzie. Nie zblizaj sie do rzeki.",  # GSM-7: 1 part
        "en": "Warning: flood in Wilda. Keep away from the river.",  # GSM-7: 1 part
        # 82 Cyrillic characters: UCS-2, 2 parts of 67
        "uk": "Увага: повінь на Вільді. Не наближайтеся до річки, стежте за повідомленнями міста.",
    }
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": texts["pl"],
            "variants": {"en": texts["en"], "uk": texts["uk"]},
            "zone_ids": [zone],
        },
    )
    assert status == 201, c
    status, preview = operator.get(f"/api/v1/campaigns/{c['id']}/preview")
    assert status == 200, preview
    assert preview["by_language"] == {"pl": 1, "en": 1, "uk": 2}
    uk = preview["texts"]["uk"]
    assert (uk["encoding"], uk["characters"], uk["parts"]) == ("ucs2", len(texts["uk"]), 2)
    assert preview["texts"]["pl"]["parts"] == preview["texts"]["en"]["parts"] == 1
    assert preview["total_parts"] == 1 + 1 + 2 * 2
    assert preview["cost"] == str(Decimal(preview["price_per_part"]) * 6)

    assert operator.post(f"/api/v1/campaigns/{c['id']}/send")[0] == 202
    wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert received(simulator) == {
        "48601000021": texts["pl"],
        "48601000022": texts["en"],
        "48601000023": texts["uk"],
        "48601000024": texts["uk"],
    }
    sent_uk = [m for m in simulator.messages() if m["destination_addr"].lstrip("+") == "48601000023"]
    assert (sent_uk[0]["data_coding"], sent_uk[0]["parts"]) == (8, 2)


def _people_with_topics(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    set_subscriber(db, create_subscriber(api, "+48601000011", IN_A), topics=["water"])
    set_subscriber(db, create_subscriber(api, "+48601000012", IN_A_2), topics=["traffic"])
    set_subscriber(db, create_subscriber(api, "+48601000013", IN_A), topics=[])
    return zone


def test_info_reaches_only_its_topic_and_alerts_reach_everyone(api, operator, db, clock, worker, simulator, wait):
    zone = _people_with_topics(api, db)
    clock(DAY)
    status, info = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "info",
            "topic": "water",
            "severity": "minor",
            "body": "Planowana przerwa w dostawie wody.",
            "zone_ids": [zone],
        },
    )
    assert status == 201, info
    status, sent = operator.post(f"/api/v1/campaigns/{info['id']}/send")
    assert (status, sent["status"]) == (202, "sending"), sent
    wait(settled(operator, info["id"]), 60, "the info campaign to complete")
    assert sorted(received(simulator)) == ["48601000011"]

    simulator.clear_messages()
    status, alert = operator.post(
        "/api/v1/campaigns",
        {"kind": "alert", "topic": "water", "severity": "severe", "body": "Skażenie wody.", "zone_ids": [zone]},
    )
    assert (status, alert["topic"]) == (201, None)  # an alert has no topic: everyone in the target
    operator.post(f"/api/v1/campaigns/{alert['id']}/send")
    wait(settled(operator, alert["id"]), 60, "the alert to complete")
    assert sorted(received(simulator)) == ["48601000011", "48601000012", "48601000013"]


def test_info_waits_out_quiet_hours_but_an_alert_does_not(api, operator, db, clock, worker, simulator, wait):
    zone = _people_with_topics(api, db)
    clock(NIGHT)
    status, info = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "info",
            "topic": "water",
            "severity": "minor",
            "body": "Jutro przerwa w dostawie wody.",
            "zone_ids": [zone],
        },
    )
    status, sent = operator.post(f"/api/v1/campaigns/{info['id']}/send")
    assert status == 202, sent
    assert sent["status"] == "scheduled"
    assert datetime.fromisoformat(sent["scheduled_for"]) == MORNING
    status, again = operator.post(f"/api/v1/campaigns/{info['id']}/send")
    assert status == 409, again  # already scheduled: not twice

    status, alert = operator.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "extreme", "body": "Pożar: zamknij okna.", "zone_ids": [zone]},
    )
    status, sent_alert = operator.post(f"/api/v1/campaigns/{alert['id']}/send")
    assert sent_alert["status"] == "sending", sent_alert
    wait(settled(operator, alert["id"]), 60, "the alert to complete")
    assert len(received(simulator)) == 3  # the alert went out at night; the info did not
    assert operator.get(f"/api/v1/campaigns/{info['id']}")[1]["status"] == "scheduled"

    # Still night a minute before the end: nothing starts. At 07:00 it goes, to its topic only.
    simulator.clear_messages()
    assert start_due_campaigns(db, MORNING - timedelta(minutes=1)) == []
    assert start_due_campaigns(db, MORNING + timedelta(seconds=1)) == [info["id"]]
    wait(settled(operator, info["id"]), 60, "the info campaign to complete")
    assert sorted(received(simulator)) == ["48601000011"]


def test_a_campaign_scheduled_for_later_is_started_by_the_worker(api, operator, worker, simulator, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000021", IN_A)
    later = datetime.now(UTC) + timedelta(seconds=4)
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "moderate",
            "body": "Ćwiczenia.",
            "zone_ids": [zone],
            "scheduled_for": later.isoformat(),
        },
    )
    assert status == 201, c
    status, sent = operator.post(f"/api/v1/campaigns/{c['id']}/send")
    assert sent["status"] == "scheduled"
    assert simulator.messages() == []
    wait(settled(operator, c["id"]), 60, "the worker to start the scheduled campaign")
    assert sorted(received(simulator)) == ["48601000021"]


def test_sender_id_flash_and_validity_reach_the_smsc(api, operator, worker, simulator, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000031", IN_A)
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "extreme",
            "flash": True,
            "sender_id": "UMPoznan",
            "validity_minutes": 90,
            "body": "Wyciek gazu: opusc budynek.",
            "zone_ids": [zone],
        },
    )
    assert status == 201, c
    operator.post(f"/api/v1/campaigns/{c['id']}/send")
    wait(settled(operator, c["id"]), 60, "the campaign to complete")
    (sms,) = simulator.messages()
    assert (sms["source_addr"], sms["source_addr_ton"]) == ("UMPoznan", 5)  # alphanumeric
    assert sms["data_coding"] == 0x10  # GSM 7-bit, class 0: flash
    assert sms["validity_period"].startswith("000000013000")  # relative: 1 h 30 min
