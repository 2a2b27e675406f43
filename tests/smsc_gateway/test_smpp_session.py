"""The gateway's SMPP session against the simulator over TCP: submits, receipts, MO."""

from __future__ import annotations

import pytest

from smsc_gateway.interface import OutboundSms
from smsc_gateway.rate import TokenBucket
from smsc_gateway.session import SmppSession
from syrena_core.config import SmscSettings
from syrena_core.queues import redis_connection
from tests.helpers import Collected, running_simulator, wait_until


@pytest.fixture
def own_simulator():
    """A simulator of this test's own: the shared one also serves the worker, which would take MO turns."""
    with running_simulator(receipt_delay=0.1) as sim:
        yield sim


@pytest.fixture
def session(own_simulator, settings):
    simulator = own_simulator
    collected = Collected()
    smsc = SmscSettings(
        host="127.0.0.1", port=simulator.smpp_port, system_id="syrena", password="secret", window=20, tps=1000
    )
    bucket = TokenBucket(redis_connection(settings.redis.url), "test:tps", smsc.tps)
    smpp = SmppSession(smsc, bucket, collected.on_receipts, collected.on_mo)
    smpp.start()
    assert smpp.wait_bound(10), "the session did not bind to the simulator"
    yield smpp, collected
    smpp.stop()


def test_a_batch_larger_than_the_window_is_accepted_with_one_id_per_part(session, own_simulator):
    simulator = own_simulator
    smpp, collected = session
    batch = [OutboundSms(ref=n, destination=f"+4860100{n:04d}", text=f"Komunikat {n}") for n in range(150)]
    batch.append(OutboundSms(ref=999, destination="+48601999999", text="Długi komunikat z polskimi znakami. " * 3))

    results = smpp.send(batch)

    assert [r.ref for r in results] == [s.ref for s in batch]
    assert all(r.accepted for r in results)
    assert all(len(r.smsc_message_ids) == r.parts for r in results)
    long = results[-1]
    assert (long.encoding, long.parts) == ("ucs2", 2)
    all_ids = {i for r in results for i in r.smsc_message_ids}
    assert len(all_ids) == 152
    wait_until(lambda: len(collected.receipts) >= 152, 15, "every part's receipt")
    assert {r.smsc_message_id for r in collected.receipts} == all_ids
    assert {r.state for r in collected.receipts} == {"DELIVRD"}
    assert len(simulator.messages()) == 151


def test_wrong_credentials_never_bind(simulator, settings):
    smsc = SmscSettings(host="127.0.0.1", port=simulator.smpp_port, system_id="syrena", password="wrong")
    smpp = SmppSession(smsc, None, lambda b: None, lambda b: None)
    smpp.start()
    try:
        assert not smpp.wait_bound(2)
    finally:
        smpp.stop()


def test_mobile_originated_sms_reach_the_handler_decoded(session, own_simulator):
    simulator = own_simulator
    _smpp, collected = session
    simulator.inject_mo("+48601234567", "4800", "START WILDA")
    simulator.inject_mo("+48601234568", "4800", "Zapisz Łazarz")
    wait_until(lambda: len(collected.mo) >= 2, 10, "two MO messages")
    by_sender = {m.source: m.text for m in collected.mo}
    assert by_sender == {"+48601234567": "START WILDA", "+48601234568": "Zapisz Łazarz"}
