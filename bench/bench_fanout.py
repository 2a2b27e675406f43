"""End-to-end fan-out: a campaign to N subscribers, from `send` until every
message is submitted and until every receipt is recorded in PostgreSQL —
through RQ, one `flask worker` (window 50, no TPS limit) and the bundled
simulator in its own process. Baseline in the same run: a plain smpplib loop
with the same window against the same simulator, reading every receipt.

    make bench BENCH_ARGS=fanout         # FANOUT_MESSAGES=5000 FANOUT_RUNS=5
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import (  # noqa: E402
    gateway_services,
    start_simulator,
    start_worker,
    stop_processes,
    wait_port,
)

MESSAGES = int(os.environ.get("FANOUT_MESSAGES", "5000"))
RUNS = int(os.environ.get("FANOUT_RUNS", "5"))
WINDOW = 50
TEXT = "Test syreny: awaria wodociagu, nie pij wody z kranu do odwolania."


def _smpplib_windowed_loop(port: int, count: int) -> float:
    """Messages per second of a bare smpplib client keeping WINDOW submit_sm outstanding, until every
    receipt has arrived (what a careful hand-written gateway without a database would do)."""
    import select

    import smpplib.client
    from smpplib import consts

    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    state = {"outstanding": 0, "receipts": 0}

    def on_sent(pdu):
        state["outstanding"] -= 1

    def on_received(pdu):
        state["receipts"] += 1

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.connect()
    client.bind_transceiver(system_id="syrena", password="secret")
    start, sent = time.perf_counter(), 0
    while state["receipts"] < count:
        while sent < count and state["outstanding"] < WINDOW:
            client.send_message(
                source_addr="4800",
                dest_addr_ton=consts.SMPP_TON_INTL,
                destination_addr=f"4870{sent:07d}",
                short_message=TEXT.encode(),
                registered_delivery=True,
            )
            state["outstanding"] += 1
            sent += 1
        if select.select([client._socket], [], [], 0.05)[0]:
            client.read_once()
    elapsed = time.perf_counter() - start
    client.unbind()
    client.disconnect()
    return count / elapsed


def main() -> dict:
    from sqlalchemy import func, select, text

    from campaigns import service
    from campaigns.dispatch import enqueue_chunks, pending_chunks
    from campaigns.models import Message
    from syrena_core.db import session_scope
    from zones.service import create_zone

    services = ExitStack()  # the database and Redis of this run (tests.harness), gone at the end
    env, settings, smpp_port, control_port = gateway_services(
        services, WINDOW, SYRENA_CAMPAIGNS__REQUIRE_APPROVAL="false", SYRENA_CAMPAIGNS__CHUNK_SIZE="500"
    )
    procs = []
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        procs.append(start_simulator(env, smpp_port, control_port, logs / "bench-sim.log"))
        wait_port(smpp_port)
        with session_scope(settings.database.url) as s:
            zone = create_zone(
                s,
                "Bench",
                {
                    "type": "Polygon",
                    "coordinates": [[[16.80, 52.30], [17.05, 52.30], [17.05, 52.50], [16.80, 52.50], [16.80, 52.30]]],
                },
            )
            s.execute(
                text("""
                INSERT INTO subscriber (phone, language, status, source, created_at)
                SELECT '+4860' || lpad(n::text, 7, '0'), 'pl', 'active', 'import', now()
                FROM generate_series(1, :n) n"""),
                {"n": MESSAGES},
            )
            s.execute(
                text("""
                INSERT INTO subscriber_location (subscriber_id, label, geom)
                SELECT id, 'home', ST_SetSRID(ST_MakePoint(16.81 + random() * 0.23, 52.31 + random() * 0.18), 4326)
                FROM subscriber""")
            )
            zone_id = zone.id
        procs.append(start_worker(env, logs / "bench-worker.log"))

        def one_campaign() -> tuple[float, float]:
            with session_scope(settings.database.url) as s:
                campaign = service.create_campaign(s, None, "alert", "severe", TEXT, [zone_id])
                service.start_sending(s, campaign, None, require_approval=False)
                cid = campaign.id
            start = time.perf_counter()
            with session_scope(settings.database.url) as s:
                enqueue_chunks(pending_chunks(s, cid, settings.campaigns.chunk_size), "alert")
            submitted_at = None
            deadline = start + 300
            while time.perf_counter() < deadline:
                with session_scope(settings.database.url) as s:
                    counts = dict(
                        s.execute(
                            select(Message.status, func.count())
                            .where(Message.campaign_id == cid)
                            .group_by(Message.status)
                        ).all()
                    )
                if submitted_at is None and not counts.get("queued") and not counts.get("submitting"):
                    submitted_at = time.perf_counter()
                if counts.get("delivered", 0) == MESSAGES:
                    return MESSAGES / (submitted_at - start), MESSAGES / (time.perf_counter() - start)
                time.sleep(0.05)
            raise RuntimeError(f"campaign {cid} did not finish: {counts}")

        one_campaign()  # warm-up: bind, caches, JIT-less Python paths
        syrena = [one_campaign() for _ in range(RUNS)]
        baseline = [_smpplib_windowed_loop(smpp_port, MESSAGES) for _ in range(RUNS)]
    finally:
        stop_processes(procs, 15)
        services.close()

    submit_rate = statistics.median(r[0] for r in syrena)
    delivered_rate = statistics.median(r[1] for r in syrena)
    base_rate = statistics.median(baseline)
    return {
        "messages_per_run": MESSAGES,
        "runs": RUNS,
        "syrena_submitted_msg_per_s_median": round(submit_rate),
        "syrena_submitted_msg_per_s_range": f"{min(r[0] for r in syrena):.0f}-{max(r[0] for r in syrena):.0f}",
        "syrena_receipts_recorded_msg_per_s_median": round(delivered_rate),
        "smpplib_window50_loop_msg_per_s_median": round(base_rate),
        "ratio_submitted_vs_smpplib_loop": round(submit_rate / base_rate, 2),
        "ratio_receipts_recorded_vs_smpplib_loop": round(delivered_rate / base_rate, 2),
    }


if __name__ == "__main__":
    print(main())
