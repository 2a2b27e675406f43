"""Alerts (and call-outs) before transactional messages before info (issue 6, issue 20): an alert overtakes an
info campaign that is already sending, and a waiting alert goes before waiting info. The order is read from the
simulator's log (no timing asserts: the benchmark measures how fast)."""

from __future__ import annotations

import pytest
from rq import Queue

from syrena_core.queues import redis_connection
from tests.factories import make_campaign
from tests.helpers import enqueue, statuses, submitted_in_order

WINDOW = 10


# A call-out's carrier (issue 20) goes at alert priority: it overtakes info exactly as an alert does.
@pytest.mark.parametrize("kind", ["alert", "callout"])
def test_an_alert_overtakes_an_info_campaign_that_is_sending(
    db, start_simulator, spawn_worker, gateway_redis_url, wait, kind
):
    simulator = start_simulator()
    spawn_worker(simulator, gateway_redis_url, smsc__tps=150, smsc__window=WINDOW)
    info_id, info_phones = make_campaign(db, 3000, "info", prefix="+4850")
    enqueue(db, gateway_redis_url, info_id, "info")
    wait(lambda: len(simulator.messages()) >= 150, 60, "the info campaign to be sending")

    alert_id, alert_phones = make_campaign(db, 40, kind, prefix="+4851")
    enqueue(db, gateway_redis_url, alert_id, kind)
    wait(lambda: statuses(db, alert_id).get("delivered") == 40, 60, "the alert delivered")

    # The alert did not wait for the info campaign: most of it is still to go ...
    assert statuses(db, info_id).get("queued", 0) >= 1000
    order = submitted_in_order(simulator)
    alert_positions = [i for i, phone in enumerate(order) if phone in set(alert_phones)]
    assert len(alert_positions) == 40
    # ... and once the alert's first SMS was out, at most the window of info went between its messages.
    between = [p for p in order[alert_positions[0] : alert_positions[-1] + 1] if p not in set(alert_phones)]
    assert len(between) <= WINDOW

    # The info campaign then carries on, each recipient exactly once (what was withdrawn went later).
    wait(lambda: statuses(db, info_id).get("delivered") == 3000, 120, "the info campaign delivered")
    order = submitted_in_order(simulator)
    assert sorted(order) == sorted(info_phones + alert_phones)


def test_waiting_alerts_go_before_waiting_transactional_and_info_jobs(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    info_id, info_phones = make_campaign(db, 600, "info", prefix="+4852")
    alert_id, alert_phones = make_campaign(db, 600, "alert", prefix="+4853")
    enqueue(db, gateway_redis_url, info_id, "info")  # queued first ...
    enqueue(db, gateway_redis_url, alert_id, "alert")  # ... but the alert's jobs are taken first
    assert Queue("info", connection=redis_connection(gateway_redis_url)).count == 2

    spawn_worker(simulator, gateway_redis_url, smsc__tps=1000)
    wait(
        lambda: statuses(db, info_id).get("delivered") == 600 and statuses(db, alert_id).get("delivered") == 600,
        90,
        "both campaigns delivered",
    )
    order = submitted_in_order(simulator)
    assert set(order[:600]) == set(alert_phones)
    assert set(order[600:]) == set(info_phones)
