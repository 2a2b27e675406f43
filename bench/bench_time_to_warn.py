"""Time to warn (issue 14): a city-district alert over three operator links, nearest the danger first.

TTW_RECIPIENTS recipients (default 50,000) in a circle around a chemical fire, a UCS-2 text of 2 parts each,
three SMSC simulators (each its own process, each refusing beyond its own limit) behind three
[[smsc.connections]] of 100 + 50 + 30 TPS (TTW_TPS="100,50,30"), TTW_WORKERS `flask worker` processes
(default 2). The alert is approved (start_sending + enqueue, as the approval does) and measured at the SMSCs:

- seconds from the approval until the last submit_sm, against parts / ΣTPS (target: ≤ 1.05 ×);
- when the 10 % of recipients nearest the fire were all submitted, as a share of the send (target: ≤ 12 %);
- the time to warn shown before sending (campaigns.estimates, with the workers bound) against the real one.

Whether several links add up is the router's work (issue 14, another part): this benchmark only measures.

    make bench BENCH_ARGS=time_to_warn          # full size: ~10 min (100,000 parts at 180/s)
    TTW_RECIPIENTS=900 python bench/run.py time_to_warn    # a quick try (~10 s of sending)
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

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

RECIPIENTS = int(os.environ.get("TTW_RECIPIENTS", "50000"))
TPS = [float(t) for t in os.environ.get("TTW_TPS", "100,50,30").split(",")]
WORKERS = int(os.environ.get("TTW_WORKERS", "2"))
# 2 UCS-2 parts (the Polish letters force UCS-2: 67 characters per part).
TEXT = "Uwaga! Pożar zakładu chemicznego przy ul. Głogowskiej. Zamknij okna, wyłącz wentylację, nie wychodź z domu."
FIRE = (52.3900, 16.9100)  # lat, lon
RADIUS_M = 4000
NEAREST_SHARE = 0.10


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _config(path: Path, ports: list[int]) -> None:
    """The three operator links as [smsc] + [[smsc.connections]] (what SYRENA_CONFIG names)."""
    lines = []
    for n, (port, tps) in enumerate(zip(ports, TPS)):
        lines += [
            "[smsc]" if n == 0 else "[[smsc.connections]]",
            f'name = "link-{n + 1}"',
            'host = "127.0.0.1"',
            f"port = {port}",
            'system_id = "syrena"',
            'password = "secret"',
            f"tps = {tps}",
            "window = 50",
        ]
    path.write_text("\n".join(lines) + "\n")


def main() -> dict:
    from sqlalchemy import text

    from campaigns import dispatch, estimates, service
    from campaigns.models import Campaign
    from syrena_core.config import get_settings
    from syrena_core.db import session_scope

    services = ExitStack()  # the database and Redis of this run (tests.harness), gone at the end
    database_url = services.enter_context(fresh_database("syrena_bench"))
    redis = services.enter_context(private_redis())
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    ports = [(free_port(), free_port()) for _ in TPS]
    config = logs / f"bench-ttw-{database_url.rsplit('/', 1)[1]}.toml"
    _config(config, [smpp for smpp, _ in ports])
    procs: list[subprocess.Popen] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYRENA_SMSC__")}
    env.update(
        SYRENA_CONFIG=str(config),
        SYRENA_DATABASE__URL=database_url,
        SYRENA_REDIS__URL=redis.url,
        SYRENA_SIMULATOR__RECEIPT_DELAY="0.2",
        SYRENA_CAMPAIGNS__REQUIRE_APPROVAL="false",
        SYRENA_CAMPAIGNS__CHUNK_SIZE="500",
    )
    saved_environ = dict(os.environ)
    os.environ.clear()
    settings = use_environment(env)
    url = settings.database.url
    out: dict = {"recipients": RECIPIENTS, "links_tps": TPS, "workers": WORKERS}

    def ask(control_port: int, path: str):  # a simulator's control port
        return json.load(urllib.request.urlopen(f"http://127.0.0.1:{control_port}{path}", timeout=300))

    try:
        for n, ((smpp, control), tps) in enumerate(zip(ports, TPS)):
            # Each simulator refuses beyond its own link's contract, as an operator's SMSC would.
            procs.append(
                start_simulator(
                    dict(env, SYRENA_SIMULATOR__TPS=str(tps)), smpp, control, logs / f"bench-ttw-sim-{n}.log"
                )
            )
            wait_port(smpp)

        began = time.perf_counter()
        with session_scope(url) as s:
            # Homes spread evenly over the circle's disc (uniform in area), ids in random order of distance.
            s.execute(
                text("""
                WITH new AS (
                    INSERT INTO subscriber (phone, language, status, source, created_at)
                    SELECT '+487' || lpad(n::text, 8, '0'), 'pl', 'active', 'import', now()
                    FROM generate_series(1, :n) n RETURNING id)
                INSERT INTO subscriber_location (subscriber_id, label, geom)
                SELECT id, 'home', ST_Project(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                                              0.95 * :r * sqrt(random()), 2 * pi() * random())::geometry
                FROM new"""),
                {"n": RECIPIENTS, "lat": FIRE[0], "lon": FIRE[1], "r": RADIUS_M},
            )
            s.execute(text("ANALYZE subscriber; ANALYZE subscriber_location"))
        with session_scope(url) as s:
            campaign = service.create_campaign(
                s,
                None,
                "alert",
                "extreme",
                TEXT,
                [],
                area={"circle": {"lat": FIRE[0], "lon": FIRE[1], "radius_m": RADIUS_M}},
            )
            cid, parts_each = campaign.id, campaign.parts_per_message
        out["setup_s"] = round(time.perf_counter() - began, 1)
        assert parts_each == 2, parts_each

        for n in range(WORKERS):
            procs.append(start_worker(env, logs / f"bench-ttw-worker-{n}.log"))
        deadline = time.monotonic() + 60
        while True:
            links = estimates.links_up(estimates.published_workers(settings.redis.url), settings.smsc)
            if len(links.names) == len(TPS) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        out["links_up_before_send"] = list(links.names)

        # What the approval page shows: the preview's parts over the links up now.
        with session_scope(url) as s:
            campaign = s.get(Campaign, cid)
            total_parts = service.preview(s, campaign, settings.billing).total_parts
            shown = estimates.estimate(s, campaign, settings.redis.url, settings.smsc, total_parts)
        out["parts"] = total_parts
        out["estimate_shown_s"] = shown.seconds

        # The approval: snapshot (the nearest first), commit, enqueue — as the API's approve does.
        approved_wall = time.time()
        with session_scope(url) as s:
            campaign = s.get(Campaign, cid)
            service.start_sending(s, campaign, None, require_approval=False, first=settings.campaigns.chunk_size)
            s.commit()
            dispatch.enqueue_started(s, campaign, settings.campaigns.chunk_size)
        snapshot_s = time.time() - approved_wall
        started = time.monotonic()
        limit = 3 * total_parts / sum(TPS) + 120
        while True:
            with session_scope(url) as s:
                left = s.scalar(
                    text("SELECT count(*) FROM message WHERE campaign_id = :c AND status IN ('queued', 'submitting')"),
                    {"c": cid},
                )
                recipients = s.scalar(text("SELECT recipients FROM campaign WHERE id = :c"), {"c": cid})
            if recipients is not None and not left:
                break
            if time.monotonic() - started > limit:
                raise RuntimeError(f"campaign {cid} did not finish within {limit:.0f} s ({left} messages left)")
            time.sleep(1.0)
        time.sleep(1.0)  # the last submits' records reach the simulators' logs

        submitted: dict[str, float] = {}
        per_link: dict[str, int] = {}
        link_pace: dict[str, dict] = {}  # where a send loses time: each link's start, end and rate in between
        for n, (_smpp, control) in enumerate(ports):
            times = ask(control, "/submit-times")["times"]
            if len(times) > 1:
                link_pace[f"link-{n + 1}"] = {
                    "first_s": round(times[0] - approved_wall, 2),
                    "last_s": round(times[-1] - approved_wall, 2),
                    "share_of_tps": round((len(times) - 1) / (times[-1] - times[0]) / TPS[n], 3),
                }
            got = ask(control, "/messages")
            per_link[f"link-{n + 1}"] = sum(m["parts"] for m in got)
            for m in got:
                phone = "+" + m["destination_addr"].lstrip("+")
                submitted[phone] = max(submitted.get(phone, 0.0), _ts(m["received_at"]))
        assert len(submitted) == RECIPIENTS, (len(submitted), RECIPIENTS)
        last = max(submitted.values())
        real_s = last - approved_wall
        ideal_s = total_parts / sum(TPS)
        with session_scope(url) as s:
            nearest = list(
                s.scalars(
                    text("""
                SELECT sub.phone FROM subscriber sub JOIN subscriber_location l ON l.subscriber_id = sub.id
                ORDER BY ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)
                LIMIT :n"""),
                    {"lon": FIRE[1], "lat": FIRE[0], "n": math.ceil(RECIPIENTS * NEAREST_SHARE)},
                )
            )
        nearest_done = max(submitted[p] for p in nearest) - approved_wall
        out.update(
            {
                "snapshot_and_enqueue_s": round(snapshot_s, 2),
                "last_submit_after_approval_s": round(real_s, 1),
                "parts_over_sum_tps_s": round(ideal_s, 1),
                "ratio_to_parts_over_sum_tps": round(real_s / ideal_s, 3),
                "target_ratio_max": 1.05,
                "nearest_10pct_all_submitted_s": round(nearest_done, 1),
                "nearest_10pct_share_of_send": round(nearest_done / real_s, 3),
                "target_share_max": 0.12,
                "estimate_shown_vs_real": round(shown.seconds / real_s, 3) if real_s else None,
                "parts_per_link": per_link,
                "pace_per_link": link_pace,
            }
        )
        return out
    finally:
        stop_processes(procs[::-1], 20)  # the workers first, then the simulators they are bound to
        services.close()
        config.unlink(missing_ok=True)
        os.environ.clear()
        os.environ.update(saved_environ)
        get_settings.cache_clear()


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
