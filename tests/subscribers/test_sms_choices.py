"""Ambiguous addresses by SMS: the reply lists numbered candidates (kept in the database), and the resident
picks one by texting its number back — through the simulator, `flask worker` and the keyword handler."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from subscribers.models import AddressChoice, Subscriber, SubscriberStatus
from subscribers.service import zones_of_subscriber
from syrena_core.db import utcnow
from tests.subscribers.conftest import PHONE


def _subscriber(db, phone=PHONE) -> Subscriber | None:
    db.expire_all()
    return db.scalar(select(Subscriber).where(Subscriber.phone == phone))


def _choice(db, phone=PHONE) -> AddressChoice | None:
    db.expire_all()
    return db.get(AddressChoice, phone)


def test_a_number_texted_back_picks_that_candidate(send_mo, sms_to, wait, db, gazetteer, two_zones):
    listed = send_mo(PHONE, "ZAPISZ Głogowska 78")
    assert "1) " in listed.reply and "Odpisz numerem" in listed.reply
    pending = _choice(db)
    assert pending is not None and pending.language == "pl" and 2 <= len(pending.candidates) <= 3
    second = pending.candidates[1]["label"]
    assert "2) " in listed.reply
    assert _subscriber(db) is None

    picked = send_mo(PHONE, "2")
    subscriber = _subscriber(db)
    assert subscriber.status == SubscriberStatus.ACTIVE.value
    assert [loc.address for loc in subscriber.locations] == [second]
    assert "zapisano" in picked.reply and "Strefy" in picked.reply  # Polish, like the list it picked from
    assert _choice(db) is None  # a list is used once
    wait(lambda: len(sms_to(PHONE)) == 2, 30, "both replies")
    assert sms_to(PHONE) == [listed.reply, picked.reply]


def test_zapisz_with_a_number_also_picks_and_english_lists_answer_in_english(send_mo, db, gazetteer, two_zones):
    listed = send_mo(PHONE, "START Głogowska 78")
    assert "Reply with its number" in listed.reply
    first = _choice(db).candidates[0]
    picked = send_mo(PHONE, "START 1")
    assert "subscribed" in picked.reply and "Zones:" in picked.reply
    subscriber = _subscriber(db)
    assert [loc.address for loc in subscriber.locations] == [first["label"]]
    # The first candidate (Głogowska 77) lies in the west zone: the reply names it.
    assert [z.id for z in zones_of_subscriber(db, subscriber.id)] == [two_zones["Zachód"]]
    assert "ZACHOD" in picked.reply


def test_a_number_not_on_the_list_repeats_it_and_an_old_list_no_longer_counts(send_mo, db, gazetteer, two_zones):
    listed = send_mo(PHONE, "ZAPISZ Głogowska 78")
    again = send_mo(PHONE, "7")
    assert _subscriber(db) is None
    assert again.reply == listed.reply  # the same list again
    db.execute(text("UPDATE address_choice SET expires_at = :at"), {"at": utcnow() - timedelta(seconds=1)})
    db.commit()
    late = send_mo(PHONE, "1")
    assert _subscriber(db) is None
    assert "wyslij POMOC" in late.reply and "send HELP" in late.reply  # a bare number, nothing to pick from


def test_a_number_from_a_phone_that_was_offered_no_list_subscribes_nobody(send_mo, db, gazetteer, two_zones):
    send_mo("+48601000777", "ZAPISZ Głogowska 78")
    reply = send_mo(PHONE, "1").reply
    assert _subscriber(db) is None and _subscriber(db, "+48601000777") is None
    assert "send HELP" in reply


def test_stop_forgets_the_list(send_mo, db, gazetteer, two_zones):
    send_mo(PHONE, "ZAPISZ Głogowska 78")
    send_mo(PHONE, "STOP")
    assert _choice(db) is None
    send_mo(PHONE, "1")
    assert _subscriber(db) is None
