"""Faults through real processes: a `flask worker` killed mid-chunk, an SMSC that drops the connection,
throttles, stops answering enquire_link or sends garbage. Nothing is lost; what may have gone twice is
bounded by the worker's unrecorded limit (sent, not yet recorded) and flagged."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text

from tests.factories import make_campaign
from tests.helpers import control, enqueue, statuses


def _per_phone(simulator) -> Counter:
    return Counter("+" + m["destination_addr"] for m in simulator.messages())


def _flagged(db, campaign_id: int) -> set[str]:
    return set(
        db.execute(
            text("SELECT phone FROM message WHERE campaign_id = :c AND possible_duplicate"), {"c": campaign_id}
        ).scalars()
    )


def test_a_worker_killed_mid_chunk_is_replaced_and_at_most_its_unrecorded_limit_goes_twice(
    db, start_simulator, start_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    campaign_id, phones = make_campaign(db, 600)
    first = start_worker(simulator, window=5, unrecorded_limit=10, tps=150)
    enqueue(db, gateway_redis_url, campaign_id)
    wait(lambda: len(simulator.messages()) >= 150, 60, "the first worker to be sending")
    first.kill9()

    start_worker(simulator, window=10, tps=1000)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 600, 120, "every message delivered")

    per_phone = _per_phone(simulator)
    assert set(per_phone) == set(phones)
    twice = {phone for phone, n in per_phone.items() if n > 1}
    assert len(twice) <= 10
    assert twice <= _flagged(db, campaign_id)


def test_a_dropped_connection_mid_window_loses_nothing(db, start_simulator, start_worker, gateway_redis_url, wait):
    simulator = start_simulator()
    worker = start_worker(simulator, window=20)
    campaign_id, phones = make_campaign(db, 400)
    control(simulator, "POST", "/faults", {"drop_after": 100})
    enqueue(db, gateway_redis_url, campaign_id)

    wait(lambda: statuses(db, campaign_id).get("delivered") == 400, 90, "every message delivered")
    assert control(simulator, "GET", "/faults")["drops"] == 1
    per_phone = _per_phone(simulator)
    assert set(per_phone) == set(phones)
    twice = {phone for phone, n in per_phone.items() if n > 1}
    assert 1 <= len(twice) <= 20  # the message whose response never came went again
    assert twice <= _flagged(db, campaign_id)
    assert "lost" in worker.log()


def test_a_throttling_burst_is_waited_out_and_nothing_fails(db, start_simulator, start_worker, gateway_redis_url, wait):
    simulator = start_simulator()
    start_worker(simulator, window=10, retry_delay=0.1)
    campaign_id, _phones = make_campaign(db, 200)
    control(simulator, "POST", "/faults", {"throttle": 4})
    enqueue(db, gateway_redis_url, campaign_id)

    wait(lambda: statuses(db, campaign_id).get("delivered") == 200, 60, "every message delivered")
    assert control(simulator, "GET", "/faults")["throttled"] == 4
    assert sorted(_per_phone(simulator).values()) == [1] * 200


def test_a_silent_smsc_is_detected_by_enquire_link_and_the_worker_reconnects(
    db, start_simulator, start_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    worker = start_worker(simulator, enquire_link_interval=0.5, response_timeout=1.5)
    wait(lambda: control(simulator, "GET", "/faults")["enquire_link"] >= 1, 20, "a first enquire_link")
    control(simulator, "POST", "/faults", {"ignore_enquire_link": True})
    wait(lambda: "no enquire_link_resp" in worker.log(), 20, "the worker to notice the silence")
    control(simulator, "POST", "/faults", {"ignore_enquire_link": False})
    wait(lambda: simulator.stats()["binds"] == 1 and worker.log().count("bound to") >= 2, 30, "a new bind")

    campaign_id, _phones = make_campaign(db, 50)
    enqueue(db, gateway_redis_url, campaign_id)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 50, 60, "the campaign after reconnecting")


def test_garbage_from_the_smsc_is_answered_and_the_worker_lives_on(
    db, start_simulator, start_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    worker = start_worker(simulator)
    wait(lambda: simulator.stats()["binds"] == 1, 30, "the worker to bind")
    for garbage in ("unknown_command", "truncated", "bad_ucs2"):
        control(simulator, "POST", "/faults", {"garbage": garbage})
    # Unknown command and truncated deliver_sm: generic_nack; invalid UCS-2 is decoded with replacements.
    wait(lambda: control(simulator, "GET", "/faults")["generic_nack_received"] == 2, 20, "two generic_nacks")
    wait(lambda: db.execute(text("SELECT count(*) FROM inbound_message")).scalar() == 1, 20, "the UCS-2 MO stored")

    control(simulator, "POST", "/faults", {"garbage": "bad_length"})  # framing lost: reconnect
    wait(lambda: worker.log().count("bound to") >= 2, 30, "a new bind after lost framing")
    campaign_id, _phones = make_campaign(db, 30)
    enqueue(db, gateway_redis_url, campaign_id)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 30, 60, "a campaign after the garbage")
    assert worker.proc.poll() is None


def test_an_smsc_that_waits_for_each_deliver_sm_resp_still_gets_every_receipt_recorded(
    db, start_simulator, start_worker, gateway_redis_url, wait
):
    # Many operators' SMSCs leave only a few deliver_sm unanswered; the worker answers each one only after its
    # receipt is stored, so it must store small batches promptly rather than wait for a large one.
    simulator = start_simulator(deliver_window=1)
    start_worker(simulator)
    campaign_id, _phones = make_campaign(db, 100)
    enqueue(db, gateway_redis_url, campaign_id)

    wait(lambda: statuses(db, campaign_id).get("delivered") == 100, 60, "every receipt recorded")
    assert sorted(_per_phone(simulator).values()) == [1] * 100
    assert db.execute(text("SELECT count(*) FROM delivery_receipt")).scalar() == 100
