"""`flask worker`: the gateway worker process.

It keeps its SMPP binds (one session thread per configured SMSC connection)
for its whole life — RQ's SimpleWorker runs jobs in this process, so the binds
survive between jobs — listens to the queues in priority order, and stores
receipts and MO as they arrive, also while no job runs. A heartbeat in Redis
tells other workers that its claimed messages are still being sent; when a
worker's heartbeat is gone, any other worker puts its claims back in the queue.
On SIGTERM RQ finishes the running job, then every session drains its window
and unbinds.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid

from rq import SimpleWorker

from campaigns.delivery import match_receipts, store_receipts
from campaigns.jobs import recover_abandoned_claims, set_claim_owner
from smsc_gateway.batching import BatchWriter
from smsc_gateway.inbound import hand_to_keyword_handler, store_mobile_originated
from smsc_gateway.interface import DeliveryReceipt, MobileOriginated, set_active_gateway
from smsc_gateway.rate import TokenBucket
from smsc_gateway.router import GatewayRouter
from smsc_gateway.session import SmppSession
from syrena_core.config import Settings
from syrena_core.db import engine_for, session_scope
from syrena_core.queues import PRIORITY_ORDER, TRANSACTIONAL, queue, redis_connection
from syrena_core.schema import ensure_schema_current

log = logging.getLogger("syrena.worker")

HEARTBEAT_EVERY = 3.0
HEARTBEAT_TTL = 15        # seconds without a heartbeat before a worker's claims count as abandoned
RECOVERY_EVERY = 5.0


def _fleet(redis_url: str) -> str:
    """Workers sharing one Redis are one fleet: they recover each other's claims, and no one else's."""
    return hashlib.sha1(redis_url.encode()).hexdigest()[:8]


class Heartbeat:
    """Keeps this worker's claim id alive in Redis and releases dead workers' claims."""

    def __init__(self, settings: Settings, owner: str, prefix: str):
        self.settings, self.owner, self.prefix = settings, owner, prefix
        self.redis = redis_connection(settings.redis.url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def key(self, owner: str) -> str:
        return f"syrena:worker-alive:{owner}"

    def start(self) -> None:
        self.redis.set(self.key(self.owner), "1", ex=HEARTBEAT_TTL)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.redis.delete(self.key(self.owner))

    def _run(self) -> None:
        last_recovery = 0.0
        while not self._stop.wait(HEARTBEAT_EVERY):
            try:
                self.redis.set(self.key(self.owner), "1", ex=HEARTBEAT_TTL)
                last_recovery += HEARTBEAT_EVERY
                if last_recovery >= RECOVERY_EVERY:
                    last_recovery = 0.0
                    recover_abandoned_claims(self.settings.database.url, self.prefix,
                                             lambda owner: bool(self.redis.exists(self.key(owner))),
                                             self.settings.campaigns.chunk_size)
            except Exception:  # noqa: BLE001 - a database or Redis hiccup must not end the heartbeat
                log.exception("heartbeat or claim recovery failed")


def run_worker(settings: Settings, burst: bool = False) -> None:
    ensure_schema_current(engine_for(settings.database.url))
    url = settings.database.url
    redis = redis_connection(settings.redis.url)
    inbound_queue = queue(TRANSACTIONAL, settings.redis.url)

    def write_receipts(batch: list[DeliveryReceipt]) -> None:
        with session_scope(url) as session:
            store_receipts(session, batch)
        # Matched in a fresh transaction, after the receipts are committed (see campaigns.delivery).
        with session_scope(url) as session:
            match_receipts(session)

    def write_mo(batch: list[MobileOriginated]) -> None:
        with session_scope(url) as session:
            ids = store_mobile_originated(session, batch)
        hand_to_keyword_handler(inbound_queue, ids)  # after the commit: the handler must find the row

    receipts = BatchWriter("receipt-writer", write_receipts)
    inbound = BatchWriter("mo-writer", write_mo)
    sessions = []
    for smsc in settings.smsc.all_connections():
        bucket = TokenBucket(redis, f"syrena:tps:{smsc.name}:{smsc.host}:{smsc.port}:{smsc.system_id}", smsc.tps)
        sessions.append(SmppSession(smsc, bucket, on_receipts=receipts.put_many,
                                    on_mobile_originated=inbound.put_many, acknowledge_after_write=True))
    prefix = f"{_fleet(settings.redis.url)}/"
    owner = f"{prefix}{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    set_claim_owner(owner)
    heartbeat = Heartbeat(settings, owner, prefix)
    for part in (receipts, inbound, *sessions):
        part.start()
    heartbeat.start()
    set_active_gateway(GatewayRouter(sessions))
    try:
        worker = SimpleWorker([queue(name, settings.redis.url) for name in PRIORITY_ORDER], connection=redis)
        worker.work(burst=burst, logging_level="INFO")
    finally:
        set_active_gateway(None)
        for session in sessions:
            session.stop()
        receipts.stop()
        inbound.stop()
        heartbeat.stop()
