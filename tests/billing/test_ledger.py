"""Which ledger kind an SMS is charged as: a call-out's SMS (issue 20) are `internal`, the city reaching its own
people, whether sent as a campaign's messages or alone (the duty officer's warning)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.ledger import record_transactional_charge, record_transactional_charges
from billing.models import ChargeKind, CostEntry
from campaigns.delivery import match_receipts, record_send_results, store_receipts
from smsc_gateway.interface import DeliveryReceipt, SendResult
from tests.billing.conftest import warsaw
from tests.factories import sending_campaign


def _kinds(db, campaign_id: int) -> list[tuple[str, int, Decimal]]:
    entries = db.scalars(select(CostEntry).where(CostEntry.campaign_id == campaign_id).order_by(CostEntry.id))
    return [(e.kind, e.parts, e.amount) for e in entries]


def test_a_callouts_messages_are_charged_as_internal(db, add_tariff, charge_campaign):
    add_tariff(warsaw(2026, 11, 1), "0.18")
    callout, _ = charge_campaign(warsaw(2026, 11, 3, 3), kind="callout", parts=2)
    alert, _ = charge_campaign(warsaw(2026, 11, 3, 3), kind="alert")
    assert _kinds(db, callout.id) == [("internal", 2, Decimal("0.3600"))]
    assert _kinds(db, alert.id) == [("alert", 1, Decimal("0.1800"))]  # residents' alerts stay what they were


def test_a_callout_rehearsed_in_an_exercise_is_charged_as_an_exercise(db, add_tariff, charge_campaign):
    add_tariff(warsaw(2026, 11, 1), "0.18")
    drill, _ = charge_campaign(warsaw(2026, 11, 3, 3), kind="callout", cap_status="exercise")
    assert _kinds(db, drill.id) == [("exercise", 1, Decimal("0.1800"))]


@pytest.fixture
def charge_on_delivery(monkeypatch, settings):
    from syrena_core.config import get_settings

    monkeypatch.setenv("SYRENA_BILLING__CHARGE_ON", "delivered")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.delenv("SYRENA_BILLING__CHARGE_ON")
    get_settings.cache_clear()


def test_a_delivered_callout_message_is_charged_as_internal(db, charge_on_delivery):
    callout, (message,) = sending_campaign(db, "+48601700001", kind="callout")
    accepted = SendResult(ref=message.id, accepted=True, smsc_message_ids=["CO1"], parts=1, encoding="gsm7")
    record_send_results(db, [accepted], charge_on_delivery.billing)
    db.commit()
    assert _kinds(db, callout.id) == []  # accepted is not enough with charge_on = "delivered"
    store_receipts(db, [DeliveryReceipt("CO1", "DELIVRD")])
    db.commit()
    match_receipts(db)
    db.commit()
    assert _kinds(db, callout.id) == [("internal", 1, Decimal("0.1800"))]


def test_an_sms_without_a_message_row_is_charged_as_the_kind_asked_for(db, settings):
    callout, _ = sending_campaign(db, "+48601700002", kind="callout")
    duty_officer = {"phone": "+48601700003", "parts": 2, "encoding": "ucs2", "smsc_message_ids": ["DO1", "DO2"]}
    keyword_reply = {"phone": "+48601700004", "parts": 1, "encoding": "gsm7", "smsc_message_ids": ["KR1"]}
    at = warsaw(2026, 11, 3, 3, 15)
    (warning,) = record_transactional_charges(
        db,
        [{**duty_officer, "campaign_id": callout.id}],
        at=at,
        billing=settings.billing,
        kind=ChargeKind.INTERNAL.value,
    )
    (reply,) = record_transactional_charges(db, [keyword_reply], at=at, billing=settings.billing)
    single = record_transactional_charge(
        db, phone="+48601700005", parts=1, encoding="gsm7", smsc_message_ids=["S1"], at=at, kind="internal"
    )
    db.commit()
    assert (warning.kind, warning.campaign_id, warning.amount) == ("internal", callout.id, Decimal("0.3600"))
    assert (reply.kind, reply.campaign_id) == ("transactional", None)  # existing callers: unchanged
    assert single.kind == "internal"


def test_an_unknown_kind_is_refused_before_anything_is_charged(db, settings):
    reply = {"phone": "+48601700006", "parts": 1, "encoding": "gsm7", "smsc_message_ids": ["X1"]}
    with pytest.raises(ValueError, match="internl"):
        record_transactional_charges(db, [reply], billing=settings.billing, kind="internl")
    assert db.scalars(select(CostEntry)).all() == []
