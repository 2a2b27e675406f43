"""A campaign of several chunks keeps the links busy across its chunks (issue 14, "the system is never the
bottleneck"): the next chunk's messages reach the SMSC before the job that sent the previous chunk has
finished — they never wait for one job to drain and record everything and the next to start. Read from the
simulator's log and RQ's job records (no timing asserts: the benchmark measures how fast)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from rq import Queue
from rq.job import Job
from sqlalchemy import text

from syrena_core.queues import redis_connection
from tests.factories import make_campaign
from tests.helpers import control, enqueue, statuses

CHUNK = 60
CHUNKS = 5


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def test_the_next_chunk_is_at_the_smsc_before_the_previous_chunks_job_ends(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    campaign_id, phones = make_campaign(db, CHUNK * CHUNKS, "alert", prefix="+4855")
    assert enqueue(db, gateway_redis_url, campaign_id, "alert", chunk_size=CHUNK) == CHUNKS
    spawn_worker(simulator, gateway_redis_url, smsc__tps=100, campaigns__slice_size=20)
    wait(lambda: statuses(db, campaign_id).get("delivered") == CHUNK * CHUNKS, 90, "the campaign delivered")

    # Every recipient exactly once, and no chunk's job is left behind in the queue.
    submitted = control(simulator, "GET", "/messages")
    assert sorted("+" + m["destination_addr"] for m in submitted) == sorted(phones)
    redis = redis_connection(gateway_redis_url)
    assert Queue("alerts", connection=redis).count == 0

    at_smsc = {
        "+" + m["destination_addr"]: datetime.fromisoformat(m["received_at"].replace("Z", "+00:00")) for m in submitted
    }
    db.rollback()
    rows = db.execute(
        text("SELECT phone, claim_job FROM message WHERE campaign_id = :c ORDER BY id"), {"c": campaign_id}
    ).all()
    chunks = [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]
    for previous, following in itertools.pairwise(chunks):
        job = Job.fetch(previous[-1].claim_job, connection=redis)
        assert job.ended_at is not None
        first_of_next = min(at_smsc[phone] for phone, _job in following)
        # The links did not wait for the previous chunk's job to finish before the next chunk went out.
        assert first_of_next < _utc(job.ended_at), (first_of_next, job.ended_at)


def test_an_info_job_that_took_over_further_chunks_still_yields_to_an_alert_and_keeps_id_order(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    spawn_worker(simulator, gateway_redis_url, smsc__tps=150, campaigns__slice_size=20)
    info_id, info_phones = make_campaign(db, 1500, "info", prefix="+4856")
    enqueue(db, gateway_redis_url, info_id, "info", chunk_size=50)
    # Several chunks of 50 are out: the first job has taken over the ones after its own.
    wait(lambda: len(simulator.messages()) >= 200, 60, "the info campaign to be sending")

    alert_id, alert_phones = make_campaign(db, 30, "alert", prefix="+4857")
    enqueue(db, gateway_redis_url, alert_id, "alert")
    wait(lambda: statuses(db, alert_id).get("delivered") == 30, 60, "the alert delivered")
    assert statuses(db, info_id).get("queued", 0) >= 500  # the alert did not wait for the info campaign

    wait(lambda: statuses(db, info_id).get("delivered") == 1500, 120, "the info campaign delivered")
    order = ["+" + m["destination_addr"] for m in control(simulator, "GET", "/messages")]
    info_order = [phone for phone in order if phone.startswith("+4856")]
    # Each recipient exactly once, and in id order (nearest the danger first) even across the yield: what
    # the job had withdrawn and the chunks it had taken over went back to the head of the queue in order.
    assert info_order == info_phones
    assert sorted(p for p in order if p.startswith("+4857")) == sorted(alert_phones)
    assert Queue("info", connection=redis_connection(gateway_redis_url)).count == 0
