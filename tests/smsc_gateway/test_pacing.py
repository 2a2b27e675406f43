"""Pacing of one link: throttling answered by slowing the link (not parking the bind), every refused part
sent again and accepted exactly once, and the shared schedule never letting a second hold more than T."""

from __future__ import annotations

import threading

from smsc_gateway.interface import OutboundSms
from tests.factories import make_campaign
from tests.helpers import busiest_second, control, enqueue, listening_workers, statuses, wait_until


def _batch(first: int, count: int) -> list[OutboundSms]:
    return [OutboundSms(ref=n, destination=f"+4860{n:07d}", text=f"Komunikat {n}") for n in range(first, first + count)]


def _accepted_once(simulator, results, count: int) -> None:
    assert len(results) == count and all(r.accepted for r in results), [r.error for r in results if not r.accepted]
    destinations = [m["destination_addr"] for m in simulator.messages()]
    assert len(destinations) == count and len(set(destinations)) == count  # each accepted exactly once


def test_a_throttling_burst_slows_the_link_then_it_recovers(start_simulator, paced_session):
    simulator = start_simulator()
    session = paced_session(simulator, tps=100)
    ceiling = session.bucket.ceiling
    rates, stop = [], threading.Event()

    def watch():
        while not stop.wait(0.02):
            rates.append(session.status()["rate_now"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = session.send(_batch(1, 50))
        control(simulator, "POST", "/faults", {"throttle": 40})  # the next 40 submits: ESME_RTHROTTLED
        results += session.send(_batch(51, 150))
        # After the burst the link climbs back to its contract; more traffic shows it.
        more = 201

        def recovered():
            nonlocal more, results
            results += session.send(_batch(more, 30))
            more += 30
            return session.status()["rate_now"] >= 0.95 * ceiling

        wait_until(recovered, 60, "the link's rate back near its TPS")
    finally:
        stop.set()
        watcher.join()
    assert control(simulator, "GET", "/faults")["throttled"] == 40
    assert min(rates) < 0.7 * ceiling  # it slowed down ...
    assert session.status()["throttled"] == 40
    _accepted_once(simulator, results, more - 1)  # ... and every refused part went again, once


def test_random_throttling_retries_the_refused_part_and_keeps_sending(start_simulator, paced_session):
    simulator = start_simulator(throttle_ratio=0.2)
    session = paced_session(simulator, tps=200)
    results = session.send(_batch(1, 300))
    assert control(simulator, "GET", "/faults")["throttled"] > 20
    _accepted_once(simulator, results, 300)


def test_an_smsc_limit_below_the_contract_is_found(start_simulator, paced_session):
    simulator = start_simulator(tps=30)  # the operator's real limit; we were told 90
    session = paced_session(simulator, tps=90)
    results = session.send(_batch(1, 150))
    _accepted_once(simulator, results, 150)
    assert session.status()["rate_now"] < 45  # the link settled near the SMSC's limit, not at the contract
    assert busiest_second(control(simulator, "GET", "/submit-times")["times"]) <= 30


def test_four_workers_at_a_small_tps_never_exceed_it(db, start_simulator, start_worker, gateway_redis_url, wait):
    tps = 15
    simulator = start_simulator()
    workers = [start_worker(simulator, tps=tps, window=10) for _ in range(4)]
    wait(lambda: simulator.stats()["binds"] == 4, 60, "four binds")
    wait(lambda: listening_workers(gateway_redis_url) == 4, 60, "the four workers waiting for jobs")  # not just bound
    campaign_id, _phones = make_campaign(db, 5 * tps)
    enqueue(db, gateway_redis_url, campaign_id, chunk_size=10)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 5 * tps, 120, "every message delivered")
    times = control(simulator, "GET", "/submit-times")["times"]
    assert len(times) == 5 * tps
    assert busiest_second(times) <= tps
    assert sum("accepted" in w.log() for w in workers) >= 2
