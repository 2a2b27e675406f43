"""Call-outs (issue 20): how soon a call-out reaches the SMSC, also while an info campaign is sending; and how soon
after their deadlines the silent are escalated to their deputies.

1. First submit_sm. A call-out to CALLOUT_PEOPLE (500) people in CALLOUT_GROUPS (10) groups of staff is made the way
   POST /api/v1/callouts makes it (campaigns.callouts.create, commit, enqueue_new: the view's three steps, timed
   from before the first), against one `flask worker` bound to the simulator at a city's TPS (SMSC TPS, 100/s). The
   first of its SMS at the simulator (its received_at) minus the request's start is the measure; also when the
   last of the 500 arrived. Measured with an info campaign to INFO_RECIPIENTS (20,000) residents sending at the
   same time (the call-out must pre-empt it), and — the baseline, in the same run, alternating — with nothing
   else sending. Goal: < 1 s.
2. Escalation. One acknowledged call-out to ESCALATION_PEOPLE (200) members, each with a deputy, escalate_after_s
   30. Once their SMS are at the SMSC, their submitted_at is rewritten so that the deadlines (submitted_at + 30 s)
   fall evenly over the next ESCALATION_SPREAD_S (60) seconds, starting 5 s on. Nobody answers. Measured per
   member: escalated_at − deadline (the worker's clock, campaigns.escalation, in the database) and the deputy's SMS
   at the simulator − deadline. Goal: every one < 5 s. Ratio: the worst lag to the clock's own period.

    python bench/run.py callouts        # CALLOUT_RUNS=3 SMSC_TPS=100
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_replies import _control, _ts  # noqa: E402  (the simulator's control port, its times)
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

PEOPLE = int(os.environ.get("CALLOUT_PEOPLE", "500"))
GROUPS = int(os.environ.get("CALLOUT_GROUPS", "10"))
RUNS = int(os.environ.get("CALLOUT_RUNS", "3"))
TPS = os.environ.get("SMSC_TPS", "100")
INFO_RECIPIENTS = int(os.environ.get("INFO_RECIPIENTS", "20000"))
ESCALATION_PEOPLE = int(os.environ.get("ESCALATION_PEOPLE", "200"))
SPREAD = float(os.environ.get("ESCALATION_SPREAD_S", "60"))
ESCALATE_AFTER = 30
ZONE = {
    "type": "Polygon",
    "coordinates": [[[16.90, 52.40], [16.91, 52.40], [16.91, 52.41], [16.90, 52.41], [16.90, 52.40]]],
}


def _arrivals(port: int) -> dict[str, float]:
    """Destination (E.164) → when its first SMS reached the simulator."""
    out: dict[str, float] = {}
    for m in _control(port, "GET", "/messages"):
        phone = "+" + m["destination_addr"].lstrip("+")
        out.setdefault(phone, _ts(m["received_at"]))
    return out


def _groups(url: str, prefix: str, groups_n: int, people: int, deputy_prefix: str | None = None) -> list[int]:
    """`groups_n` groups sharing `people` mobiles +48<prefix>GGNNNN (and each a deputy +48<deputy_prefix>GGNNNN)."""
    from campaigns import groups
    from syrena_core.db import session_scope

    ids = []
    per = people // groups_n
    with session_scope(url) as s:
        for g in range(groups_n):
            members = []
            for n in range(per):
                member = {"name": f"Osoba {g}-{n}", "phone": f"+48{prefix}{g:02d}{n:04d}", "function": "dyżur"}
                if deputy_prefix:
                    member["deputy_phone"] = f"+48{deputy_prefix}{g:02d}{n:04d}"
                members.append(member)
            ids.append(
                groups.create_group(s, None, {"name": f"Grupa {prefix}-{g}", "kind": "services", "members": members}).id
            )
        s.commit()
    return ids


def _info_campaign(url: str, chunk_size: int) -> int:
    from sqlalchemy import text

    from campaigns import dispatch, service
    from campaigns.models import Campaign
    from syrena_core.db import session_scope
    from zones.service import create_zone

    with session_scope(url) as s:
        zone_id = create_zone(s, "Informacyjna", ZONE).id
        s.execute(
            text("""
            WITH new AS (
                INSERT INTO subscriber (phone, language, status, source, created_at, topics)
                SELECT '+48520' || lpad(n::text, 6, '0'), 'pl', 'active', 'import', now(), '{water}'
                FROM generate_series(1, :n) n RETURNING id)
            INSERT INTO subscriber_location (subscriber_id, label, geom)
            SELECT id, 'home', ST_SetSRID(ST_MakePoint(16.905, 52.405), 4326) FROM new"""),
            {"n": INFO_RECIPIENTS},
        )
        s.execute(text("ANALYZE subscriber; ANALYZE subscriber_location"))
        campaign = service.create_campaign(
            s, None, "info", "minor", "Komunikat: wymiana wodomierzy.", [zone_id], topic="water"
        )
        cid = campaign.id
        s.commit()
    with session_scope(url) as s:
        campaign = s.get(Campaign, cid)
        service.start_sending(s, campaign, None, require_approval=False, first=chunk_size)
        s.commit()
        dispatch.enqueue_started(s, campaign, chunk_size)
    return cid


def _set_status(url: str, cid: int, status: str) -> None:
    from sqlalchemy import text

    from syrena_core.db import session_scope

    with session_scope(url) as s:
        s.execute(text("UPDATE campaign SET status = :s WHERE id = :c"), {"s": status, "c": cid})


def _callout(url: str, group_ids: list[int], chunk_size: int, **fields) -> tuple[float, int, list[str]]:
    from sqlalchemy import text

    from campaigns import callouts
    from syrena_core.db import session_scope

    started = time.time()
    with session_scope(url) as s:
        callout = callouts.create(s, None, {"group_ids": group_ids, "body": "Zbiorka ZZK w CZK", **fields})
        s.commit()
        callouts.enqueue_new(s, callout.campaign_id, chunk_size)
        phones = list(s.scalars(text("SELECT phone FROM callout_member WHERE callout_id = :c"), {"c": callout.id}))
        return started, callout.id, phones


def _first_submit(control_port: int, url: str, group_ids: list[int], chunk_size: int) -> dict:
    from sqlalchemy import text

    from syrena_core.db import session_scope

    _control(control_port, "DELETE", "/messages")
    started, callout_id, phones = _callout(url, group_ids, chunk_size, ack=True)
    wanted = set(phones)
    deadline = time.monotonic() + 120
    arrivals: dict[str, float] = {}
    while time.monotonic() < deadline:
        arrivals = {p: t for p, t in _arrivals(control_port).items() if p in wanted}
        if len(arrivals) == len(wanted):
            break
        time.sleep(0.25)
    with session_scope(url) as s:
        s.execute(text("UPDATE callout SET status = 'closed' WHERE id = :c"), {"c": callout_id})
    return {
        "people": len(wanted),
        "arrived": len(arrivals),
        "first_submit_s": round(min(arrivals.values()) - started, 3) if arrivals else None,
        "all_500_at_smsc_s": round(max(arrivals.values()) - started, 3) if len(arrivals) == len(wanted) else None,
    }


def _escalation(control_port: int, url: str, chunk_size: int) -> dict:
    from sqlalchemy import text

    from syrena_core.db import session_scope

    group_ids = _groups(url, "660", 4, ESCALATION_PEOPLE, deputy_prefix="690")
    _control(control_port, "DELETE", "/messages")
    _started, callout_id, phones = _callout(
        url, group_ids, chunk_size, ack=True, escalate_after_s=ESCALATE_AFTER, reply_minutes=30
    )
    wanted = set(phones)
    deadline = time.monotonic() + 120
    while len(set(_arrivals(control_port)) & wanted) < len(wanted):
        if time.monotonic() > deadline:
            raise RuntimeError("the call-out's SMS did not all reach the simulator")
        time.sleep(0.25)
    with session_scope(url) as s:
        s.execute(
            text("""
            UPDATE message m SET submitted_at = now() + make_interval(secs => 5 - :after + :spread * (c.position / :n))
            FROM callout_member c
            WHERE c.callout_id = :callout AND m.id = c.message_id"""),
            {"after": ESCALATE_AFTER, "spread": SPREAD, "n": float(len(wanted)), "callout": callout_id},
        )
    give_up = time.monotonic() + SPREAD + 60
    while time.monotonic() < give_up:
        with session_scope(url) as s:
            done = s.scalar(
                text(
                    "SELECT count(*) FROM callout_member"
                    " WHERE callout_id = :c AND depth = 0 AND escalated_at IS NOT NULL"
                ),
                {"c": callout_id},
            )
        if done >= len(wanted):
            break
        time.sleep(1.0)
    time.sleep(3)  # the last deputies' SMS on their way
    arrivals = _arrivals(control_port)
    with session_scope(url) as s:
        rows = s.execute(
            text("""
            SELECT extract(epoch FROM m.submitted_at + make_interval(secs => :after)) AS deadline,
                   extract(epoch FROM c.escalated_at) AS escalated, c.escalated_to
            FROM callout_member c JOIN message m ON m.id = c.message_id
            WHERE c.callout_id = :callout AND c.depth = 0"""),
            {"after": ESCALATE_AFTER, "callout": callout_id},
        ).all()
    decided = sorted(float(r.escalated) - float(r.deadline) for r in rows if r.escalated is not None)
    at_smsc = sorted(arrivals[r.escalated_to] - float(r.deadline) for r in rows if r.escalated_to in arrivals)

    def pct(values: list[float], q: float) -> float | None:
        return round(values[min(len(values) - 1, int(q * len(values)))], 3) if values else None

    return {
        "members": len(rows),
        "escalated": len(decided),
        "deputy_sms_at_smsc": len(at_smsc),
        "escalation_lag_median_s": pct(decided, 0.5),
        "escalation_lag_p95_s": pct(decided, 0.95),
        "escalation_lag_max_s": round(max(decided), 3) if decided else None,
        "deputy_sms_lag_median_s": pct(at_smsc, 0.5),
        "deputy_sms_lag_max_s": round(max(at_smsc), 3) if at_smsc else None,
    }


def main() -> dict:
    from campaigns.dispatch import enqueue_campaigns
    from campaigns.escalation import CLOCK_EVERY

    services = ExitStack()
    env = dict(
        os.environ,
        SYRENA_DATABASE__URL=services.enter_context(fresh_database("syrena_bench_callouts")),
        SYRENA_REDIS__URL=services.enter_context(private_redis()).url,
    )
    smpp_port, control_port = free_port(), free_port()
    env.update(SYRENA_SMSC__PORT=str(smpp_port), SYRENA_SMSC__TPS=TPS, SYRENA_SIMULATOR__RECEIPT_DELAY="0.2")
    settings = use_environment({k: env[k] for k in ("SYRENA_DATABASE__URL", "SYRENA_REDIS__URL")})
    url, chunk_size = settings.database.url, settings.campaigns.chunk_size
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    procs = []
    try:
        group_ids = _groups(url, "600", GROUPS, PEOPLE)
        procs.append(start_simulator(env, smpp_port, control_port, logs / "bench-callouts-sim.log"))
        wait_port(control_port, 60)
        procs.append(start_worker(env, logs / "bench-callouts-worker.log"))
        deadline = time.monotonic() + 60
        while _control(control_port, "GET", "/stats").get("binds", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not bind")
            time.sleep(0.2)
        info = _info_campaign(url, chunk_size)
        quiet, busy = [], []
        for _ in range(RUNS):
            _set_status(url, info, "paused")
            time.sleep(2)
            quiet.append(_first_submit(control_port, url, group_ids, chunk_size))
            _set_status(url, info, "sending")
            enqueue_campaigns(url, [info], chunk_size)
            time.sleep(3)  # the info campaign at full pace
            busy.append(_first_submit(control_port, url, group_ids, chunk_size))
        _set_status(url, info, "paused")
        escalation = _escalation(control_port, url, chunk_size)

        def median(runs: list[dict], key: str):
            values = [r[key] for r in runs if r.get(key) is not None]
            return statistics.median(values) if values else None

        busy_first, quiet_first = median(busy, "first_submit_s"), median(quiet, "first_submit_s")
        return {
            "smsc_tps": float(TPS),
            "people": PEOPLE,
            "groups": GROUPS,
            "runs": RUNS,
            "first_submit_during_info_median_s": busy_first,
            "first_submit_during_info_max_s": max(r["first_submit_s"] for r in busy if r["first_submit_s"]),
            "all_at_smsc_during_info_median_s": median(busy, "all_500_at_smsc_s"),
            "first_submit_nothing_else_sending_median_s": quiet_first,
            "ratio_during_info_to_quiet": round(busy_first / quiet_first, 2) if busy_first and quiet_first else None,
            "escalation": escalation,
            "escalation_worst_lag_over_clock_period": round(escalation["escalation_lag_max_s"] / CLOCK_EVERY, 2)
            if escalation["escalation_lag_max_s"] is not None
            else None,
            "busy_runs": busy,
            "quiet_runs": quiet,
        }
    finally:
        stop_processes(procs, 15)
        services.close()


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))
