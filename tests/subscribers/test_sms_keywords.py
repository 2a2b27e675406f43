"""Keyword SMS through the real path: the simulator injects an MO, `flask worker` stores it and runs the
keyword handler, the reply goes back through the SMPP session to the simulator."""
from __future__ import annotations

from sqlalchemy import select

from subscribers.models import Subscriber, SubscriberStatus
from subscribers.service import zones_of_subscriber
from tests.factories import IN_A, create_subscriber
from tests.subscribers.conftest import PHONE


def _subscriber(db, phone=PHONE) -> Subscriber | None:
    db.expire_all()
    return db.scalar(select(Subscriber).where(Subscriber.phone == phone))


def test_zapisz_with_an_address_subscribes_in_the_right_zone_and_replies(send_mo, sms_to, wait, db, gazetteer,
                                                                          two_zones):
    message = send_mo(PHONE, "ZAPISZ ul. Głogowska 77")
    subscriber = _subscriber(db)
    assert subscriber.status == SubscriberStatus.ACTIVE.value and subscriber.source == "sms"
    assert [z.id for z in zones_of_subscriber(db, subscriber.id)] == [two_zones["Zachód"]]
    replies = wait(lambda: sms_to(PHONE), 30, "the reply")
    assert replies == [message.reply]
    assert "Glogowska 77" in replies[0] and "ZACHOD" in replies[0] and "WYPISZ" in replies[0]


def test_a_typo_and_missing_diacritics_still_find_the_street(send_mo, db, gazetteer, two_zones):
    send_mo(PHONE, "zapisz glogowksa 77")
    assert _subscriber(db).status == SubscriberStatus.ACTIVE.value


def test_zone_codes_subscribe_to_whole_zones(send_mo, db, two_zones):
    message = send_mo(PHONE, "zapisz zachod WSCHOD")
    subscriber = _subscriber(db)
    assert sorted(z.id for z in zones_of_subscriber(db, subscriber.id)) == sorted(two_zones.values())
    assert "ZACHOD" in message.reply and "WSCHOD" in message.reply


def test_an_ambiguous_address_gets_candidates_and_subscribes_nobody(send_mo, db, gazetteer, two_zones):
    message = send_mo(PHONE, "ZAPISZ Głogowska 78")
    assert _subscriber(db) is None
    assert "Glogowska 77" in message.reply and "ZAPISZ" in message.reply


def test_an_unknown_address_asks_for_street_and_number_in_english_for_start(send_mo, db, gazetteer, two_zones):
    message = send_mo(PHONE, "START Qwzx Vbnm 5")
    assert _subscriber(db) is None
    assert "address not found" in message.reply and "START" in message.reply


def test_stop_unsubscribes_replies_and_a_later_alert_does_not_reach_the_number(send_mo, sms_to, wait, db, api,
                                                                             gazetteer, two_zones):
    staying = "+48601000222"
    create_subscriber(api, staying, IN_A)
    send_mo(PHONE, "ZAPISZ Głogowska 77")
    message = send_mo(PHONE, "STOP")
    assert _subscriber(db).status == SubscriberStatus.UNSUBSCRIBED.value
    assert "wypisano" in message.reply.lower()  # STOP answers in the language the resident chose (Polish)
    wait(lambda: len(sms_to(PHONE)) == 2, 30, "both replies")

    status, campaign = api.post("/api/v1/campaigns", {"kind": "alert", "severity": "severe",
                                                      "zone_ids": [two_zones["Zachód"]],
                                                      "body": "Awaria wodociagu: nie pij wody z kranu."})
    assert status == 201, campaign
    status, body = api.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert status in (200, 202), body
    wait(lambda: any("Awaria" in t for t in sms_to(staying)), 30, "the alert to the subscriber who stayed")
    assert not any("Awaria" in t for t in sms_to(PHONE))
    assert api.get(f"/api/v1/campaigns/{campaign['id']}")[1]["recipients"] == 1


def test_status_help_and_nonsense_each_get_one_reply(send_mo, sms_to, wait, gazetteer, two_zones):
    send_mo(PHONE, "ZAPISZ Głogowska 77")
    assert "Glogowska 77" in send_mo(PHONE, "DANE").reply
    assert "ZAPISZ" in send_mo(PHONE, "pomoc").reply
    assert "send HELP" in send_mo(PHONE, "what is this?").reply
    assert "wyslij POMOC" in send_mo(PHONE, "").reply
    wait(lambda: len(sms_to(PHONE)) == 5, 30, "five replies")
    assert len(sms_to(PHONE)) == 5


def test_long_and_emoji_texts_get_a_helpful_reply(send_mo, gazetteer, two_zones):
    long_text = "ZAPISZ " + "bardzo dluga wiadomosc " * 45
    assert len(long_text) > 1000
    assert send_mo(PHONE, long_text).reply
    assert send_mo(PHONE, "🚨 ZAPISZ Głogowska 77 🏠").reply
