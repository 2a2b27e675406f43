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


def test_zapisz_with_an_address_subscribes_in_the_right_zone_and_replies(
    send_mo, sms_to, wait, db, gazetteer, two_zones
):
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


def test_stop_unsubscribes_replies_and_a_later_alert_does_not_reach_the_number(
    send_mo, sms_to, wait, db, api, gazetteer, two_zones
):
    staying = "+48601000222"
    create_subscriber(api, staying, IN_A)
    send_mo(PHONE, "ZAPISZ Głogowska 77")
    message = send_mo(PHONE, "STOP")
    assert _subscriber(db).status == SubscriberStatus.UNSUBSCRIBED.value
    assert "wypisano" in message.reply.lower()  # STOP answers in the language the resident chose (Polish)
    wait(lambda: len(sms_to(PHONE)) == 2, 30, "both replies")

    status, campaign = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "zone_ids": [two_zones["Zachód"]],
            "body": "Awaria wodociagu: nie pij wody z kranu.",
        },
    )
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


def test_stop_and_status_answer_in_the_language_the_resident_subscribed_in(send_mo, gazetteer, two_zones):
    """STOP and STATUS are words of both languages: they are answered in the language of the START/ZAPISZ."""
    assert "subscribed" in send_mo(PHONE, "START Głogowska 77").reply
    assert send_mo(PHONE, "status").reply.startswith("Syrena: subscription active. Places: Glogowska 77")
    assert send_mo(PHONE, "STOP").reply.startswith("Syrena: unsubscribed.")
    assert send_mo("+48601000888", "STOP").reply.startswith("Syrena: ten numer nie jest zapisany")  # a stranger: Polish


def test_long_and_emoji_texts_get_a_helpful_reply(send_mo, gazetteer, two_zones):
    long_text = "ZAPISZ " + "bardzo dluga wiadomosc " * 45
    assert len(long_text) > 1000
    assert send_mo(PHONE, long_text).reply
    assert send_mo(PHONE, "🚨 ZAPISZ Głogowska 77 🏠").reply


def test_a_batch_is_answered_once_per_sms_even_when_one_of_them_fails(
    db, settings, worker, sms_to, wait, gazetteer, two_zones
):
    """MO that arrive together are handled in one job; a message whose handling fails (here: a stored address
    list damaged by hand) gets an apology while the others get their answers."""
    from datetime import timedelta

    from smsc_gateway.inbound import hand_to_keyword_handler
    from smsc_gateway.models import InboundMessage
    from subscribers.models import AddressChoice
    from syrena_core.db import utcnow
    from syrena_core.queues import TRANSACTIONAL, queue

    broken, resident = "+48601000630", "+48601000631"
    db.add(
        AddressChoice(
            phone=broken,
            language="pl",
            candidates=[{"label": "bez wspolrzednych"}],
            expires_at=utcnow() + timedelta(minutes=5),
        )
    )
    texts = [
        (resident, "ZAPISZ Głogowska 77"),
        ("+48601000632", "START WSCHOD"),
        ("+48601000633", "POMOC"),
        (broken, "1"),
        ("+48601000634", "STOP"),
        (resident, "DANE"),
    ]
    rows = [InboundMessage(source_addr=phone, destination_addr="4800", text=t, data_coding=0) for phone, t in texts]
    db.add_all(rows)
    db.commit()
    hand_to_keyword_handler(queue(TRANSACTIONAL, settings.redis.url), [r.id for r in rows])

    wanted = {resident: 2, "+48601000632": 1, "+48601000633": 1, broken: 1, "+48601000634": 1}
    wait(lambda: all(len(sms_to(p)) == n for p, n in wanted.items()), 30, "one reply to every SMS")
    assert "nie udalo sie" in sms_to(broken)[0]
    assert "subscribed" in sms_to("+48601000632")[0] and "WSCHOD" in sms_to("+48601000632")[0]
    assert "ZAPISZ" in sms_to("+48601000633")[0]
    assert "nie jest zapisany" in sms_to("+48601000634")[0]
    (status,) = [t for t in sms_to(resident) if "Miejsca:" in t]  # the DANE reply, after the ZAPISZ one
    assert "Glogowska 77" in status and "Strefy: ZACHOD" in status
    db.expire_all()
    assert all(r.handled_at is not None for r in db.scalars(select(InboundMessage)))
    assert _subscriber(db, broken) is None

    from sqlalchemy import func

    from billing.models import CostEntry

    def charged():  # every reply the SMSC accepted is in the ledger, once
        db.rollback()
        return db.scalar(select(func.count()).select_from(CostEntry).where(CostEntry.kind == "transactional")) == 6

    wait(charged, 30, "the six replies charged")


def test_ukrainian_keywords_subscribe_and_unsubscribe_and_are_answered_in_ukrainian(
    send_mo, simulator, sms_to, wait, db, gazetteer, two_zones
):
    """ПІДПИСКА subscribes and makes Ukrainian the resident's language; a Latin STATUS is then answered in
    Ukrainian; СТОП unsubscribes. The replies reach the phone as UCS-2, Cyrillic intact."""
    message = send_mo(PHONE, "ПІДПИСКА Głogowska 77")
    subscriber = _subscriber(db)
    assert subscriber.status == SubscriberStatus.ACTIVE.value and subscriber.language == "uk"
    assert message.reply.startswith("Syrena: підписано") and "Зони: ZACHOD" in message.reply

    assert send_mo(PHONE, "status").reply.startswith("Syrena: підписка активна. Місця: Głogowska 77")

    message = send_mo(PHONE, "СТОП")
    assert _subscriber(db).status == SubscriberStatus.UNSUBSCRIBED.value
    assert message.reply.startswith("Syrena: ви відписалися.")

    replies = wait(lambda: sms_to(PHONE) if len(sms_to(PHONE)) == 3 else None, 30, "the three replies")
    assert replies[-1] == message.reply  # what the phone shows: the Cyrillic survived the SMSC
    stop = [m for m in simulator.messages() if m["text"] == message.reply]
    assert stop and stop[0]["data_coding"] == 8  # UCS-2


def test_a_ukrainian_stranger_is_told_in_ukrainian(send_mo, gazetteer, two_zones):
    assert send_mo("+48601000777", "стоп").reply.startswith("Syrena: цей номер не підписаний")
    assert "ДОПОМОГА" in send_mo("+48601000778", "Привіт, що це?").reply
    assert "ПІДПИСКА" in send_mo("+48601000779", "ДОПОМОГА").reply
