"""Reply storm (issue 15): 10,000 recipients of one question reply at once, through the simulator's MO.

STORM_RECIPIENTS (10,000) subscribers got a question (a completed campaign with its messages delivered and the
reply window open, written straight in SQL: sending it is not what is measured). Each then replies once,
injected at the simulator's control port (`POST /mo`) at STORM_RATE per second (500: the 10,000 within 20 s)
from STORM_INJECTORS threads: a mix of digits, labels, typos, Ukrainian and English labels, free text and
STOP. One `flask worker` stores the MO and handles them (subscribers.jobs.handle_inbound_batch, the question
branch campaigns.replies first); every phone must get exactly one SMS back. Halfway through, an alert to a
small zone is started (snapshot + enqueue, as an approval does): its first submit_sm is timed.

Measured per run: handled/s (replies ÷ first MO → last reply, = the offered rate without backlog), the backlog
after the last MO, the worker's CPU per MO (/proc, load-independent), how long after the last MO the tally
(CampaignRespondent counted by answer, straight in SQL) is final and right, the alert's first submit_sm after
its enqueue; and checks: all replies stored, each phone answered once, tallies as expected.

Baseline in the same run: the same storm with the window closed (replies_until in the past), i.e. today's
plain keyword path; runs alternate baseline / storm.

    python bench/run.py replies          # STORM_RECIPIENTS=10000 STORM_RATE=500 STORM_RUNS=3 STORM_INJECTORS=4
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.factories import SAFE_OR_HELP  # noqa: E402
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

RECIPIENTS = int(os.environ.get("STORM_RECIPIENTS", "10000"))
RATE = float(os.environ.get("STORM_RATE", "500"))
RUNS = int(os.environ.get("STORM_RUNS", "3"))
INJECTORS = int(os.environ.get("STORM_INJECTORS", "4"))
ALERT_RECIPIENTS = 20
QUESTION = SAFE_OR_HELP
# (text, language of the phone, answer expected: a key, None = free text, "stop" = unsubscribed, no reply row)
MIX = [
    ("1", "pl", "1"),
    ("2", "pl", "2"),
    ("1 ok", "pl", "1"),
    ("POMOC 2", "pl", "2"),
    ("bezpieczny", "pl", "1"),
    ("bezpeiczny", "pl", "1"),  # typo
    ("potrzebuje pomcy", "pl", "2"),  # typo, no diacritics
    ("Jestem bezpieczna, dzieki", "pl", "1"),
    ("Woda w piwnicy, co robic?", "pl", None),  # free text: the list once
    ("STOP", "pl", "stop"),
    ("POMOC", "pl", "2"),  # alone: the needs-help answer (the question has one)
    ("потрібна допомога", "uk", "2"),
    ("safe", "en", "1"),
    ("gdzie jest punkt ewakuacyjny", "pl", None),
    ("1", "uk", "1"),
    ("ok", "en", None),
]
ZONE = {
    "type": "Polygon",
    "coordinates": [[[16.90, 52.40], [16.91, 52.40], [16.91, 52.41], [16.90, 52.41], [16.90, 52.40]]],
}


def _phone(n: int) -> str:
    return f"+48500{n:06d}"


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _control(port: int, method: str, path: str, body: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
        return json.loads(payload or b"null")
    finally:
        connection.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _db_backends(url: str) -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (the worker's pooled connections among them)."""
    from sqlalchemy import text

    from syrena_core.db import session_scope

    with session_scope(url) as s:
        return list(
            s.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            )
        )


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += _cpu_seconds(pid)
        except OSError:  # gone meanwhile (or not ours to read)
            pass
    return total


def _setup(url: str) -> tuple[int, int]:
    """The storm's subscribers and question campaign, and the alert's zone with its subscribers."""
    from sqlalchemy import text

    from syrena_core.db import session_scope
    from zones.service import create_zone

    languages = [MIX[n % len(MIX)][1] for n in range(RECIPIENTS)]
    with session_scope(url) as s:
        s.execute(
            text("""
            INSERT INTO subscriber (phone, language, status, source, created_at)
            SELECT p, l, 'active', 'import', now()
            FROM unnest(CAST(:phones AS text[]), CAST(:languages AS text[])) AS t(p, l)"""),
            {"phones": [_phone(n) for n in range(RECIPIENTS)], "languages": languages},
        )
        cid = s.execute(
            text("""
            INSERT INTO campaign (kind, severity, body, status, created_at, sent_at, completed_at, question,
                                  replies_until, recipients)
            VALUES ('alert', 'severe', 'Powodz. Odpowiedz 1 - jestem bezpieczny, 2 - potrzebuje pomocy',
                    'completed', now(), now(), now(), CAST(:q AS jsonb), now() + interval '12 hours', :n)
            RETURNING id"""),
            {"q": json.dumps(QUESTION), "n": RECIPIENTS},
        ).scalar()
        s.execute(
            text("""
            INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, parts, encoding, queued_at,
                                 submitted_at, finished_at, possible_duplicate,
                                 language)
            SELECT :c, id, phone, 'delivered', 1, 1, 'gsm7', now(), now(), now(), false,
                   CASE WHEN language = 'pl' THEN NULL ELSE language END
            FROM subscriber"""),
            {"c": cid},
        )
        zone_id = create_zone(s, "Alarmowa", ZONE).id
        s.execute(
            text("""
            WITH new AS (
                INSERT INTO subscriber (phone, language, status, source, created_at)
                SELECT '+48510' || lpad(n::text, 6, '0'), 'pl', 'active', 'import', now()
                FROM generate_series(1, :n) n RETURNING id)
            INSERT INTO subscriber_location (subscriber_id, label, geom)
            SELECT id, 'home', ST_SetSRID(ST_MakePoint(16.905, 52.405), 4326) FROM new"""),
            {"n": ALERT_RECIPIENTS},
        )
        s.execute(text("ANALYZE subscriber; ANALYZE message; ANALYZE subscriber_location"))
    return cid, zone_id


def _reset(url: str, cid: int, open_window: bool) -> None:
    from sqlalchemy import text

    from syrena_core.db import session_scope

    with session_scope(url) as s:
        s.execute(text("TRUNCATE campaign_reply, campaign_respondent, suppressed_phone"))
        s.execute(text("UPDATE subscriber SET status = 'active', unsubscribed_at = NULL"))
        s.execute(
            text("UPDATE campaign SET replies_until = now() + CAST(:w AS interval) WHERE id = :c"),
            {"c": cid, "w": "12 hours" if open_window else "-1 hour"},
        )


def _start_alert(url: str, zone_id: int, chunk_size: int) -> tuple[float, int]:
    from campaigns import dispatch, service
    from campaigns.models import Campaign
    from syrena_core.db import session_scope

    with session_scope(url) as s:
        campaign = service.create_campaign(s, None, "alert", "extreme", "Alarm: ewakuacja ulicy Testowej.", [zone_id])
        cid = campaign.id
    started = time.time()
    with session_scope(url) as s:
        campaign = s.get(Campaign, cid)
        service.start_sending(s, campaign, None, require_approval=False, first=chunk_size)
        s.commit()
        dispatch.enqueue_started(s, campaign, chunk_size)
    return started, cid


def _tally(url: str, cid: int) -> dict:
    from sqlalchemy import text

    from syrena_core.db import session_scope

    with session_scope(url) as s:
        rows = s.execute(
            text(
                "SELECT coalesce(answer, 'unrecognised'), count(*) FROM campaign_respondent WHERE campaign_id = :c "
                "GROUP BY 1"
            ),
            {"c": cid},
        ).all()
    return dict(rows)


def _storm(control_port: int, url: str, cid: int, zone_id: int, worker_pid: int, question_open: bool) -> dict:
    from sqlalchemy import text

    from syrena_core.config import get_settings
    from syrena_core.db import session_scope

    _reset(url, cid, question_open)
    _control(control_port, "DELETE", "/messages")
    expected = Counter(MIX[n % len(MIX)][2] for n in range(RECIPIENTS))
    expected_tally = {k: v for k, v in expected.items() if k not in ("stop",)}
    expected_tally["unrecognised"] = expected_tally.pop(None)
    sent_at: dict[str, float] = {}
    alert: dict[str, float] = {}
    chunk = get_settings().campaigns.chunk_size
    cpu_before = _cpu_seconds(worker_pid)
    backends = _db_backends(url)
    db_cpu_before = _cpu_of(backends)
    started = time.time()

    def inject(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", control_port, timeout=30)
        for n in range(offset, RECIPIENTS, INJECTORS):
            pause = started + n / RATE - time.time()
            if pause > 0:
                time.sleep(pause)
            text_ = MIX[n % len(MIX)][0]
            body = json.dumps({"from": _phone(n), "to": "4800", "text": text_}).encode()
            sent_at[_phone(n)] = time.time()
            try:
                connection.request("POST", "/mo", body=body, headers={"Content-Type": "application/json"})
                connection.getresponse().read()
            except (http.client.HTTPException, OSError):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", control_port, timeout=30)
                connection.request("POST", "/mo", body=body, headers={"Content-Type": "application/json"})
                connection.getresponse().read()
            if n == RECIPIENTS // 2 and question_open:
                alert["enqueued"], alert["campaign"] = _start_alert(url, zone_id, chunk)

    threads = [threading.Thread(target=inject, args=(i,)) for i in range(INJECTORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last_mo = time.time()
    tally_final = None
    if question_open:
        while time.time() - last_mo < 120:
            if _tally(url, cid) == expected_tally:
                tally_final = time.time() - last_mo
                break
            time.sleep(0.05)
    replies: dict[str, list[float]] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        replies = {}
        for m in _control(control_port, "GET", "/messages"):
            replies.setdefault("+" + m["destination_addr"].lstrip("+"), []).append(_ts(m["received_at"]))
        if sum(1 for p in replies if p in sent_at) >= RECIPIENTS:
            break
        time.sleep(1.0)
    worker_cpu = _cpu_seconds(worker_pid) - cpu_before
    db_cpu = _cpu_of(backends) - db_cpu_before
    storm = {p: t for p, t in replies.items() if p in sent_at}
    last_reply = max(max(t) for t in storm.values())
    with session_scope(url) as s:
        stored = s.scalar(text("SELECT count(*) FROM campaign_reply WHERE campaign_id = :c"), {"c": cid})
        handled, batches, last_stored, last_handled = s.execute(
            text("""SELECT count(*), count(DISTINCT handled_at), extract(epoch FROM max(received_at)),
                           extract(epoch FROM max(handled_at))
                    FROM inbound_message WHERE handled_at IS NOT NULL""")
        ).one()
        s.execute(text("DELETE FROM inbound_message"))
    result = {
        "messages": RECIPIENTS,
        "offered_per_s": round(RECIPIENTS / (last_mo - started), 1),
        "handled_per_s": round(len(storm) / (last_reply - started), 1),
        "backlog_s": round(last_reply - last_mo, 2),
        "worker_cpu_ms_per_mo": round(worker_cpu * 1000 / RECIPIENTS, 2),
        # The database's CPU for the worker's connections (the injector's own few statements included).
        "db_cpu_ms_per_mo": round(db_cpu * 1000 / RECIPIENTS, 2),
        "batches": batches,
        # Where a backlog forms: the last MO stored (SMPP intake) and handled (the handler), after the last MO.
        "last_stored_after_last_mo_s": round(float(last_stored) - last_mo, 2),
        "last_handled_after_last_mo_s": round(float(last_handled) - last_mo, 2),
        "phones_answered": len(storm),
        "phones_answered_more_than_once": sum(1 for t in storm.values() if len(t) > 1),
        "mo_handled": handled,
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    if question_open:
        alert_phones = [p for p in replies if p.startswith("+48510")]
        first_alert = min((min(replies[p]) for p in alert_phones), default=None)
        tally = _tally(url, cid)
        result.update(
            {
                "replies_stored": stored,
                "replies_expected": RECIPIENTS - expected["stop"],
                "tally": tally,
                "tally_right": tally == expected_tally,
                "tally_final_after_last_mo_s": round(tally_final, 2) if tally_final is not None else None,
                "alert_first_submit_s": round(first_alert - alert["enqueued"], 3) if first_alert else None,
                "alert_recipients_reached": len(alert_phones),
            }
        )
    return result


def _profile() -> tuple[str, ...]:
    """STORM_PROFILE=FILE: the worker profiled by pyinstrument (pip install pyinstrument), its report there."""
    target = os.environ.get("STORM_PROFILE")
    return ("-m", "pyinstrument", "-r", "text", "-o", target) if target else ()


def main() -> dict:
    services = ExitStack()
    env = dict(
        os.environ,
        SYRENA_DATABASE__URL=services.enter_context(fresh_database("syrena_bench_replies")),
        SYRENA_REDIS__URL=services.enter_context(private_redis()).url,
    )
    smpp_port, control_port = free_port(), free_port()
    env.update(SYRENA_SMSC__PORT=str(smpp_port), SYRENA_SMSC__TPS="1000000", SYRENA_SIMULATOR__RECEIPT_DELAY="0.05")
    url = use_environment({k: env[k] for k in ("SYRENA_DATABASE__URL", "SYRENA_REDIS__URL")}).database.url
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    procs = []
    try:
        cid, zone_id = _setup(url)
        procs.append(start_simulator(env, smpp_port, control_port, logs / "bench-replies-sim.log"))
        wait_port(control_port, 60)
        deadline = time.monotonic() + 60
        procs.append(start_worker(env, logs / "bench-replies-worker.log", _profile()))
        while _control(control_port, "GET", "/stats").get("binds", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not bind")
            time.sleep(0.2)
        worker = procs[1].pid
        baseline, storm = [], []
        for _ in range(RUNS):
            baseline.append(_storm(control_port, url, cid, zone_id, worker, question_open=False))
            storm.append(_storm(control_port, url, cid, zone_id, worker, question_open=True))

        def median(runs: list[dict], key: str):
            values = [r[key] for r in runs if r.get(key) is not None]
            return statistics.median(values) if values else None

        keys = ("offered_per_s", "handled_per_s", "backlog_s", "worker_cpu_ms_per_mo", "db_cpu_ms_per_mo", "batches")
        summary = {
            "recipients": RECIPIENTS,
            "rate_offered": RATE,
            "runs": RUNS,
            "storm_median": {
                k: median(storm, k) for k in (*keys, "tally_final_after_last_mo_s", "alert_first_submit_s")
            },
            "keyword_path_baseline_median": {k: median(baseline, k) for k in keys},
        }
        summary["cpu_per_mo_storm_over_keyword_path"] = round(
            summary["storm_median"]["worker_cpu_ms_per_mo"]
            / summary["keyword_path_baseline_median"]["worker_cpu_ms_per_mo"],
            2,
        )
        summary["storm_runs"] = storm
        summary["baseline_runs"] = baseline
        return summary
    finally:
        stop_processes(procs, 15)
        services.close()


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))
