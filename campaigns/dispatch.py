"""Persist, then enqueue: the one module that turns a campaign's committed `queued` messages into RQ jobs.

A job is a chunk, an id range of one campaign's messages (`Chunk`), on the queue of its kind (alerts before
info). Every path that puts work in Redis comes through here — a send that has just started, a resume or a
resend, a job yielding to an alert, the recovery of claims and of a Redis that lost its data — and always
after the commit that wrote the rows: a worker must find the messages it is given. Redis holds only work in
flight; PostgreSQL says what is to be sent, so enqueueing a range twice costs only an empty claim.

The job function is named by its path (DELIVER_CHUNK), not imported: campaigns.jobs enqueues through this
module, and a module that both runs the jobs and is imported to enqueue them was the import cycle
service ↔ control ↔ jobs. The send path reads: view → campaigns.workflow → campaigns.dispatch → RQ →
campaigns.jobs.deliver_chunk → smsc_gateway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from campaigns.models import Campaign, CampaignKind, CampaignStatus
from campaigns.service import finish_snapshot
from syrena_core.config import get_settings
from syrena_core.db import session_scope, utcnow
from syrena_core.queues import ALERTS, INFO, queue

# What RQ stores and the worker imports (app/worker.py listens on the queues); a test checks it resolves.
DELIVER_CHUNK = "campaigns.jobs.deliver_chunk"
JOB_TIMEOUT = 3600  # a chunk waits for the SMSC's pace, which may be slow
RESULT_TTL = 600
# Long enough that the process that started the snapshot is surely gone, not merely between its commits.
ABANDONED_SNAPSHOT = timedelta(seconds=30)


@dataclass(frozen=True)
class Chunk:
    """The messages one RQ job sends: a range of ids within one campaign."""

    campaign_id: int
    first_id: int
    last_id: int


# Ranges of at most :size of a campaign's queued messages in id order (ids follow distance from the hazard).
_PENDING_CHUNKS = text("""
SELECT min(id), max(id) FROM (
    SELECT id, (row_number() OVER (ORDER BY id) - 1) / :size AS n
    FROM message WHERE campaign_id = :cid AND status = 'queued' AND id > :after) q
GROUP BY n ORDER BY n""")


def pending_chunks(session: Session, campaign_id: int, chunk_size: int, after_id: int = 0) -> list[Chunk]:
    """Ranges of the campaign's queued messages (with ids above `after_id`), `chunk_size` at most each;
    also what resuming re-enqueues."""
    rows = session.execute(_PENDING_CHUNKS, {"cid": campaign_id, "size": chunk_size, "after": after_id}).all()
    return [Chunk(campaign_id, first, last) for first, last in rows]


# A call-out (issue 20) goes at alert priority: staff are called out in the same minutes residents are warned.
ALERT_PRIORITY = (CampaignKind.ALERT.value, CampaignKind.CALLOUT.value)


def queue_name_for(kind: str) -> str:
    return ALERTS if kind in ALERT_PRIORITY else INFO


def enqueue_chunks(chunks: list[Chunk], kind: str, at_front: bool = False) -> None:
    """One RQ job per chunk, in one round trip. `at_front`: a yielding job's rest goes back to the head."""
    if not chunks:
        return
    settings = get_settings()
    q = queue(queue_name_for(kind), settings.redis.url)
    q.enqueue_many(
        [
            q.prepare_data(
                DELIVER_CHUNK,
                args=(c.campaign_id, c.first_id, c.last_id),
                timeout=JOB_TIMEOUT,
                result_ttl=RESULT_TTL,
                description=f"campaign {c.campaign_id} messages {c.first_id}-{c.last_id}",
                at_front=at_front,
            )
            for c in chunks
        ]
    )


def enqueue_queued(session: Session, campaign: Campaign, chunk_size: int, after_id: int = 0) -> int:
    """After the commit: jobs for the campaign's queued messages (with ids above `after_id`) if it is
    sending; returns how many chunks."""
    if campaign.status != CampaignStatus.SENDING.value:
        return 0
    chunks = pending_chunks(session, campaign.id, chunk_size, after_id=after_id)
    enqueue_chunks(chunks, campaign.kind)
    return len(chunks)


def enqueue_campaigns(url: str, campaign_ids: Iterable[int], chunk_size: int) -> int:
    """enqueue_queued for each of these campaigns, each read in its own short transaction (the recovery
    paths of the worker, which hold no session); returns the chunks."""
    total = 0
    for campaign_id in sorted(set(campaign_ids)):
        with session_scope(url) as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is not None:
                total += enqueue_queued(session, campaign, chunk_size)
    return total


def enqueue_started(session: Session, campaign: Campaign, chunk_size: int) -> None:
    """After the commit that started sending: enqueue the recipients written so far, then — for a large
    target — write the rest, commit and enqueue it too. If this process dies in between, a worker's heartbeat
    finishes the snapshot (finish_abandoned_snapshots)."""
    chunks = pending_chunks(session, campaign.id, chunk_size)
    enqueue_chunks(chunks, campaign.kind)
    if campaign.snapshot_pending and finish_snapshot(session, campaign.id) is not None:
        session.commit()
        enqueue_queued(session, campaign, chunk_size, after_id=chunks[-1].last_id if chunks else 0)


def finish_abandoned_snapshots(session: Session, chunk_size: int, now: datetime | None = None) -> list[int]:
    """Finish snapshots whose sending process died after committing the first recipients (worker heartbeat)."""
    cutoff = (now or utcnow()) - ABANDONED_SNAPSHOT
    ids = session.scalars(select(Campaign.id).where(Campaign.snapshot_pending, Campaign.sent_at < cutoff)).all()
    finished = []
    for campaign_id in ids:
        campaign = finish_snapshot(session, campaign_id)
        session.commit()
        if campaign is not None:
            finished.append(campaign_id)
            enqueue_queued(session, campaign, chunk_size)
    return finished
