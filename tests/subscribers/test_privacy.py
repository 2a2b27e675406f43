"""Opt-outs honoured forever, personal data erased after the retention period, odd SMS ignored safely."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from smsc_gateway.models import InboundMessage
from subscribers.exceptions import InvalidLocation
from subscribers.jobs import handle_inbound_sms, purge_expired_personal_data
from subscribers.models import Subscriber, SuppressedPhone
from subscribers.service import (
    NewLocation,
    is_suppressed,
    phone_hash,
    subscribe,
    unsubscribe,
)
from syrena_core.db import utcnow
from tests.factories import IN_A, create_subscriber

PLACE = NewLocation(label="home", address="Głogowska 77, Poznań", lat=52.39529, lon=16.90034)


def test_personal_data_go_after_the_retention_period_and_the_opt_out_stays(api, db, settings):
    old, recent = "+48601000501", "+48601000502"
    for phone in (old, recent):
        create_subscriber(api, phone, IN_A)
        unsubscribe(db, phone)
    db.execute(
        text("UPDATE subscriber SET unsubscribed_at = :at WHERE phone = :p"),
        {"at": utcnow() - timedelta(days=settings.subscribers.retention_days + 1), "p": old},
    )
    db.commit()
    assert purge_expired_personal_data() == 1
    db.expire_all()
    assert set(db.scalars(select(Subscriber.phone))) == {recent}
    assert is_suppressed(db, old) and is_suppressed(db, recent)
    stored = db.scalars(select(SuppressedPhone.phone_hash)).all()
    assert old not in stored and phone_hash(old) in stored  # only a hash is kept
    assert db.execute(text("SELECT count(*) FROM audit_log WHERE action = 'subscriber.erase'")).scalar() == 1


def test_the_owner_may_come_back_after_opting_out(db, settings):
    subscribe(db, "+48601000503", [PLACE], language="pl", source="sms", consent_version="v1")
    unsubscribe(db, "+48601000503")
    assert is_suppressed(db, "+48601000503")
    subscriber = subscribe(db, "+48601000503", [PLACE], language="en", source="web", consent_version="v2")
    assert subscriber.status == "active" and subscriber.consent_version == "v2"
    assert not is_suppressed(db, "+48601000503")
    db.rollback()


def _inbound(db, text_: str, data_coding: int = 0, source: str = "+48601000504") -> int:
    message = InboundMessage(source_addr=source, destination_addr="4800", text=text_, data_coding=data_coding)
    db.add(message)
    db.commit()
    return message.id


def test_binary_sms_and_unknown_senders_are_logged_and_ignored_without_a_reply(db, settings, simulator):
    binary = _inbound(db, "\x01\x02\x03", data_coding=0x04)
    alphanumeric = _inbound(db, "ZAPISZ Głogowska 77", source="ORANGE")
    assert handle_inbound_sms(binary) is None
    assert handle_inbound_sms(alphanumeric) is None
    db.expire_all()
    rows = db.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert all(r.handled_at is not None and r.reply is None for r in rows)
    assert simulator.messages() == []


def test_a_message_handled_once_is_never_handled_again(db, settings, simulator):
    message_id = _inbound(db, "POMOC")
    db.execute(
        text("UPDATE inbound_message SET handled_at = now(), reply = 'earlier' WHERE id = :id"), {"id": message_id}
    )
    db.commit()
    assert handle_inbound_sms(message_id) is None
    db.expire_all()
    assert db.get(InboundMessage, message_id).reply == "earlier"
    assert simulator.messages() == []


def test_the_workers_erase_expired_personal_data_on_their_own(api, db, settings, worker, wait):
    """No one calls the purge: every worker's heartbeat enqueues it (at most once per purge_every_minutes)."""
    from subscribers.jobs import PURGE_DUE_KEY
    from syrena_core.queues import redis_connection

    gone, kept = "+48601000511", "+48601000512"
    for phone in (gone, kept):
        create_subscriber(api, phone, IN_A)
        unsubscribe(db, phone)
    db.execute(
        text("UPDATE subscriber SET unsubscribed_at = :at WHERE phone = :p"),
        {"at": utcnow() - timedelta(days=settings.subscribers.retention_days, minutes=5), "p": gone},
    )
    db.commit()
    redis = redis_connection(settings.redis.url)
    redis.delete(PURGE_DUE_KEY)  # as when the last run was an hour ago

    def erased():
        db.expire_all()
        return set(db.scalars(select(Subscriber.phone))) == {kept}

    wait(erased, 30, "the worker's periodic erasure")
    assert is_suppressed(db, gone) and is_suppressed(db, kept)  # the opt-out outlives the data
    assert redis.ttl(PURGE_DUE_KEY) > 0  # and the next run is an interval away


def test_a_binary_mo_with_a_nul_byte_is_stored_and_ignored(db, settings, simulator):
    """PostgreSQL text cannot hold NUL: storing such an MO used to fail, and the MO writer retried the
    whole batch for ever, so no later MO was stored either."""
    from smsc_gateway.inbound import store_mobile_originated
    from smsc_gateway.interface import MobileOriginated

    ids = store_mobile_originated(
        db,
        [
            MobileOriginated(source="+48601000505", destination="4800", text="\x00\x01\xffOTA", data_coding=0x04),
            MobileOriginated(source="+48601000506", destination="4800", text="POMOC", data_coding=0),
        ],
    )
    db.commit()
    assert len(ids) == 2
    assert db.get(InboundMessage, ids[0]).text == "\ufffd\x01\xffOTA"
    assert handle_inbound_sms(ids[0]) is None  # binary: logged and ignored, no reply
    db.expire_all()
    assert db.get(InboundMessage, ids[0]).handled_at is not None
    assert simulator.messages() == []


def test_a_sixth_place_is_refused_and_changes_nothing(db, settings):
    phone = "+48601000507"
    places = [NewLocation(label=f"p{n}", address=f"Głogowska {n}", lat=52.39 + n / 1000, lon=16.90) for n in range(6)]
    subscribe(db, phone, places[:5], language="pl", source="sms", consent_version="v1")
    db.commit()
    with pytest.raises(InvalidLocation):
        subscribe(db, phone, places[5:], language="pl", source="sms", consent_version="v1", replace_locations=False)
    db.commit()
    db.expire_all()
    stored = db.scalar(select(Subscriber).where(Subscriber.phone == phone))
    assert [loc.label for loc in stored.locations] == ["p0", "p1", "p2", "p3", "p4"]
