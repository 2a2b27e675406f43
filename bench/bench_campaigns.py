"""Campaigns, send and watch (issue 6): snapshot, first submit_sm, end to end, and an alert's priority.

1. Snapshot: a campaign over two zones holding CAMPAIGN_SNAPSHOT recipients (default 500,000, the demo city
   scaled): seconds of `start_sending` (the PostGIS join written as message rows). The campaign is then
   cancelled (seconds of cancelling that many unsent messages are reported too).
2. End to end: a campaign to CAMPAIGN_E2E recipients (default 100,000) through `start_sending`, RQ, ONE
   `flask worker` (window 50, no TPS limit, receipts on) and the simulator in its own process: from the send
   call until its first submit_sm (simulator's clock), until every message is submitted and until every
   receipt is recorded in PostgreSQL. Baseline in the same run: the plain smpplib windowed loop of
   bench_fanout (CAMPAIGN_BASELINE messages), run just before and just after; the ratio is to their mean.
3. Priority: the same bulk campaign queued as `info` (its kind flipped after the snapshot: quiet hours
   would otherwise hold a real info campaign at night), and once it is well under way an alert to
   CAMPAIGN_ALERT recipients is sent: seconds from that send call to the alert's first and last submit_sm.
4. Cancel: a bulk info campaign of its own is cancelled once a tenth of it is out: seconds from the cancel
   call to the bulk's last submit_sm (simulator's clock).

    make bench BENCH_ARGS=campaigns       # CAMPAIGN_SNAPSHOT=50000 CAMPAIGN_E2E=10000 for a quick run
"""

from __future__ import annotations

import json
import os
import statistics
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

from bench_fanout import _smpplib_windowed_loop  # noqa: E402

from tests.harness import (  # noqa: E402
    gateway_services,
    start_simulator,
    start_worker,
    stop_processes,
    wait_port,
)

SNAPSHOT = int(os.environ.get("CAMPAIGN_SNAPSHOT", "500000"))
E2E = int(os.environ.get("CAMPAIGN_E2E", "100000"))
ALERT = int(os.environ.get("CAMPAIGN_ALERT", "20"))
BASELINE = int(os.environ.get("CAMPAIGN_BASELINE", "20000"))
WINDOW = 50
TEXT = "Test syreny: awaria wodociagu, nie pij wody z kranu do odwolania."
# Three zones side by side: the bulk (E2E recipients), the rest of the city, and a small alert zone.
ZONES = {
    "bulk": (16.80, 52.30, 16.90, 52.50),
    "rest": (16.90, 52.30, 17.00, 52.50),
    "alert": (17.00, 52.30, 17.05, 52.50),
}


def _polygon(box) -> dict:
    x1, y1, x2, y2 = box
    return {"type": "Polygon", "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]}


def _populate(s, zone: str, first: int, count: int) -> None:
    """`count` active subscribers, one home each, spread over the zone; phones numbered from `first`."""
    from sqlalchemy import text

    x1, y1, x2, y2 = ZONES[zone]
    s.execute(
        text("""
        WITH new AS (
            INSERT INTO subscriber (phone, language, status, source, created_at)
            SELECT '+486' || lpad(n::text, 8, '0'), 'pl', 'active', 'import', now()
            FROM generate_series(:first, :last) n RETURNING id)
        INSERT INTO subscriber_location (subscriber_id, label, geom)
        SELECT id, 'home', ST_SetSRID(ST_MakePoint(:x1 + 0.001 + random() * (:x2 - :x1 - 0.002),
                                                   :y1 + 0.001 + random() * (:y2 - :y1 - 0.002)), 4326)
        FROM new"""),
        {"first": first, "last": first + count - 1, "x1": x1, "y1": y1, "x2": x2, "y2": y2},
    )


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> dict:
    from sqlalchemy import func, select, text

    from campaigns import control, dispatch, service
    from campaigns.models import Campaign, Message
    from syrena_core.db import engine_for, session_scope
    from syrena_core.queues import redis_connection
    from zones.service import create_zone

    services = ExitStack()  # the database and Redis of this run (tests.harness), gone at the end
    env, settings, smpp_port, control_port = gateway_services(
        services, WINDOW, SYRENA_CAMPAIGNS__REQUIRE_APPROVAL="false", SYRENA_CAMPAIGNS__CHUNK_SIZE="500"
    )
    url = settings.database.url
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    procs: list[subprocess.Popen] = []
    out: dict = {"snapshot_recipients": SNAPSHOT, "e2e_messages": E2E, "alert_recipients": ALERT}

    def messages() -> list[dict]:
        return json.load(urllib.request.urlopen(f"http://127.0.0.1:{control_port}/messages", timeout=120))

    def clear() -> None:
        urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{control_port}/messages", method="DELETE"), timeout=60
        ).read()

    def counts(cid: int) -> dict[str, int]:
        with session_scope(url) as s:
            return dict(
                s.execute(
                    select(Message.status, func.count()).where(Message.campaign_id == cid).group_by(Message.status)
                ).all()
            )

    def send(zone_ids: list[int], kind_on_queue: str = "alert") -> tuple[int, float, float]:
        """Create and send an alert to these zones; returns (id, wall-clock time of the send call, seconds
        the send took: snapshot + commit + enqueue)."""
        with session_scope(url) as s:
            cid = service.create_campaign(s, None, "alert", "severe", TEXT, zone_ids).id
        began_wall, began = time.time(), time.perf_counter()
        # As the API's send does: the first chunk is committed and enqueued, then the rest is written.
        with session_scope(url) as s:
            campaign = s.get(Campaign, cid)
            service.start_sending(s, campaign, None, require_approval=False, first=settings.campaigns.chunk_size)
            if kind_on_queue != "alert":
                campaign.kind = kind_on_queue
            s.commit()
            dispatch.enqueue_started(s, campaign, settings.campaigns.chunk_size)
        return cid, began_wall, time.perf_counter() - began

    try:
        procs.append(start_simulator(env, smpp_port, control_port, logs / "bench-campaigns-sim.log"))
        wait_port(smpp_port)
        began = time.perf_counter()
        with session_scope(url) as s:
            zone = {name: create_zone(s, f"Bench {name}", _polygon(box)).id for name, box in ZONES.items()}
            _populate(s, "bulk", 1, E2E)
            _populate(s, "rest", E2E + 1, max(SNAPSHOT - E2E, 0))
            _populate(s, "alert", SNAPSHOT + 1, ALERT)
        with session_scope(url) as s:
            s.execute(text("ANALYZE subscriber; ANALYZE subscriber_location"))
        out["setup_s"] = round(time.perf_counter() - began, 1)

        # 1. Snapshot of the whole city (no worker runs: nothing is sent), then cancelled.
        snap_id, _wall, snap_s = send([zone["bulk"], zone["rest"]])
        redis_connection(settings.redis.url).flushdb()
        assert counts(snap_id).get("queued") == SNAPSHOT, counts(snap_id)
        began = time.perf_counter()
        with session_scope(url) as s:
            cancelled = control.cancel(s, s.get(Campaign, snap_id), None)
        out["snapshot_s"] = round(snap_s, 2)
        out["cancel_unsent_s"] = round(time.perf_counter() - began, 2)
        assert cancelled == SNAPSHOT
        # Statistics taken while every message is final, as after a quiet night: the sends below must not
        # depend on ANALYZE having seen them (see campaigns.delivery._SETTLE_MESSAGES).
        with engine_for(url).execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text("VACUUM ANALYZE message"))

        procs.append(start_worker(env, logs / "bench-campaigns-worker.log"))
        time.sleep(3)
        warm, _w, _s = send([zone["alert"]])  # warm-up: bind, caches
        while counts(warm).get("delivered") != ALERT:
            time.sleep(0.1)
        clear()

        # 2. End to end, between two baseline runs (the machine's load drifts: both sides of the ratio must
        # see the same).
        baseline = [_smpplib_windowed_loop(smpp_port, BASELINE)]
        clear()
        cid, wall, send_s = send([zone["bulk"]])
        start = time.perf_counter()
        submitted_at = None
        while True:
            c = counts(cid)
            if submitted_at is None and not c.get("queued") and not c.get("submitting"):
                submitted_at = time.perf_counter()
            if c.get("delivered", 0) == E2E:
                break
            if time.perf_counter() - start > 3600:
                raise RuntimeError(f"campaign {cid} did not finish: {c}")
            time.sleep(0.2)
        done_at = time.perf_counter()
        first_submit = min(_ts(m["received_at"]) for m in messages())
        clear()
        baseline.append(_smpplib_windowed_loop(smpp_port, BASELINE))
        clear()
        out["e2e_send_call_s"] = round(send_s, 2)
        out["e2e_send_to_first_submit_s"] = round(first_submit - wall, 3)
        out["e2e_submitted_msg_per_s"] = round(E2E / (submitted_at - start + send_s))
        out["e2e_receipts_recorded_msg_per_s"] = round(E2E / (done_at - start + send_s))

        # 3. Priority: the bulk again, as info; an alert once a fifth of it is out.
        bulk, _w, _s = send([zone["bulk"]], kind_on_queue="info")
        while counts(bulk).get("delivered", 0) + counts(bulk).get("submitted", 0) < E2E // 5:
            time.sleep(0.05)
        alert, alert_wall, _s = send([zone["alert"]])
        while counts(alert).get("delivered") != ALERT:
            time.sleep(0.05)
        records = messages()
        with session_scope(url) as s:
            alert_phones = {
                p.lstrip("+") for p in s.execute(select(Message.phone).where(Message.campaign_id == alert)).scalars()
            }
        alert_times = sorted(_ts(m["received_at"]) for m in records if m["destination_addr"] in alert_phones)
        out["alert_during_info_first_submit_s"] = round(alert_times[0] - alert_wall, 3)
        out["alert_during_info_last_submit_s"] = round(alert_times[-1] - alert_wall, 3)

        # 4. Cancel a bulk while it sends: how long until the SMSC sees nothing more of it. A bulk of its own: at
        # this speed the one above has finished by the time the alert is delivered (since the jobs look ahead and
        # take over the next chunk, issue 14, cancelling it there met a completed campaign).
        while counts(bulk).get("submitting") or counts(bulk).get("submitted") or counts(bulk).get("queued"):
            time.sleep(0.2)
        clear()
        bulk, _w, _s = send([zone["bulk"]], kind_on_queue="info")
        while counts(bulk).get("delivered", 0) + counts(bulk).get("submitted", 0) < E2E // 10:
            time.sleep(0.05)
        cancel_wall = time.time()
        with session_scope(url) as s:
            control.cancel(s, s.get(Campaign, bulk), None)
        while counts(bulk).get("submitting") or counts(bulk).get("submitted"):
            time.sleep(0.2)
        bulk_times = [_ts(m["received_at"]) for m in messages()]
        out["cancel_to_last_submit_s"] = round(max(bulk_times) - cancel_wall, 3)
        out["cancel_unsent_messages"] = counts(bulk).get("cancelled", 0)
        stop_processes(procs[1:])
        del procs[1:]

        out["smpplib_window50_loop_msg_per_s"] = round(statistics.mean(baseline))
        out["smpplib_before_after_msg_per_s"] = [round(b) for b in baseline]
        out["ratio_submitted_vs_smpplib_loop"] = round(out["e2e_submitted_msg_per_s"] / statistics.mean(baseline), 2)
        out["ratio_receipts_recorded_vs_smpplib_loop"] = round(
            out["e2e_receipts_recorded_msg_per_s"] / statistics.mean(baseline), 2
        )
    finally:
        stop_processes(procs)
        services.close()
    return out


if __name__ == "__main__":
    print(main())
