"""Mobile-originated SMS through a real worker: every deliver_sm answered, long MO joined (UDH and SAR),
GSM / UCS-2 decoded, stored, and handed to the subscribers' keyword handler through RQ."""

from __future__ import annotations

import pytest
from rq.job import Job
from sqlalchemy import text

from syrena_core.queues import redis_connection

LONG_GSM = "START " + "Wielkopolska 12 " * 15
LONG_UCS2 = "ZAPISZ ul. Święty Marcin 80/82, Poznań — " * 4


def _handled_ids(redis_url: str) -> list[int]:
    """The inbound ids handed to the keyword handler (a job takes the batch that arrived together)."""
    redis = redis_connection(redis_url)
    jobs = Job.fetch_many([k.decode().split(":", 2)[2] for k in redis.keys("rq:job:*")], connection=redis)
    return sorted(
        i for j in jobs if j is not None and j.func_name == "subscribers.jobs.handle_inbound_batch" for i in j.args[0]
    )


@pytest.mark.parametrize("sar", [False, True], ids=["udh", "sar"])
def test_long_mo_is_joined_stored_and_handed_to_the_keyword_handler(
    db, start_simulator, start_worker, gateway_redis_url, wait, sar
):
    simulator = start_simulator()
    start_worker(simulator)
    wait(lambda: simulator.stats()["binds"] == 1, 30, "the worker to bind")
    simulator.inject_mo("+48601111111", "4800", LONG_GSM, sar=sar)
    simulator.inject_mo("+48601222222", "4800", LONG_UCS2, sar=sar)
    simulator.inject_mo("+48601333333", "4800", "STOP")

    def stored():
        db.rollback()
        return db.execute(text("SELECT id, source_addr, text, data_coding FROM inbound_message ORDER BY id")).all()

    rows = wait(lambda: len(stored()) == 3 and stored(), 30, "three inbound messages")
    assert {(r.source_addr, r.text, r.data_coding) for r in rows} == {
        ("+48601111111", LONG_GSM, 0),
        ("+48601222222", LONG_UCS2, 8),
        ("+48601333333", "STOP", 0),
    }
    wait(
        lambda: _handled_ids(gateway_redis_url) == sorted(r.id for r in rows), 20, "every MO handed to the handler once"
    )
