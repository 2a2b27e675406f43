"""SIGTERM on a gateway worker mid-campaign: it finishes what is at the SMSC, unbinds and leaves the rest in
the queue; a restarted worker sends the rest. Every recipient gets the alert exactly once."""

from __future__ import annotations

import signal
from collections import Counter

from tests.factories import make_campaign
from tests.helpers import enqueue, statuses


def test_sigterm_mid_campaign_then_restart_sends_everyone_exactly_once(
    db, start_simulator, start_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    first = start_worker(simulator, tps=100, window=20)
    wait(lambda: simulator.stats()["binds"] == 1, 60, "the first worker's bind")
    campaign_id, phones = make_campaign(db, 800)
    enqueue(db, gateway_redis_url, campaign_id, chunk_size=400)

    wait(lambda: simulator.stats()["submit_sm"] >= 150, 60, "the campaign under way")
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(60) == 0
    stopped_at = simulator.stats()
    assert stopped_at["unbinds"] == 1 and stopped_at["binds"] == 0  # it unbound, it did not just vanish
    left = statuses(db, campaign_id)
    assert "submitting" not in left  # nothing in flight was abandoned: every result was recorded
    assert 150 <= stopped_at["submit_sm"] < 800 and left.get("queued", 0) == 800 - stopped_at["submit_sm"]
    assert "stop requested" in first.log()

    second = start_worker(simulator, tps=100, window=20)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 800, 120, "the restarted worker finishing")
    sent = Counter(m["destination_addr"] for m in simulator.messages())
    assert set(sent) == {p.lstrip("+") for p in phones}
    assert set(sent.values()) == {1}
    assert "accepted" in second.log()
