"""The gateway at full speed and at a contract's pace.

The database first gets a history of BENCH_HISTORY (200,000) delivered messages, analyzed, as a city's has.
1. Throughput: 100,000 messages (GATEWAY_MESSAGES) written straight into the database as one campaign,
   enqueued in chunks, sent by ONE `flask worker` (window 50, receipts on, no TPS limit) to the bundled
   simulator in its own process; measured until every message is `submitted` and until every receipt is
   recorded (`delivered`). Baseline in the same run: a plain smpplib loop with the same window against the
   same simulator, reading every receipt (GATEWAY_BASELINE_MESSAGES).
2. Pace: T = 200 TPS shared by 4 workers (GATEWAY_TPS_MESSAGES messages); from the simulator's record of
   every submit_sm: the busiest sliding 1-second window and the average rate.
3. An SMSC that leaves at most 10 deliver_sm unanswered (a second simulator, `deliver_window`), as many
   operators' do: one worker, GATEWAY_WINDOWED_MESSAGES messages, until every receipt is recorded. The
   worker answers a deliver_sm only once its receipt is stored, so this measures how promptly small
   batches of receipts are stored.

    make bench BENCH_ARGS=gateway
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

from bench_fanout import _smpplib_windowed_loop  # noqa: E402

from tests.factories import delivered_history, make_campaign  # noqa: E402
from tests.harness import (  # noqa: E402
    free_port,
    gateway_services,
    start_simulator,
    start_worker,
    stop_processes,
    wait_port,
)

MESSAGES = int(os.environ.get("GATEWAY_MESSAGES", "100000"))
BASELINE_MESSAGES = int(os.environ.get("GATEWAY_BASELINE_MESSAGES", "20000"))
TPS_MESSAGES = int(os.environ.get("GATEWAY_TPS_MESSAGES", "3000"))
TPS = 200
WINDOWED_MESSAGES = int(os.environ.get("GATEWAY_WINDOWED_MESSAGES", "5000"))
DELIVER_WINDOW = 10
WINDOW = 50
TEXT = "Test syreny: awaria wodociagu, nie pij wody z kranu do odwolania."
HISTORY = int(os.environ.get("BENCH_HISTORY", "200000"))  # delivered messages already in the database


def _campaign(url: str, count: int) -> int:
    from syrena_core.db import session_scope

    with session_scope(url) as s:
        return make_campaign(s, count, body=TEXT, sent_ago=None)[0]


def _seed_history(url: str, count: int = HISTORY) -> None:
    """What a city's database holds after a few campaigns: `count` delivered messages with their parts and
    receipts, analyzed while all of them are final (as after a quiet night). A fresh empty database hid
    statements that went through every submitted message per batch once the statistics were stale."""
    from sqlalchemy import text

    from syrena_core.db import engine_for, session_scope

    with session_scope(url) as s:
        delivered_history(s, count, body=TEXT)
    with engine_for(url).execution_options(isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text("VACUUM ANALYZE"))


def _send_and_wait(settings, count: int, timeout: float, chunk_size: int | None = None) -> tuple[float, float]:
    """Seconds from enqueueing until the last message was recorded `submitted`, and until the last receipt
    was recorded, read from the messages' own timestamps; the campaign is polled only for its end, with a
    query that stops at the first unfinished message (a poll that counted every message every 50 ms was
    a tenth of PostgreSQL's work)."""
    from sqlalchemy import text

    from campaigns.dispatch import enqueue_chunks, pending_chunks
    from syrena_core.db import session_scope

    url = settings.database.url
    cid = _campaign(url, count)
    with session_scope(url) as s:
        start = s.execute(text("SELECT clock_timestamp()")).scalar()
        enqueue_chunks(pending_chunks(s, cid, chunk_size or settings.campaigns.chunk_size), "alert")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with session_scope(url) as s:
            if s.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM message WHERE campaign_id = :c "
                    "AND status IN ('queued', 'submitting', 'submitted'))"
                ),
                {"c": cid},
            ).scalar():
                continue
            last_submit, last_final, delivered = s.execute(
                text(
                    "SELECT max(submitted_at), max(finished_at), count(*) FILTER (WHERE status = 'delivered') "
                    "FROM message WHERE campaign_id = :c"
                ),
                {"c": cid},
            ).one()
        if delivered != count:
            raise RuntimeError(f"campaign {cid}: {delivered} of {count} delivered")
        return (last_submit - start).total_seconds(), (last_final - start).total_seconds()
    raise RuntimeError(f"campaign {cid} did not finish in {timeout} s")


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


def main() -> dict:
    services = ExitStack()  # the database and Redis of this run (tests.harness), gone at the end
    # A Redis of its own: a worker of anything else sharing a Redis database would take these jobs.
    env, settings, smpp_port, control_port = gateway_services(services, WINDOW, SYRENA_CAMPAIGNS__CHUNK_SIZE="500")
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    procs: list[subprocess.Popen] = []

    def worker(extra: dict | None = None, name: str = "worker") -> subprocess.Popen:
        proc = start_worker({**env, **(extra or {})}, logs / f"bench-gateway-{name}.log")
        procs.append(proc)
        return proc

    try:
        procs.append(start_simulator(env, smpp_port, control_port, logs / "bench-gateway-sim.log"))
        wait_port(smpp_port)
        _seed_history(settings.database.url)
        one = worker()
        _send_and_wait(settings, 2000, 120)  # warm-up: bind, caches
        submit_s, receipts_s = _send_and_wait(settings, MESSAGES, 1800)
        stop_processes([one])
        baseline = _smpplib_windowed_loop(smpp_port, BASELINE_MESSAGES)

        env["SYRENA_SMSC__TPS"] = str(TPS)
        four = [worker({"SYRENA_SMSC__TPS": str(TPS)}, f"tps-{n}") for n in range(4)]
        time.sleep(3)  # every worker bound
        _send_and_wait(settings, TPS_MESSAGES, 600)
        times = json.load(urllib.request.urlopen(f"http://127.0.0.1:{control_port}/submit-times"))["times"]
        times = times[-TPS_MESSAGES:]
        stop_processes(four)

        windowed_smpp, windowed_control = free_port(), free_port()
        windowed = {
            "SYRENA_SMSC__PORT": str(windowed_smpp),
            "SYRENA_SMSC__TPS": "1000000",
            "SYRENA_SIMULATOR__DELIVER_WINDOW": str(DELIVER_WINDOW),
        }
        procs.append(
            start_simulator(
                {**env, **windowed}, windowed_smpp, windowed_control, logs / "bench-gateway-windowed-sim.log"
            )
        )
        wait_port(windowed_smpp)
        one = worker(windowed, "windowed")
        windowed_submit_s, windowed_receipts_s = _send_and_wait(settings, WINDOWED_MESSAGES, 1800)
        stop_processes([one])
    finally:
        stop_processes(procs)
        services.close()

    submit_rate, receipt_rate = MESSAGES / submit_s, MESSAGES / receipts_s
    span = max(times) - min(times)
    return {
        "messages": MESSAGES,
        "one_worker_window50_submitted_msg_per_s": round(submit_rate),
        "one_worker_window50_receipts_recorded_msg_per_s": round(receipt_rate),
        "smpplib_window50_loop_msg_per_s": round(baseline),
        "ratio_submitted_vs_smpplib_loop": round(submit_rate / baseline, 2),
        "ratio_receipts_recorded_vs_smpplib_loop": round(receipt_rate / baseline, 2),
        "tps_limit": TPS,
        "tps_workers": 4,
        "tps_messages": len(times),
        "tps_busiest_1s_window": _busiest_second(times),
        "tps_average_msg_per_s": round((len(times) - 1) / span, 1),
        "tps_average_share_of_limit": round((len(times) - 1) / span / TPS, 3),
        "windowed_smsc_deliver_window": DELIVER_WINDOW,
        "windowed_smsc_messages": WINDOWED_MESSAGES,
        "windowed_smsc_submitted_msg_per_s": round(WINDOWED_MESSAGES / windowed_submit_s),
        "windowed_smsc_receipts_recorded_msg_per_s": round(WINDOWED_MESSAGES / windowed_receipts_s),
    }


if __name__ == "__main__":
    print(main())
