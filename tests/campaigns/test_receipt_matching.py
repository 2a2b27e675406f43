"""Receipts settle messages whichever arrives first: the receipt or the recorded submit_sm_resp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from campaigns.delivery import match_receipts, record_send_results, store_receipts
from campaigns.models import Message
from smsc_gateway.interface import DeliveryReceipt, SendResult
from tests.factories import sending_campaign


def _charged(db, message):
    """What the billing ledger charged for the message (None: nothing), the only record of its cost."""
    return db.scalar(text("SELECT sum(amount) FROM cost_entry WHERE message_id = :m"), {"m": message.id})


def test_a_receipt_that_came_first_is_kept_and_matched_later(db, settings):
    campaign, (message,) = sending_campaign(db, "+48601000001")
    store_receipts(db, [DeliveryReceipt("A1", "DELIVRD", "000")])
    db.commit()
    assert match_receipts(db) == 0  # nothing to match yet: the id is unknown
    db.commit()

    record_send_results(
        db,
        [SendResult(ref=message.id, accepted=True, smsc_message_ids=["A1"], parts=1, encoding="gsm7")],
        settings.billing,
    )
    db.commit()
    assert match_receipts(db) == 1
    db.commit()

    db.refresh(message)
    db.refresh(campaign)
    assert message.status == "delivered"
    assert str(_charged(db, message)) == "0.1800"
    assert campaign.status == "completed"


def test_a_long_message_is_delivered_only_when_every_part_is(db, settings):
    _campaign, (message,) = sending_campaign(db, "+48601000002")
    record_send_results(
        db,
        [SendResult(ref=message.id, accepted=True, smsc_message_ids=["P1", "P2", "P3"], parts=3, encoding="ucs2")],
        settings.billing,
    )
    store_receipts(db, [DeliveryReceipt("P1", "DELIVRD"), DeliveryReceipt("P3", "DELIVRD")])
    db.commit()
    match_receipts(db)
    db.commit()
    db.refresh(message)
    assert message.status == "submitted"
    assert str(_charged(db, message)) == "0.5400"

    store_receipts(db, [DeliveryReceipt("P2", "DELIVRD")])
    db.commit()
    match_receipts(db)
    db.commit()
    db.refresh(message)
    assert message.status == "delivered"


def test_an_undeliverable_part_fails_the_message_with_the_reason(db, settings):
    campaign, (ok, bad) = sending_campaign(db, "+48601000003", "+48601000004")
    record_send_results(
        db,
        [
            SendResult(ref=ok.id, accepted=True, smsc_message_ids=["OK1"], parts=1, encoding="gsm7"),
            SendResult(ref=bad.id, accepted=True, smsc_message_ids=["BAD1"], parts=1, encoding="gsm7"),
        ],
        settings.billing,
    )
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
    _campaign, (message,) = sending_campaign(db, "+48601000005")
    record_send_results(
        db,
        [SendResult(ref=message.id, accepted=False, parts=1, encoding="gsm7", error="ESME_RINVDSTADR")],
        settings.billing,
    )
    db.commit()
    db.refresh(message)
    assert (message.status, message.error, _charged(db, message)) == ("failed", "ESME_RINVDSTADR", None)


# ---------------------------------------------------------------- SMSC ids reused (issue 14)
# SMSCs restart their numbering and wrap their counters: an id names a part only for a while, per connection.


def _accepted(message, smsc_id, at=None, smsc="primary"):
    return SendResult(
        ref=message.id,
        accepted=True,
        smsc_message_ids=[smsc_id],
        parts=1,
        encoding="gsm7",
        smsc=smsc,
        accepted_at=at.timestamp() if at else 0.0,
    )


def _status(db, message):
    db.expire_all()
    return db.get(Message, message.id).status


def _part(db, message):
    return db.execute(
        text("SELECT status, receipt_at IS NOT NULL FROM message_part WHERE message_id = :m"), {"m": message.id}
    ).one()


def test_a_receipt_for_a_reused_id_settles_the_newest_part_and_never_the_older_one(db, settings):
    _campaign, (old, new) = sending_campaign(db, "+48601000011", "+48601000012")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    record_send_results(db, [_accepted(old, "R1", an_hour_ago)], settings.billing)
    store_receipts(db, [DeliveryReceipt("R1", "DELIVRD", smsc="primary")])
    db.commit()
    match_receipts(db)
    db.commit()
    assert _status(db, old) == "delivered"

    # The SMSC restarted and gives "R1" again; the new part's receipt comes from another worker (no hint).
    record_send_results(db, [_accepted(new, "R1")], settings.billing)
    store_receipts(db, [DeliveryReceipt("R1", "UNDELIV", "001", smsc="primary")])
    db.commit()
    match_receipts(db)
    db.commit()
    assert _status(db, new) == "failed"
    assert _status(db, old) == "delivered"  # untouched by the newer receipt
    assert db.get(Message, old.id).error is None


def test_a_named_receipt_before_its_part_is_recorded_waits_and_leaves_the_older_part_alone(db, settings):
    _campaign, (old, new) = sending_campaign(db, "+48601000013", "+48601000014")
    record_send_results(db, [_accepted(old, "R2", datetime.now(UTC) - timedelta(minutes=5))], settings.billing)
    db.commit()
    # The old part still awaits its receipt; the id is reused and the new part's receipt arrives before the
    # job recorded the new part. The session named the part it belongs to.
    store_receipts(db, [DeliveryReceipt("R2", "DELIVRD", smsc="primary", message_ref=new.id, part_no=1)])
    db.commit()
    assert match_receipts(db) == 0
    db.commit()
    assert _status(db, old) == "submitted"
    assert _part(db, old) == ("submitted", False)

    record_send_results(db, [_accepted(new, "R2")], settings.billing)
    db.commit()
    assert match_receipts(db) == 1
    db.commit()
    assert _status(db, new) == "delivered"
    assert _status(db, old) == "submitted"


def test_an_unnamed_receipt_for_a_reused_id_waits_for_the_part_not_yet_recorded(db, settings):
    _campaign, (old, new) = sending_campaign(db, "+48601000015", "+48601000016")
    record_send_results(db, [_accepted(old, "R3", datetime.now(UTC) - timedelta(minutes=5))], settings.billing)
    store_receipts(db, [DeliveryReceipt("R3", "DELIVRD", smsc="primary")])
    db.commit()
    match_receipts(db)
    db.commit()
    assert _status(db, old) == "delivered"

    # A receipt with a reused id, from a bind that did not send it, before the new part is recorded: the
    # newest part known already had its receipt, so this one waits rather than count as a repeat.
    store_receipts(db, [DeliveryReceipt("R3", "EXPIRED", smsc="primary")])
    db.commit()
    assert match_receipts(db) == 0
    db.commit()
    record_send_results(db, [_accepted(new, "R3")], settings.billing)
    db.commit()
    assert match_receipts(db) == 1
    db.commit()
    assert (_status(db, old), _status(db, new)) == ("delivered", "expired")


def test_a_receipt_on_another_bind_goes_to_the_part_sent_before_it_came_on_its_connection(db, settings):
    _campaign, (first, second, other_link) = sending_campaign(db, "+48601000017", "+48601000018", "+48601000019")
    now = datetime.now(UTC)
    record_send_results(
        db,
        [
            _accepted(first, "R4", now - timedelta(minutes=30)),
            _accepted(second, "R4", now - timedelta(minutes=1)),
            _accepted(other_link, "R4", now - timedelta(seconds=10), smsc="backup"),
        ],
        settings.billing,
    )
    store_receipts(db, [DeliveryReceipt("R4", "DELIVRD", smsc="primary")])
    db.commit()
    match_receipts(db)
    db.commit()
    assert [_status(db, m) for m in (first, second, other_link)] == ["submitted", "delivered", "submitted"]


def test_a_receipt_older_than_the_ids_lifetime_matches_nothing(db, settings):
    _campaign, (message,) = sending_campaign(db, "+48601000020")
    record_send_results(db, [_accepted(message, "R5", datetime.now(UTC) - timedelta(days=5))], settings.billing)
    store_receipts(db, [DeliveryReceipt("R5", "DELIVRD", smsc="primary")])
    db.commit()
    assert match_receipts(db, id_ttl=48 * 3600) == 0
    db.commit()
    assert _status(db, message) == "submitted"


def test_a_repeated_receipt_changes_nothing(db, settings):
    _campaign, (message,) = sending_campaign(db, "+48601000021")
    record_send_results(db, [_accepted(message, "R6")], settings.billing)
    store_receipts(db, [DeliveryReceipt("R6", "DELIVRD", smsc="primary", message_ref=message.id, part_no=1)])
    db.commit()
    match_receipts(db)
    db.commit()
    store_receipts(db, [DeliveryReceipt("R6", "UNDELIV", "009", smsc="primary", message_ref=message.id, part_no=1)])
    db.commit()
    match_receipts(db)
    db.commit()
    assert _status(db, message) == "delivered"
    assert db.execute(text("SELECT count(*) FROM delivery_receipt WHERE matched_at IS NULL")).scalar() == 0


def test_a_part_accepted_without_a_usable_id_is_charged_and_does_not_keep_the_campaign_open(db, settings):
    campaign, (blank, fine) = sending_campaign(db, "+48601000022", "+48601000023")
    record_send_results(
        db,
        [
            SendResult(
                ref=blank.id, accepted=True, smsc_message_ids=["", "P7"], parts=2, encoding="ucs2", smsc="primary"
            ),
            _accepted(fine, "F7"),
        ],
        settings.billing,
    )
    store_receipts(
        db, [DeliveryReceipt("P7", "DELIVRD", smsc="primary"), DeliveryReceipt("F7", "DELIVRD", smsc="primary")]
    )
    db.commit()
    match_receipts(db)
    db.commit()
    db.refresh(campaign)
    assert campaign.status == "completed"
    assert _status(db, blank) == "submitted"  # accepted, its delivery never known
    assert str(_charged(db, blank)) == "0.3600"
    parts = db.execute(
        text("SELECT part_no, smsc_message_id, status FROM message_part WHERE message_id = :m ORDER BY part_no"),
        {"m": blank.id},
    ).all()
    assert parts == [(1, "", "no_receipt"), (2, "P7", "delivered")]
