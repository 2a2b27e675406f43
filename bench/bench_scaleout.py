"""Scale-out: 4 gateway workers (4 binds) against 1, no TPS limit, same simulator, same run.

The database first gets a history of BENCH_HISTORY delivered messages, analyzed (see
bench_gateway._seed_history). One campaign of SCALEOUT_MESSAGES messages (1-part GSM) per measurement,
written straight into the database and enqueued in chunks of 500; measured from enqueueing until the last
message was recorded `submitted` (the SMSC accepted it and the database recorded it) and until the last
receipt was recorded (`delivered`), from the messages' own timestamps. Rounds
alternate 1 worker / 4 workers (SCALEOUT_RUNS rounds after a warm-up) so that the machine's load, shared with
others, hits both alike; medians are reported.

CPU is measured too (utime + stime from /proc): of the workers, of the simulator and of the PostgreSQL
backends serving the benchmark's database (from pg_stat_activity), and the whole machine's busy share. The
CPU-seconds one message costs in each, summed, give messages per second per core — the figure to
extrapolate to bigger machines (worker hosts: the workers' share; the database host: PostgreSQL's).

    make bench BENCH_ARGS=scaleout            # SCALEOUT_MESSAGES=10000 SCALEOUT_RUNS=3 by default
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

from bench_gateway import HISTORY, _seed_history, _send_and_wait  # noqa: E402

from tests.harness import (  # noqa: E402
    gateway_services,
    start_simulator,
    start_worker,
    stop_processes,
    wait_port,
)

MESSAGES = int(os.environ.get("SCALEOUT_MESSAGES", "10000"))
RUNS = int(os.environ.get("SCALEOUT_RUNS", "3"))
WINDOW = 50
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _machine_busy() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _backend_pids(url: str, dbname: str) -> list[int]:
    from sqlalchemy import text

    from syrena_core.db import engine_for

    with engine_for(url).connect() as c:
        return [
            r[0]
            for r in c.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": dbname}
            )
        ]


def _cpu_of(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += _cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return total


def main() -> dict:
    from syrena_core.ops_state import read_workers

    services = ExitStack()  # the database and Redis of this run (tests.harness), gone at the end
    metrics_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-scaleout-metrics-{uuid.uuid4().hex[:6]}"
    metrics_dir.mkdir()
    env, settings, smpp_port, control_port = gateway_services(
        services, WINDOW, SYRENA_LOGGING__LEVEL="WARNING", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    dbname = settings.database.url.rsplit("/", 1)[1]
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    procs: list[subprocess.Popen] = []

    def workers(n: int) -> list[subprocess.Popen]:
        started = [start_worker(env, logs / f"bench-scaleout-worker-{i}.log") for i in range(n)]
        procs.extend(started)
        deadline = time.monotonic() + 60
        while sum(b.get("bound", False) for w in read_workers(settings.redis.url) for b in w["binds"]) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not bind")
            time.sleep(0.2)
        return started

    def stop(some: list[subprocess.Popen]) -> None:
        stop_processes(some)
        deadline = time.monotonic() + 20
        while read_workers(settings.redis.url) and time.monotonic() < deadline:
            time.sleep(0.1)

    def backend_cpu() -> dict[int, float]:
        return {pid: _cpu_of([pid]) for pid in _backend_pids(settings.database.url, dbname)}

    def measure(n: int, count: int) -> dict:
        group = workers(n)
        workers_before, sim_before, pg_before = _cpu_of(p.pid for p in group), _cpu_of([sim.pid]), backend_cpu()
        busy_before = _machine_busy()
        submitted, delivered = _send_and_wait(settings, count, 1800, chunk_size=500)
        busy_after = _machine_busy()
        pg_after = backend_cpu()  # backends that ended during the run are missed: the pools keep theirs
        worker_cpu = _cpu_of(p.pid for p in group) - workers_before
        sim_cpu = _cpu_of([sim.pid]) - sim_before
        pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
        stop(group)
        return {
            "submitted_msg_per_s": count / submitted,
            "delivered_msg_per_s": count / delivered,
            "worker_cpu_ms_per_msg": 1000 * worker_cpu / count,
            "simulator_cpu_ms_per_msg": 1000 * sim_cpu / count,
            "postgres_cpu_ms_per_msg": 1000 * pg_cpu / count,
            "machine_busy_share": (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
        }

    rounds: dict[int, list[dict]] = {1: [], 4: []}
    try:
        sim = start_simulator(env, smpp_port, control_port, logs / "bench-scaleout-sim.log")
        procs.append(sim)
        wait_port(smpp_port)
        _seed_history(settings.database.url)
        measure(1, 2000)  # warm-up
        for _ in range(RUNS):
            for n in (1, 4):
                rounds[n].append(measure(n, MESSAGES))
                print(f"  {n} worker(s): {rounds[n][-1]}", flush=True)
    finally:
        stop(procs)
        services.close()

    def med(n: int, key: str) -> float:
        return statistics.median(r[key] for r in rounds[n])

    cores = os.cpu_count() or 1
    one, four = med(1, "submitted_msg_per_s"), med(4, "submitted_msg_per_s")
    per_msg = {part: med(4, f"{part}_cpu_ms_per_msg") for part in ("worker", "simulator", "postgres")}
    syrena_ms = per_msg["worker"] + per_msg["postgres"]  # what production pays; the SMSC is the operator's
    return {
        "messages": MESSAGES,
        "history_messages": HISTORY,
        "runs": RUNS,
        "cores": cores,
        "window": WINDOW,
        "one_worker_submitted_msg_per_s": round(one),
        "four_workers_submitted_msg_per_s": round(four),
        "ratio_four_to_one": round(four / one, 2),
        "one_worker_delivered_msg_per_s": round(med(1, "delivered_msg_per_s")),
        "four_workers_delivered_msg_per_s": round(med(4, "delivered_msg_per_s")),
        "four_workers_msg_per_s_per_core_of_this_machine": round(four / cores),
        "four_workers_msg_per_s_per_bind": round(four / 4),
        "cpu_ms_per_msg": {k: round(v, 3) for k, v in per_msg.items()},
        "one_worker_cpu_ms_per_msg": {
            part: round(med(1, f"{part}_cpu_ms_per_msg"), 3) for part in ("worker", "simulator", "postgres")
        },
        "extrapolated_msg_per_s_per_core_workers_only": round(1000 / per_msg["worker"]),
        "extrapolated_msg_per_s_per_core_postgres_only": round(1000 / per_msg["postgres"]),
        "extrapolated_msg_per_s_per_core_workers_plus_postgres": round(1000 / syrena_ms),
        "machine_busy_share_one_worker": round(med(1, "machine_busy_share"), 2),
        "machine_busy_share_four_workers": round(med(4, "machine_busy_share"), 2),
        "spread_four_submitted_msg_per_s": [round(r["submitted_msg_per_s"]) for r in rounds[4]],
        "spread_one_submitted_msg_per_s": [round(r["submitted_msg_per_s"]) for r in rounds[1]],
    }


if __name__ == "__main__":
    print(main())
