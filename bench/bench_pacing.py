"""Pacing: every contracted SMS per second used, never one more (issue 14, "the night of the flood").

Every part runs real `flask worker` processes against bundled simulators in their own processes, and
measures at the SMSC (each simulator's record of accepted — and refused — submit_sm):
(a) matrix: T in {10, 30, 100, 1000} × {1, 4} workers sharing one link, 5 × T one-part messages each:
    the busiest sliding 1-second window (must be <= T) and the average rate from the first to the last
    submit as a share of T (>= 0.95).
(b) throttling SMSC: (i) refusing a random 10 % with ESME_RTHROTTLED, T = 50: accepted submits per second
    from first to last, as a share of T (>= 0.8); (ii) the SMSC's own limit half the configured TPS (25 of
    50): seconds until the link converged (from then on <= 5 % of submits refused and >= 90 % of the real
    limit accepted), and both shares after it.
(c) several links: 100 + 50 + 30 TPS primaries, one worker: the aggregate from the first to the last
    submit as a share of 180 (>= 0.95) and each link's share of the traffic.
(d) never the bottleneck: 200,000 one-part recipients over 4 links of 500 TPS, one worker, every receipt
    recorded: submits per second from the first to the last submit as a share of 2,000 (>= 0.95), time
    until every receipt is recorded, and CPU per message (worker, simulators, PostgreSQL; from /proc).

Sizes: PACING_SCALE (default 1) multiplies every message count (the counts never drop below a floor that
keeps the measurement meaningful); PACING_PARTS picks parts, e.g. "matrix,links" (default all);
PACING_CHUNK the [campaigns] chunk_size of (c) and (d) (default 500, as deployed); PACING_DUMP a file to
write every submit time of (c)/(d) to, per link (JSON), to see where a run lost its pace.
The one-worker-vs-bare-smpplib ratio is measured by bench_gateway in its own run.

    make bench BENCH_ARGS=pacing
    PACING_SCALE=0.02 python bench/run.py pacing      # a tiny run, to check it works
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

from bench_gateway import _send_and_wait  # noqa: E402
from bench_scaleout import _backend_pids, _cpu_of  # noqa: E402

from tests.harness import (  # noqa: E402
    free_port,
    fresh_database,
    private_redis,
    start_simulator,
    start_worker,
    stop_processes,
    use_environment,
    wait_port,
)

SCALE = float(os.environ.get("PACING_SCALE", "1"))
PARTS = [p for p in os.environ.get("PACING_PARTS", "matrix,throttling,links,bottleneck").split(",") if p]
MATRIX_TPS = (10, 30, 100, 1000)
MATRIX_WORKERS = (1, 4)
THROTTLE_TPS = 50
LINKS = (100, 50, 30)
BIG_LINKS, BIG_TPS, BIG_MESSAGES = 4, 500, 200_000
CHUNK = int(os.environ.get("PACING_CHUNK", "500"))  # [campaigns] chunk_size of parts (c) and (d), as deployed


def _scaled(count: float, floor: int) -> int:
    return max(floor, int(count * SCALE))


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read())


def _times(port: int, path: str, since: int = 0) -> list[float]:
    return _get(port, path)["times"][since:]


class Rig:
    """A database, a Redis and the processes of one benchmark run; everything is torn down at the end."""

    def __init__(self) -> None:
        from syrena_core.queues import redis_connection

        self.services = ExitStack()  # the database and Redis of this run (tests.harness), gone at close()
        database_url = self.services.enter_context(fresh_database("syrena_bench"))
        self.dbname = database_url.rsplit("/", 1)[1]
        redis_url = self.services.enter_context(private_redis()).url
        self.env = dict(
            os.environ,
            SYRENA_DATABASE__URL=database_url,
            SYRENA_REDIS__URL=redis_url,
            SYRENA_SMSC__SYSTEM_ID="syrena",
            SYRENA_SMSC__PASSWORD="secret",
            SYRENA_SMSC__WINDOW="50",
            SYRENA_SIMULATOR__RECEIPT_DELAY="0.05",
            SYRENA_CAMPAIGNS__CHUNK_SIZE="500",
        )
        self.settings = use_environment({k: v for k, v in self.env.items() if k.startswith("SYRENA_")})
        self.redis = redis_connection(self.settings.redis.url)
        self.logs = Path(os.environ.get("TMPDIR", "/tmp"))
        self.procs: list[subprocess.Popen] = []

    def simulator(self, name: str, **options) -> tuple[int, int, subprocess.Popen]:
        smpp, control = free_port(), free_port()
        env = {**self.env, **{f"SYRENA_SIMULATOR__{k.upper()}": str(v) for k, v in options.items()}}
        proc = start_simulator(env, smpp, control, self.logs / f"bench-pacing-sim-{name}.log")
        self.procs.append(proc)
        wait_port(smpp)
        return smpp, control, proc

    def workers(self, count: int, links: list[tuple[str, int, float]], name: str) -> list[subprocess.Popen]:
        """`count` workers, each with these links (name, SMPP port, TPS) as primaries; waits for every bind."""
        config = self.logs / f"bench-pacing-{name}.toml"
        lines = []
        for i, (link, port, tps) in enumerate(links):
            lines += (["[smsc]"] if i == 0 else ["[[smsc.connections]]"]) + [
                f'name = "{link}"',
                f"port = {port}",
                f"tps = {tps}",
                'system_id = "syrena"',
                'password = "secret"',
            ]
        config.write_text("\n".join(lines) + "\n")
        env = {k: v for k, v in self.env.items() if not k.startswith("SYRENA_SMSC__")}
        env["SYRENA_CONFIG"] = str(config)
        group = [start_worker(env, self.logs / f"bench-pacing-{name}-{n}.log") for n in range(count)]
        self.procs.extend(group)
        from syrena_core.ops_state import read_workers

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            docs = read_workers(self.settings.redis.url)
            if len(docs) >= count and all(all(b["bound"] for b in d.get("binds", [])) for d in docs):
                return group
            time.sleep(0.2)
        raise RuntimeError(f"{name}: the workers did not bind")

    def stop(self, some: list[subprocess.Popen]) -> None:
        stop_processes(some)
        time.sleep(0.5)
        self.redis.flushdb()  # the next part starts with fresh schedules and no stale heartbeats

    def send(self, count: int, chunk_size: int, timeout: float = 3600) -> tuple[float, float]:
        return _send_and_wait(self.settings, count, timeout, chunk_size=chunk_size)

    def close(self) -> None:
        self.stop(self.procs)
        self.services.close()


def _pace(times: list[float], tps: float) -> dict:
    span = max(times) - min(times) if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span else 0.0
    return {
        "messages": len(times),
        "busiest_1s_window": _busiest_second(times),
        "average_msg_per_s": round(rate, 1),
        "average_share_of_tps": round(rate / tps, 3),
    }


def _matrix(rig: Rig) -> dict:
    smpp, control, sim = rig.simulator("matrix")
    out = {}
    for tps in MATRIX_TPS:
        for workers in MATRIX_WORKERS:
            count = _scaled(5 * tps, 20)
            group = rig.workers(workers, [("primary", smpp, tps)], f"matrix-{tps}-{workers}")
            before = len(_times(control, "/submit-times"))
            rig.send(count, chunk_size=max(10, count // (2 * workers)))  # every worker gets chunks
            times = _times(control, "/submit-times", before)
            rig.stop(group)
            out[f"T{tps}_workers{workers}"] = {"tps": tps, "workers": workers, **_pace(times, tps)}
    rig.stop([sim])
    return out


def _converged(accepted: list[float], refused: list[float], limit: float) -> dict:
    """The earliest time (from the first submit) after which <= 5 % of submits are refused and >= 90 % of the
    SMSC's limit is accepted, with both shares after it."""
    start = min(accepted + refused)
    end = max(accepted)
    t = start
    while t < end - 2:
        ok = [a for a in accepted if a >= t]
        no = [r for r in refused if r >= t]
        share_refused = len(no) / (len(ok) + len(no))
        held = (len(ok) - 1) / (end - t) / limit if len(ok) > 1 else 0.0
        if share_refused <= 0.05 and held >= 0.9:
            return {
                "converged_after_s": round(t - start, 2),
                "held_share_of_smsc_limit": round(held, 3),
                "refused_share_after": round(share_refused, 3),
            }
        t += 0.25
    return {"converged_after_s": None}


def _throttling(rig: Rig) -> dict:
    out = {}
    smpp, control, sim = rig.simulator("throttle-ratio", throttle_ratio=0.1)
    group = rig.workers(1, [("primary", smpp, THROTTLE_TPS)], "throttle-ratio")
    count = _scaled(1500, 100)
    rig.send(count, chunk_size=500)
    accepted, refused = _times(control, "/submit-times"), _times(control, "/throttle-times")
    rig.stop(group + [sim])
    span = max(accepted) - min(accepted)
    out["random_10pc_refused"] = {
        "tps": THROTTLE_TPS,
        "messages": count,
        "refused": len(refused),
        "accepted_msg_per_s": round((len(accepted) - 1) / span, 1),
        "accepted_share_of_tps": round((len(accepted) - 1) / span / THROTTLE_TPS, 3),
    }

    limit = THROTTLE_TPS / 2
    smpp, control, sim = rig.simulator("half-limit", tps=limit)
    group = rig.workers(1, [("primary", smpp, THROTTLE_TPS)], "half-limit")
    count = _scaled(1500, 150)
    rig.send(count, chunk_size=500)
    accepted, refused = _times(control, "/submit-times"), _times(control, "/throttle-times")
    rig.stop(group + [sim])
    out["smsc_limit_half_of_tps"] = {
        "tps": THROTTLE_TPS,
        "smsc_limit": limit,
        "messages": count,
        "refused_total": len(refused),
        **_converged(accepted, refused, limit),
    }
    return out


def _several(rig: Rig, rates: tuple[int, ...], count: int, name: str, chunk_size: int) -> dict:
    sims = [rig.simulator(f"{name}-{i}") for i in range(len(rates))]
    group = rig.workers(1, [(f"link-{i}", smpp, tps) for i, ((smpp, _c, _p), tps) in enumerate(zip(sims, rates))], name)
    cpu_before = _cpu_of(p.pid for p in group), _cpu_of(p.pid for _s, _c, p in sims)
    pg_before = {pid: _cpu_of([pid]) for pid in _backend_pids(rig.settings.database.url, rig.dbname)}
    submit_s, receipts_s = rig.send(count, chunk_size=chunk_size)
    pg_after = {pid: _cpu_of([pid]) for pid in _backend_pids(rig.settings.database.url, rig.dbname)}
    worker_cpu = _cpu_of(p.pid for p in group) - cpu_before[0]
    sim_cpu = _cpu_of(p.pid for _s, _c, p in sims) - cpu_before[1]
    pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
    per_link = [_times(control, "/submit-times") for _s, control, _p in sims]
    time.sleep(3.5)  # one more heartbeat: the links' own counters
    from syrena_core.ops_state import read_workers

    binds = [b for doc in read_workers(rig.settings.redis.url) for b in doc.get("binds", [])]
    rig.stop(group + [p for _s, _c, p in sims])
    if os.environ.get("PACING_DUMP"):  # every submit time per link, to look at where a run lost its pace
        Path(os.environ["PACING_DUMP"]).write_text(json.dumps({"name": name, "per_link": per_link}))
    every = sorted(t for times in per_link for t in times)
    total = sum(rates)
    rate = (len(every) - 1) / (every[-1] - every[0])
    return {
        "links_tps": list(rates),
        "messages": count,
        "chunk_size": chunk_size,
        "aggregate_msg_per_s": round(rate, 1),
        "aggregate_share_of_sum": round(rate / total, 3),
        "share_per_link": [round(len(t) / len(every), 3) for t in per_link],
        "tps_share_per_link": [round(r / total, 3) for r in rates],
        "busiest_1s_per_link": [_busiest_second(t) for t in per_link],
        "slots_dropped_late_per_link": [b.get("late_slots") for b in binds],
        "until_every_receipt_recorded_s": round(receipts_s, 1),
        "until_last_submit_recorded_s": round(submit_s, 1),
        "cpu_ms_per_msg": {
            "worker": round(1000 * worker_cpu / count, 3),
            "simulators": round(1000 * sim_cpu / count, 3),
            "postgres": round(1000 * pg_cpu / count, 3),
        },
    }


def main() -> dict:
    rig = Rig()
    results: dict = {"scale": SCALE}
    try:
        if "matrix" in PARTS:
            results["matrix"] = _matrix(rig)
        if "throttling" in PARTS:
            results["throttling"] = _throttling(rig)
        if "links" in PARTS:
            results["several_links"] = _several(rig, LINKS, _scaled(30 * sum(LINKS), 360), "links", CHUNK)
        if "bottleneck" in PARTS:
            results["never_the_bottleneck"] = _several(
                rig, (BIG_TPS,) * BIG_LINKS, _scaled(BIG_MESSAGES, 4000), "bottleneck", CHUNK
            )
    finally:
        rig.close()
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
