"""Receipts settle messages whichever arrives first: the receipt or the recorded submit_sm_resp."""
from __future__ import annotations

from sqlalchemy import select

from campaigns.delivery import match_receipts, record_send_results, store_receipts
from campaigns.models import Campaign, Message
from smsc_gateway.interface import DeliveryReceipt, SendResult
from subscribers.models import Subscriber


def _sending_campaign(db, *phones):
    campaign = Campaign(kind="alert", severity="severe", body="x", status="sending")
    db.add(campaign)
    db.flush()
    messages = []
    for phone in phones:
        subscriber = Subscriber(phone=phone, source="import", status="active")
        db.add(subscriber)
        db.flush()
        message = Message(campaign_id=campaign.id, subscriber_id=subscriber.id, phone=phone, status="submitting")
        db.add(message)
        messages.append(message)
    db.commit()
    return campaign, messages


def test_a_receipt_that_came_first_is_kept_and_matched_later(db, settings):
    campaign, (message,) = _sending_campaign(db, "+48601000001")
    store_receipts(db, [DeliveryReceipt("A1", "DELIVRD", "000")])
    db.commit()
    assert match_receipts(db) == 0  # nothing to match yet: the id is unknown
    db.commit()

    record_send_results(db, [SendResult(ref=message.id, accepted=True, smsc_message_ids=["A1"], parts=1,
                                        encoding="gsm7")], settings.billing)
    db.commit()
    assert match_receipts(db) == 1
    db.commit()

    db.refresh(message)
    db.refresh(campaign)
    assert message.status == "delivered"
    assert str(message.cost) == "0.1800"
    assert campaign.status == "completed"


def test_a_long_message_is_delivered_only_when_every_part_is(db, settings):
    _campaign, (message,) = _sending_campaign(db, "+48601000002")
    record_send_results(db, [SendResult(ref=message.id, accepted=True, smsc_message_ids=["P1", "P2", "P3"],
                                        parts=3, encoding="ucs2")], settings.billing)
    store_receipts(db, [DeliveryReceipt("P1", "DELIVRD"), DeliveryReceipt("P3", "DELIVRD")])
    db.commit()
    match_receipts(db)
    db.commit()
    db.refresh(message)
    assert message.status == "submitted"
    assert str(message.cost) == "0.5400"

    store_receipts(db, [DeliveryReceipt("P2", "DELIVRD")])
    db.commit()
    match_receipts(db)
    db.commit()
    db.refresh(message)
    assert message.status == "delivered"


def test_an_undeliverable_part_fails_the_message_with_the_reason(db, settings):
    campaign, (ok, bad) = _sending_campaign(db, "+48601000003", "+48601000004")
    record_send_results(db, [
        SendResult(ref=ok.id, accepted=True, smsc_message_ids=["OK1"], parts=1, encoding="gsm7"),
        SendResult(ref=bad.id, accepted=True, smsc_message_ids=["BAD1"], parts=1, encoding="gsm7")], settings.billing)
    store_receipts(db, [DeliveryReceipt("OK1", "DELIVRD", "000"), DeliveryReceipt("BAD1", "UNDELIV", "001")])
    db.commit()
    match_receipts(db)
    db.commit()
    statuses = dict(db.execute(select(Message.phone, Message.status)).all())
    assert statuses == {"+48601000003": "delivered", "+48601000004": "failed"}
    db.refresh(bad)
    assert bad.error == "UNDELIV:001"
    db.refresh(campaign)
    assert campaign.status == "completed"


def test_a_refused_submit_fails_the_message_and_costs_nothing(db, settings):
    _campaign, (message,) = _sending_campaign(db, "+48601000005")
    record_send_results(db, [SendResult(ref=message.id, accepted=False, parts=1, encoding="gsm7",
                                        error="ESME_RINVDSTADR")], settings.billing)
    db.commit()
    db.refresh(message)
    assert (message.status, message.error, message.cost) == ("failed", "ESME_RINVDSTADR", None)
