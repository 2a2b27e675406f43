"""RQ jobs of the fan-out. They take ids, build their own database session and
reach the SMSC through the gateway of the worker process they run in.

A chunk is claimed a slice at a time (queued → submitting, with the worker's
claim id) and its results are recorded as they stream back, so the session can
keep the window full while the database writes. When a worker dies mid-chunk,
another worker finds its claims (the owner's heartbeat in Redis is gone), puts
them back to queued, flagged as possible duplicates, and enqueues them again.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from typing import Callable

from sqlalchemy import bindparam, text

from campaigns.delivery import complete_campaigns, match_receipts, record_send_results
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from campaigns.service import Chunk, pending_chunks
from smsc_gateway.interface import OutboundSms, SendResult, active_gateway
from syrena_core.config import get_settings
from syrena_core.db import session_factory, session_scope
from syrena_core.queues import ALERTS, INFO, queue

log = logging.getLogger("syrena.campaigns.jobs")

JOB_TIMEOUT = 3600        # a chunk waits for the SMSC's pace, which may be slow
RESULT_TTL = 3600
TEMPORARY_FAILURE_ROUNDS = 3
SLICE = 100               # messages claimed at once; up to two slices are in flight while results are recorded
RESULT_LINGER = 0.002     # seconds results are gathered before one statement records them
RECORDERS = 3             # connections recording results at once (each commit waits for the disk) ...
RESULT_BATCH = 20         # ... each with at most this many results, so that several can be under way

_CLAIM = text("""
UPDATE message SET status = 'submitting', attempts = attempts + 1, claimed_by = :owner
WHERE id IN (SELECT id FROM message
             WHERE campaign_id = :cid AND id BETWEEN :first AND :last AND status = 'queued'
             ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)
RETURNING id, phone, possible_duplicate
""")

_claim_owner = "unknown"


def set_claim_owner(owner: str) -> None:
    """The worker process's claim id: its heartbeat tells others whether its claims are still alive."""
    global _claim_owner
    _claim_owner = owner


def queue_name_for(kind: str) -> str:
    return ALERTS if kind == CampaignKind.ALERT.value else INFO


def enqueue_chunks(chunks: list[Chunk], kind: str) -> None:
    settings = get_settings()
    q = queue(queue_name_for(kind), settings.redis.url)
    q.enqueue_many([q.prepare_data(deliver_chunk, args=(c.campaign_id, c.first_id, c.last_id),
                                   timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
                                   description=f"campaign {c.campaign_id} messages {c.first_id}-{c.last_id}")
                    for c in chunks])


def _claim(url: str, campaign_id: int, first_id: int, last_id: int, body: str) -> list[OutboundSms]:
    with session_scope(url) as session:
        rows = session.execute(_CLAIM, {"cid": campaign_id, "first": first_id, "last": last_id, "n": SLICE,
                                        "owner": _claim_owner}).all()
    return [OutboundSms(ref=mid, destination=phone, text=body, possible_duplicate=dup)
            for mid, phone, dup in sorted(rows)]


def deliver_chunk(campaign_id: int, first_id: int, last_id: int) -> int:
    """Send the chunk's queued messages; returns how many the SMSC accepted."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != CampaignStatus.SENDING.value:
            return 0
        body = campaign.body
    gateway = active_gateway()
    started = time.monotonic()
    claimed = 0
    sent: dict[int, OutboundSms] = {}
    recorder = _Recorder(url, settings.billing)
    stream = None
    exhausted = False
    with ThreadPoolExecutor(RECORDERS, thread_name_prefix="record") as pool:
        writing: set[Future] = set()
        while True:
            # The next slice is claimed while the previous one is still at the SMSC, which so never waits
            # for the database; results are recorded in batches, by a few connections at once, as they
            # stream back, and leave the session's window once committed.
            while not exhausted and (stream is None or stream.waiting < SLICE):
                batch = _claim(url, campaign_id, first_id, last_id, body)
                if not batch:
                    exhausted = True
                    break
                claimed += len(batch)
                sent.update({sms.ref: sms for sms in batch})
                stream = gateway.submit(batch, into=stream)
            for future in [f for f in writing if f.done()]:
                writing.discard(future)
                future.result()  # a failed write fails the job: its messages stay claimed and are recovered
            if stream is None or (stream.done and not writing):
                break
            if stream.done:
                wait_for_futures(writing, timeout=1.0, return_when=FIRST_COMPLETED)
                continue
            results = stream.take(0.05 if writing else 1.0, linger=RESULT_LINGER, limit=RESULT_BATCH)
            if results:
                writing.add(pool.submit(recorder.record_and_confirm, results, stream))

    retry = recorder.retry
    for round_no in range(1, TEMPORARY_FAILURE_ROUNDS + 1):
        if not retry:
            break
        time.sleep(2 ** round_no)
        batch = [OutboundSms(ref=r.ref, destination=sent[r.ref].destination, text=body,
                             possible_duplicate=r.possible_duplicate or sent[r.ref].possible_duplicate)
                 for r in retry]
        recorder.retry = []
        results = gateway.send(batch)
        recorder.record(results, final_round=round_no == TEMPORARY_FAILURE_ROUNDS)
        retry = recorder.retry
    recorder.close()
    with session_scope(url) as session:
        match_receipts(session)
        complete_campaigns(session, [campaign_id])
    log.info("campaign %s chunk %s-%s: %s of %s accepted in %.3fs (%d result batches recorded in %.3fs)",
             campaign_id, first_id, last_id, recorder.accepted, claimed, time.monotonic() - started,
             recorder.batches, recorder.seconds)
    return recorder.accepted


class _Recorder:
    """Records streamed results, one session per recording thread; temporary failures are kept aside."""

    def __init__(self, url: str, billing):
        self.url, self.billing = url, billing
        self.accepted = self.batches = 0
        self.seconds = 0.0
        self.retry: list[SendResult] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions = []

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = session_factory(self.url)()
            with self._lock:
                self._sessions.append(session)
        return session

    def record(self, results: list[SendResult], final_round: bool = False) -> None:
        began = time.monotonic()
        final = [r for r in results if final_round or r.accepted or not r.temporary]
        session = self._session()
        if final:
            try:
                record_send_results(session, final, self.billing)
                session.commit()
            except BaseException:
                session.rollback()
                raise
        with self._lock:
            self.retry.extend(r for r in results if r not in final)
            self.accepted += sum(r.accepted for r in final)
            self.batches += 1
            self.seconds += time.monotonic() - began

    def record_and_confirm(self, results: list[SendResult], stream) -> None:
        self.record(results)
        stream.confirm(results)

    def close(self) -> None:
        for session in self._sessions:
            session.close()


_ABANDONED_OWNERS = text("""
SELECT DISTINCT claimed_by FROM message WHERE status = 'submitting' AND claimed_by LIKE :prefix
""")
_RELEASE = text("""
UPDATE message SET status = 'queued', possible_duplicate = true, claimed_by = NULL
WHERE status = 'submitting' AND claimed_by IN :owners
RETURNING campaign_id
""").bindparams(bindparam("owners", expanding=True))


def recover_abandoned_claims(url: str, owner_prefix: str, is_alive: Callable[[str], bool], chunk_size: int) -> int:
    """Claims whose worker is gone go back to the queue as possible duplicates (the dead worker may have
    sent up to its window of them); returns how many messages were released."""
    with session_scope(url) as session:
        owners = [o for o in session.execute(_ABANDONED_OWNERS, {"prefix": f"{owner_prefix}%"}).scalars()
                  if not is_alive(o)]
        if not owners:
            return 0
        campaign_ids = [row[0] for row in session.execute(_RELEASE, {"owners": owners})]
    for campaign_id in sorted(set(campaign_ids)):
        with session_scope(url) as session:
            campaign = session.get(Campaign, campaign_id)
            chunks = pending_chunks(session, campaign_id, chunk_size)
            kind = campaign.kind
        enqueue_chunks(chunks, kind)
    log.warning("released %d messages claimed by dead workers %s", len(campaign_ids), owners)
    return len(campaign_ids)
