"""RQ jobs of the fan-out. They take ids, build their own database session and
reach the SMSC through the gateway of the worker process they run in."""
from __future__ import annotations

import logging
import time

from sqlalchemy import text

from campaigns.delivery import complete_campaigns, match_receipts, record_send_results
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from campaigns.service import Chunk
from smsc_gateway.interface import OutboundSms, active_gateway
from syrena_core.config import get_settings
from syrena_core.db import session_scope
from syrena_core.queues import ALERTS, INFO, queue

log = logging.getLogger("syrena.campaigns.jobs")

JOB_TIMEOUT = 3600        # a chunk waits for the SMSC's pace, which may be slow
RESULT_TTL = 3600
TEMPORARY_FAILURE_ROUNDS = 3

_CLAIM = text("""
UPDATE message SET status = 'submitting', attempts = attempts + 1
WHERE campaign_id = :cid AND id BETWEEN :first AND :last AND status = 'queued'
RETURNING id, phone
""")


def queue_name_for(kind: str) -> str:
    return ALERTS if kind == CampaignKind.ALERT.value else INFO


def enqueue_chunks(chunks: list[Chunk], kind: str) -> None:
    settings = get_settings()
    q = queue(queue_name_for(kind), settings.redis.url)
    q.enqueue_many([q.prepare_data(deliver_chunk, args=(c.campaign_id, c.first_id, c.last_id),
                                   timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
                                   description=f"campaign {c.campaign_id} messages {c.first_id}-{c.last_id}")
                    for c in chunks])


def deliver_chunk(campaign_id: int, first_id: int, last_id: int) -> int:
    """Send the chunk's queued messages; returns how many the SMSC accepted."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != CampaignStatus.SENDING.value:
            return 0
        body = campaign.body
        # Claiming flips queued → submitting in one statement: a chunk run twice sends nothing twice.
        claimed = session.execute(_CLAIM, {"cid": campaign_id, "first": first_id, "last": last_id}).all()
    gateway = active_gateway()
    batch = [OutboundSms(ref=mid, destination=phone, text=body) for mid, phone in claimed]
    accepted = 0
    started = time.monotonic()
    sending = 0.0
    for round_no in range(1, TEMPORARY_FAILURE_ROUNDS + 1):
        t = time.monotonic()
        results = gateway.send(batch)
        sending += time.monotonic() - t
        retry = {r.ref for r in results if not r.accepted and r.temporary}
        final = [r for r in results if r.ref not in retry or round_no == TEMPORARY_FAILURE_ROUNDS]
        with session_scope(url) as session:
            record_send_results(session, final, settings.billing)
        accepted += sum(r.accepted for r in final)
        batch = [sms for sms in batch if sms.ref in retry]
        if not batch or round_no == TEMPORARY_FAILURE_ROUNDS:
            break
        time.sleep(2 ** round_no)
    with session_scope(url) as session:
        match_receipts(session)
        complete_campaigns(session, [campaign_id])
    log.info("campaign %s chunk %s-%s: %s of %s accepted; %.3fs at the SMSC, %.3fs in all", campaign_id, first_id,
             last_id, accepted, len(claimed), sending, time.monotonic() - started)
    return accepted
