"""`flask worker`: the gateway worker process.

It keeps one SMPP bind for its whole life (RQ's SimpleWorker runs jobs in this
process, so the bind survives between jobs), listens to the queues in priority
order, and stores receipts and MO as they arrive, also while no job runs.
"""
from __future__ import annotations

import logging

from rq import SimpleWorker

from campaigns.delivery import match_receipts, store_receipts
from smsc_gateway.batching import BatchWriter
from smsc_gateway.inbound import store_mobile_originated
from smsc_gateway.interface import DeliveryReceipt, MobileOriginated, set_active_gateway
from smsc_gateway.rate import TokenBucket
from smsc_gateway.session import SmppSession
from syrena_core.config import Settings
from syrena_core.db import engine_for, session_scope
from syrena_core.queues import PRIORITY_ORDER, queue, redis_connection
from syrena_core.schema import ensure_schema_current

log = logging.getLogger("syrena.worker")


def run_worker(settings: Settings, burst: bool = False) -> None:
    ensure_schema_current(engine_for(settings.database.url))
    url = settings.database.url

    def write_receipts(batch: list[DeliveryReceipt]) -> None:
        with session_scope(url) as session:
            store_receipts(session, batch)
        # Matched in a fresh transaction, after the receipts are committed (see campaigns.delivery).
        with session_scope(url) as session:
            match_receipts(session)

    def write_mo(batch: list[MobileOriginated]) -> None:
        with session_scope(url) as session:
            store_mobile_originated(session, batch)

    redis = redis_connection(settings.redis.url)
    smsc = settings.smsc
    bucket = TokenBucket(redis, f"syrena:tps:{smsc.host}:{smsc.port}:{smsc.system_id}", smsc.tps)
    receipts = BatchWriter("receipt-writer", write_receipts)
    inbound = BatchWriter("mo-writer", write_mo)
    session = SmppSession(smsc, bucket, on_receipts=receipts.put_many, on_mobile_originated=inbound.put_many)
    for part in (receipts, inbound, session):
        part.start()
    set_active_gateway(session)
    try:
        worker = SimpleWorker([queue(name, settings.redis.url) for name in PRIORITY_ORDER], connection=redis)
        worker.work(burst=burst, logging_level="INFO")
    finally:
        set_active_gateway(None)
        session.stop()
        receipts.stop()
        inbound.stop()
