"""`flask worker`: the gateway worker process.

It keeps its SMPP binds (one session thread per configured SMSC connection)
for its whole life — RQ's SimpleWorker runs jobs in this process, so the binds
survive between jobs — listens to the queues in priority order, and stores
receipts and MO as they arrive, also while no job runs. A heartbeat in Redis
tells other workers that its claimed messages are still being sent; when a
worker's heartbeat is gone, any other worker puts its claims back in the queue,
and the sweeper (campaigns.jobs.sweep_stranded) frees claims whose job no
longer runs, whatever ended it.
On SIGTERM the running chunk job stops taking new messages, lets its window
drain, records the results and puts the rest of its chunk back at the head of
its queue; then every session drains and unbinds, and a restarted worker (or
any other) goes on where it stopped.

With every heartbeat the worker also publishes its state (binds, window, rate,
counters, last error) in Redis for /readyz, the status panel and /metrics
(syrena_core.ops_state).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

from flask import Flask, current_app
from rq import SimpleWorker

from app.public_alerts import write_static_files
from campaigns import escalation
from campaigns.delivery import match_receipts, store_receipts
from campaigns.jobs import recover_abandoned_claims, recover_queues, set_claim_owner, sweep_stranded
from campaigns.workflow import start_due_campaigns
from feeds.jobs import enqueue_feed_polls_when_due
from smsc_gateway.batching import BatchWriter
from smsc_gateway.inbound import hand_to_keyword_handler, store_mobile_originated
from smsc_gateway.interface import DeliveryReceipt, MobileOriginated, set_active_gateway
from smsc_gateway.rate import TokenBucket
from smsc_gateway.router import GatewayRouter
from smsc_gateway.session import SmppSession
from subscribers.jobs import enqueue_purge_when_due, resume_stalled_imports
from syrena_core import metrics, ops_state
from syrena_core.config import Settings
from syrena_core.db import engine_for, session_scope
from syrena_core.heap import settle_after_startup
from syrena_core.logging import log_context
from syrena_core.queues import PRIORITY_ORDER, TRANSACTIONAL, queue, redis_connection
from syrena_core.schema import ensure_schema_current

log = logging.getLogger("syrena.worker")

HEARTBEAT_EVERY = 3.0
HEARTBEAT_TTL = 15  # seconds without a heartbeat before a worker's claims count as abandoned
RECOVERY_EVERY = 5.0


def _fleet(redis_url: str) -> str:
    """Workers sharing one Redis are one fleet: they recover each other's claims, and no one else's."""
    return hashlib.sha1(redis_url.encode()).hexdigest()[:8]


class CalloutClock:
    """The call-outs' clock (campaigns.escalation): escalation, the reply windows' end and the duty officer's SMS,
    about every CLOCK_EVERY seconds in its own thread — not in the heartbeat, whose recovery work may take
    seconds, while an escalation is due within 5 s of its deadline. Every worker runs one; the steps lock their
    rows, so each happens once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callout-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(escalation.CLOCK_EVERY):
            try:
                escalation.tick(self.settings)
            except Exception:
                log.exception("the call-outs' clock failed; it looks again in %.0f s", escalation.CLOCK_EVERY)


class Heartbeat:
    """Keeps this worker's claim id alive in Redis, publishes its state and releases dead workers' claims."""

    def __init__(
        self,
        settings: Settings,
        owner: str,
        prefix: str,
        state: Callable[[], dict] | None = None,
        app: Flask | None = None,
    ):
        self.settings, self.owner, self.prefix = settings, owner, prefix
        self.state = state
        self.app = app  # renders the public alert pages into [public] static_dir
        self.redis = redis_connection(settings.redis.url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def key(self, owner: str) -> str:
        return f"syrena:worker-alive:{owner}"

    def start(self) -> None:
        self.redis.set(self.key(self.owner), "1", ex=HEARTBEAT_TTL)
        self._publish()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.redis.delete(self.key(self.owner))
        ops_state.withdraw(self.redis, self.owner)

    def _publish(self) -> None:
        if self.state is not None:
            ops_state.publish(self.redis, self.owner, self.state(), HEARTBEAT_TTL)

    def _run(self) -> None:
        last_recovery = 0.0
        while not self._stop.wait(HEARTBEAT_EVERY):
            try:
                self.redis.set(self.key(self.owner), "1", ex=HEARTBEAT_TTL)
                self._publish()
                # Personal data past its retention: erased by a job one worker of the fleet enqueues hourly.
                enqueue_purge_when_due(self.settings)
                # Official warning sources ([[feeds.sources]]): each polled by one job when its interval is up.
                enqueue_feed_polls_when_due(self.settings)
                # Registry imports whose job was lost (a killed worker, Redis without its queues) go on.
                resume_stalled_imports(self.settings)
                # Scheduled campaigns (and info ones waiting out quiet hours) start from the database.
                with session_scope(self.settings.database.url) as session:
                    start_due_campaigns(session, settings=self.settings.campaigns)
                last_recovery += HEARTBEAT_EVERY
                if last_recovery >= RECOVERY_EVERY:
                    last_recovery = 0.0
                    recover_abandoned_claims(
                        self.settings.database.url,
                        self.prefix,
                        lambda owner: bool(self.redis.exists(self.key(owner))),
                        self.settings.campaigns.chunk_size,
                    )
                    # Claims left "submitting" by a job that no longer runs, whatever killed it; and receipts
                    # waiting for the database's matching rule.
                    sweep_stranded(
                        self.settings.database.url,
                        self.settings.redis.url,
                        self.prefix,
                        self.settings.campaigns.stranded_after,
                        self.settings.campaigns.chunk_size,
                        every=RECOVERY_EVERY,
                    )
                    # Due retries, and everything queued when Redis lost its data: the database decides.
                    recover_queues(
                        self.settings.database.url,
                        self.settings.redis.url,
                        self.prefix,
                        self.settings.campaigns.chunk_size,
                    )
            except Exception:
                log.exception("heartbeat or claim recovery failed")
            self._publish_static()

    def _publish_static(self) -> None:
        """The public alert pages as static files, after a change or an expiry ([public] static_dir)."""
        if self.app is None:
            return
        try:
            write_static_files(self.app)
        except Exception:
            log.exception("could not write the public alert pages to [public] static_dir")


class GatewayWorker(SimpleWorker):
    """RQ's in-process worker, plus: SIGTERM also tells the running job to wind down (ops_state.SHUTDOWN),
    and every job runs with its id and campaign in the log context."""

    current: dict | None = None

    def handle_warm_shutdown_request(self) -> None:
        log.info("stop requested: finishing the messages at the SMSC, then unbinding")
        ops_state.SHUTDOWN.set()
        super().handle_warm_shutdown_request()

    def execute_job(self, job, queue):
        campaign_id = job.args[0] if job.func_name.endswith("deliver_chunk") and job.args else None
        self.current = {"id": job.id, "queue": queue.name, "description": job.description, "since": time.time()}
        try:
            with log_context(job_id=job.id, campaign_id=campaign_id):
                return super().execute_job(job, queue)
        finally:
            self.current = None


class _State:
    """The document this worker publishes with every heartbeat."""

    def __init__(self, owner: str, sessions: list, last_error: ops_state.LastError):
        self.owner, self.sessions, self.last_error = owner, sessions, last_error
        self.worker: GatewayWorker | None = None
        self.started = time.time()
        self._last = (time.monotonic(), 0)

    def __call__(self) -> dict:
        binds = [s.status() for s in self.sessions]
        now, submitted = time.monotonic(), sum(b["submitted"] for b in binds)
        then, before = self._last
        self._last = (now, submitted)
        for b in binds:
            metrics.WINDOW.labels(b["name"]).set(b["outstanding"])
            metrics.BOUND.labels(b["name"]).set(1 if b["bound"] else 0)
            if b.get("rate_now") is not None:
                metrics.LINK_RATE.labels(b["name"]).set(b["rate_now"])
            metrics.LINK_REFUSALS.labels(b["name"]).set(b.get("refusals_per_s") or 0.0)
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started,
            "binds": binds,
            "rate": round((submitted - before) / (now - then), 1) if now > then else 0.0,
            "job": self.worker.current if self.worker else None,
            "stopping": ops_state.shutting_down(),
            "last_error": self.last_error.last,
        }


# The SMPP session thread waits on sockets many times a second and shares the interpreter with the
# recording threads: a short switch interval lets it take the GIL back sooner after each wait (measured:
# ~10 % more messages per second at full speed, see docs/benchmarks.md).
GIL_SWITCH_INTERVAL = 0.0005


def run_worker(settings: Settings, burst: bool = False) -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    ensure_schema_current(engine_for(settings.database.url))
    url = settings.database.url
    redis = redis_connection(settings.redis.url)
    inbound_queue = queue(TRANSACTIONAL, settings.redis.url)

    def write_receipts(batch: list[DeliveryReceipt]) -> None:
        for (smsc, state), n in Counter((r.smsc, r.state) for r in batch).items():
            metrics.RECEIPTS.labels(smsc, state).inc(n)  # per batch: in multiprocess mode each inc writes a shared file
        with session_scope(url) as session:
            store_receipts(session, batch)

    def apply_receipts() -> None:
        # In a fresh transaction, after the receipts are committed (see campaigns.delivery), and after their
        # deliver_sm_resp went out: an SMSC with a small deliver_sm window is not kept waiting for it.
        with session_scope(url) as session:
            match_receipts(session)

    def write_mo(batch: list[MobileOriginated]) -> None:
        with session_scope(url) as session:
            ids = store_mobile_originated(session, batch)
        hand_to_keyword_handler(inbound_queue, ids)  # after the commit: the handler must find the row

    receipts = BatchWriter("receipt-writer", write_receipts, then=apply_receipts)
    inbound = BatchWriter("mo-writer", write_mo)
    sessions = []
    for smsc in settings.smsc.all_connections():
        bucket = TokenBucket(redis, f"syrena:tps:{smsc.name}:{smsc.host}:{smsc.port}:{smsc.system_id}", smsc.tps)
        sessions.append(
            SmppSession(
                smsc,
                bucket,
                on_receipts=receipts.put_many,
                on_mobile_originated=inbound.put_many,
                acknowledge_after_write=True,
            )
        )
    prefix = f"{_fleet(settings.redis.url)}/"
    owner = f"{prefix}{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    set_claim_owner(owner)
    last_error = ops_state.LastError()
    logging.getLogger().addHandler(last_error)
    state = _State(owner, sessions, last_error)
    heartbeat = Heartbeat(settings, owner, prefix, state, app=current_app._get_current_object())
    router = GatewayRouter(sessions)  # before the sessions start: they take work from its shared queue
    for part in (receipts, inbound, *sessions):
        part.start()
    heartbeat.start()
    clock = CalloutClock(settings)
    clock.start()
    set_active_gateway(router)
    settle_after_startup()  # the links keep a pace: no full collection may stop them for 100 ms (heap.py)
    try:
        worker = GatewayWorker([queue(name, settings.redis.url) for name in PRIORITY_ORDER], connection=redis)
        state.worker = worker
        worker.work(burst=burst, logging_level=settings.logging.level.upper())
    finally:
        set_active_gateway(None)
        for session in sessions:
            session.stop()
        receipts.stop()
        inbound.stop()
        heartbeat.stop()
        clock.stop()
        metrics.process_exited()
        logging.getLogger().removeHandler(last_error)
        log.info("worker %s stopped", owner)
