"""The address gazetteer at city scale: `flask addresses import` of 300,000 address points, and
geocoding typed addresses with one typo against them (pg_trgm), on a scratch database.

Then keyword SMS end to end: MO injected into the bundled simulator at a steady rate, stored by
`flask worker`, handled in batches by `subscribers.jobs.handle_inbound_batch`, the replies submitted back.

Targets (issue 4): import < 60 s; geocoding with one typo: median < 50 ms over 1,000 queries; 100 inbound
keyword SMS per second handled end to end without backlog.
Baseline in the same run: the same 1,000 addresses typed without a typo (the exact-match path).

    make bench BENCH_ARGS=subscribers     # GAZETTEER_POINTS=300000 GAZETTEER_QUERIES=1000 GAZETTEER_RUNS=3
                                          # INBOUND_RATE=100 INBOUND_SECONDS=30 INBOUND_RUNS=3 INBOUND_WORKERS=2
                                          # SUBSCRIBERS_PARTS=inbound (or gazetteer) for one part only
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import (  # noqa: E402
    free_port,
    fresh_database,
    private_redis,
    start_simulator,
    start_worker,
    stop_processes,
    use_environment,
)

POINTS = int(os.environ.get("GAZETTEER_POINTS", "300000"))
QUERIES = int(os.environ.get("GAZETTEER_QUERIES", "1000"))
RUNS = int(os.environ.get("GAZETTEER_RUNS", "3"))
INBOUND_RATE = float(os.environ.get("INBOUND_RATE", "100"))
INBOUND_SECONDS = float(os.environ.get("INBOUND_SECONDS", "30"))
INBOUND_RUNS = int(os.environ.get("INBOUND_RUNS", "3"))
INBOUND_WORKERS = int(os.environ.get("INBOUND_WORKERS", "2"))
# "gazetteer,inbound" (both); one of them alone for a quicker run.
PARTS = set(os.environ.get("SUBSCRIBERS_PARTS", "gazetteer,inbound").split(","))
INBOUND_TEXTS = [
    "ZAPISZ ul. Głogowska 77",
    "zapisz glogowksa 77",
    "START Grunwaldzka 38a",
    "POMOC",
    "DANE",
    "STOP",
    "ZAPISZ Qwzx 5",
    "co to jest?",
]
NUMBERS_PER_STREET = 100
REAL_ADDRESSES = ROOT.parent / "shared" / "data" / "poznan_adresy_punkty.csv"
SYLLABLES = [
    "brzo",
    "li",
    "kwia",
    "to",
    "sos",
    "no",
    "dę",
    "bo",
    "ja",
    "rzę",
    "bi",
    "wiś",
    "nio",
    "grusz",
    "ko",
    "ła",
    "ję",
    "czmie",
    "ro",
    "mia",
    "ży",
    "ta",
    "ka",
    "lin",
    "po",
    "łud",
    "zie",
    "mo",
    "sta",
]
ENDINGS = ["wa", "owa", "ska", "cka", "na", "niowa", "ńska", "lna"]


def street_names(count: int, rng: random.Random) -> list[str]:
    """The real Poznań street names, then made-up Polish-sounding ones up to `count`."""
    with REAL_ADDRESSES.open(encoding="utf-8") as f:
        names = sorted({row["street"].strip() for row in csv.DictReader(f)})
    seen = set(names)
    while len(names) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 2))) + rng.choice(ENDINGS)
        name = name.capitalize()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names[:count]


def write_csv(path: Path, streets: list[str], rng: random.Random) -> list[tuple[str, str]]:
    addresses = []
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["street", "housenumber", "postcode", "city", "lon", "lat"])
        for street in streets:
            lon0, lat0 = 16.80 + rng.random() * 0.25, 52.33 + rng.random() * 0.15
            for n in range(1, NUMBERS_PER_STREET + 1):
                number = f"{n}{rng.choice(['', '', '', 'a', 'b'])}"
                out.writerow(
                    [
                        street,
                        number,
                        f"6{rng.randint(0, 1)}-{rng.randint(0, 999):03d}",
                        "Poznań",
                        f"{lon0 + n * 0.0002:.6f}",
                        f"{lat0 + n * 0.0001:.6f}",
                    ]
                )
                addresses.append((street, number))
    return addresses


def one_typo(word: str, rng: random.Random) -> str:
    """Replace, drop, double or swap one letter (never the first: people rarely miss that one)."""
    letters = [i for i, ch in enumerate(word) if ch.isalpha() and i > 0]
    i = rng.choice(letters)
    kind = rng.choice(["replace", "drop", "double", "swap"])
    if kind == "replace":
        return word[:i] + rng.choice("aeioukrstnlwz") + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    j = min(i + 1, len(word) - 1)
    return word[:i] + word[j] + word[i] + word[j + 1 :] if j > i else word[: i - 1] + word[i] + word[i - 1]


def _control(port: int, method: str, path: str, body: dict | None = None):
    import json
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far: less at the mercy of a loaded machine than wall time."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _inbound_run(control_port: int, run: int, workers: list[int]) -> dict:
    """One steady run: INBOUND_RATE MO per second for INBOUND_SECONDS, each from its own phone; then wait
    for the replies and read when each reached the SMSC (the simulator stamps every submit_sm)."""
    from datetime import datetime

    count = int(INBOUND_RATE * INBOUND_SECONDS)
    phones = [f"+4860{run:01d}{n:06d}" for n in range(count)]
    _control(control_port, "DELETE", "/messages")
    cpu_before = _cpu_seconds(workers)
    sent_at: dict[str, float] = {}
    started = time.time()
    for n, phone in enumerate(phones):
        pause = started + n / INBOUND_RATE - time.time()
        if pause > 0:
            time.sleep(pause)
        sent_at[phone] = time.time()
        _control(
            control_port, "POST", "/mo", {"from": phone, "to": "4800", "text": INBOUND_TEXTS[n % len(INBOUND_TEXTS)]}
        )
    last_mo = time.time()
    replies: dict[str, float] = {}
    deadline = time.monotonic() + 180
    while len(replies) < count and time.monotonic() < deadline:
        time.sleep(1.0)
        for m in _control(control_port, "GET", "/messages"):
            phone = "+" + m["destination_addr"].lstrip("+")
            if phone in sent_at and phone not in replies:
                replies[phone] = datetime.fromisoformat(m["received_at"].replace("Z", "+00:00")).timestamp()
    worker_cpu = _cpu_seconds(workers) - cpu_before
    latencies = sorted((replies[p] - sent_at[p]) * 1000 for p in replies)
    offered = count / (last_mo - started)
    # Handled per second: replies over the time from the first MO to the last reply. Without a backlog it
    # equals the offered rate (the last reply comes a moment after the last MO).
    handled = len(replies) / (max(replies.values()) - started) if replies else 0.0
    return {
        "messages": count,
        "replied": len(replies),
        "offered_per_s": round(offered, 1),
        "handled_per_s": round(handled, 1),
        "handled_over_offered": round(handled / offered, 3),
        "backlog_s": round(max(replies.values()) - last_mo, 2) if replies else None,
        "latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p95": round(statistics.quantiles(latencies, n=20)[18], 1) if len(latencies) > 20 else None,
        # The workers' CPU (store MO, handle, reply, receipts) per MO; 1000 / this = MO/s one free core carries.
        "worker_cpu_ms_per_mo": round(worker_cpu * 1000 / count, 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


def inbound_keywords(env: dict[str, str], url: str) -> dict:
    """Keyword SMS end to end at a steady INBOUND_RATE, INBOUND_RUNS times; medians over the runs."""
    from subscribers.gazetteer import import_address_points, read_address_file
    from syrena_core.db import session_scope
    from zones.service import create_zone

    with session_scope(url) as session:
        import_address_points(session, read_address_file(REAL_ADDRESSES), replace=True)
        create_zone(
            session,
            "Zachód",
            {
                "type": "Polygon",
                "coordinates": [[[16.80, 52.30], [16.93, 52.30], [16.93, 52.50], [16.80, 52.50], [16.80, 52.30]]],
            },
        )
    smpp_port, control_port = free_port(), free_port()
    env = dict(
        env, SYRENA_SMSC__PORT=str(smpp_port), SYRENA_SMSC__TPS="1000000", SYRENA_SIMULATOR__RECEIPT_DELAY="0.05"
    )
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    procs = [start_simulator(env, smpp_port, control_port, logs / "bench-inbound-sim.log")]
    try:
        deadline = time.monotonic() + 60
        while True:  # the simulator's process needs a few seconds to start
            try:
                _control(control_port, "GET", "/stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # INBOUND_PROFILE=DIR: each worker's job thread profiled by pyinstrument (pip install pyinstrument).
        profile = os.environ.get("INBOUND_PROFILE")

        def wrap(n) -> tuple[str, ...]:
            return ("-m", "pyinstrument", "-r", "text", "-o", f"{profile}/worker{n}.txt") if profile else ()

        procs += [start_worker(env, logs / f"bench-inbound-worker{n}.log", wrap(n)) for n in range(INBOUND_WORKERS)]
        deadline = time.monotonic() + 60
        while _control(control_port, "GET", "/stats").get("binds", 0) < INBOUND_WORKERS:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not bind")
            time.sleep(0.2)
        runs = [_inbound_run(control_port, run, [p.pid for p in procs[1:]]) for run in range(INBOUND_RUNS)]
        summary = {
            key: statistics.median(r[key] for r in runs)
            for key in (
                "offered_per_s",
                "handled_per_s",
                "handled_over_offered",
                "backlog_s",
                "latency_ms_median",
                "latency_ms_p95",
                "worker_cpu_ms_per_mo",
            )
        }
        return {
            "workers": INBOUND_WORKERS,
            "rate": INBOUND_RATE,
            "seconds": INBOUND_SECONDS,
            "median_of_runs": summary,
            "runs": runs,
        }
    finally:
        stop_processes(procs, 15)


def gazetteer_part(env: dict[str, str], url: str, rng: random.Random) -> dict:
    """Import 300,000 points (RUNS times) and geocode QUERIES typed addresses with one typo."""
    from sqlalchemy import text

    from subscribers.gazetteer import GeocodeStatus, LocalGazetteer, street_key
    from syrena_core.db import engine_for, session_factory

    streets = street_names(POINTS // NUMBERS_PER_STREET, rng)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "addresses.csv"
        addresses = write_csv(data, streets, rng)
        imports = []
        for _ in range(RUNS):
            with engine_for(url).begin() as c:
                c.execute(text("TRUNCATE address_point"))
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "flask", "addresses", "import", str(data)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            imports.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
    with engine_for(url).begin() as c:
        c.execute(text("ANALYZE address_point"))
        stored = c.execute(text("SELECT count(*) FROM address_point")).scalar()

    sample = rng.sample(addresses, QUERIES)
    gazetteer = LocalGazetteer()
    session = session_factory(url)()
    session.execute(text("SET jit = off"))

    def timed(typed: list[str]) -> tuple[list[float], list]:
        times, results = [], []
        for q in typed:
            t = time.perf_counter()
            results.append(gazetteer.geocode(session, q))
            times.append((time.perf_counter() - t) * 1000)
        return times, results

    exact_typed = [f"ul. {s} {n}" for s, n in sample]
    typo_typed = [f"ul. {one_typo(s, rng)} {n}" for s, n in sample]
    timed(exact_typed[:50])  # warm-up
    exact_ms, _ = timed(exact_typed)
    typo_ms, results = timed(typo_typed)
    session.close()

    def hit(result, street: str, number: str) -> bool:
        wanted = f"{street} {number}, Poznań"
        return any(m.label == wanted for m in result.matches)

    found = sum(r.status == GeocodeStatus.FOUND and hit(r, s, n) for r, (s, n) in zip(results, sample))
    offered = sum(hit(r, s, n) for r, (s, n) in zip(results, sample))
    wrong = sum(r.status == GeocodeStatus.FOUND and not hit(r, s, n) for r, (s, n) in zip(results, sample))
    quantile = statistics.quantiles(typo_ms, n=20)
    return {
        "points": stored,
        "streets": len({street_key(s) for s in streets}),
        "import_s_median": round(statistics.median(imports), 2),
        "import_s_runs": [round(t, 2) for t in imports],
        "import_points_per_s": round(stored / statistics.median(imports)),
        "geocode_one_typo_ms_median": round(statistics.median(typo_ms), 2),
        "geocode_one_typo_ms_p95": round(quantile[18], 2),
        "geocode_exact_ms_median": round(statistics.median(exact_ms), 2),
        "typo_over_exact_ratio": round(statistics.median(typo_ms) / statistics.median(exact_ms), 1),
        "typo_queries": QUERIES,
        "typo_found_right_address": found,
        "typo_right_address_among_candidates": offered,
        "typo_found_wrong_address": wrong,
    }


def main() -> dict:
    if not REAL_ADDRESSES.exists():
        raise SystemExit(f"missing {REAL_ADDRESSES} (the shared/ folder beside the repository)")
    rng = random.Random(4)
    services = ExitStack()  # the database and Redis of this run (tests.harness), gone at the end
    env = dict(
        os.environ,
        SYRENA_DATABASE__URL=services.enter_context(fresh_database("syrena_bench_gazetteer")),
        SYRENA_REDIS__URL=services.enter_context(private_redis()).url,
    )
    url = use_environment({k: env[k] for k in ("SYRENA_DATABASE__URL", "SYRENA_REDIS__URL")}).database.url
    try:
        results = gazetteer_part(env, url, rng) if "gazetteer" in PARTS else {}
        if "inbound" in PARTS:
            results["inbound_keywords"] = inbound_keywords(env, url)
        return results
    finally:
        services.close()


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2, ensure_ascii=False))
