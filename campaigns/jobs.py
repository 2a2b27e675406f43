"""RQ jobs of the fan-out. They take ids, build their own database session and
reach the SMSC through the gateway of the worker process they run in.

A chunk is claimed a slice at a time (queued → submitting, with the worker's
claim id) and its results are recorded as they stream back, so the session can
keep the window full while the database writes. Between slices a job looks at
its campaign (paused or cancelled: what is not yet written to the SMSC is
withdrawn) and, for info campaigns, at the higher-priority queues (an alert
waiting: the job stops and puts the rest of its chunk back at the head of its
queue). Temporary failures go back to `queued` with a `retry_at` back-off; the
worker's recovery loop re-enqueues them when due, and re-enqueues every sending
campaign's queued messages when Redis has lost its data — PostgreSQL is the
source of truth, and a duplicate job costs only an empty claim.

A job keeps about LOOK_AHEAD seconds of sends (at the gateway's rate) handed over, and once its chunk is all
claimed it takes over the next chunk of its campaign when that job is next in the queue (id order kept): the
links never wait for one job to drain and record everything and for the next to start. On a yield it puts
what is left of every chunk it took over back at the head of the queue, in id order.

When a worker dies mid-chunk, another worker finds its claims (the owner's
heartbeat in Redis is gone), puts them back to queued, flagged as possible
duplicates, and enqueues them again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from datetime import datetime
from functools import lru_cache
from typing import cast

from rq import get_current_job
from rq.job import Job
from sqlalchemy import Connection, bindparam, create_engine, text
from sqlalchemy.orm import Session

from billing.ledger import charge_accepted
from campaigns import questions
from campaigns.delivery import complete_campaigns, match_receipts, record_send_results, requeue_temporary
from campaigns.dispatch import (
    ALERT_PRIORITY,
    DELIVER_CHUNK,
    JOB_TIMEOUT,
    Chunk,
    enqueue_campaigns,
    enqueue_chunks,
    pending_chunks,
    queue_name_for,
)
from campaigns.models import Campaign, CampaignStatus
from smsc_gateway.interface import OutboundSms, SendResult, active_gateway
from syrena_core import metrics
from syrena_core.config import get_settings
from syrena_core.db import session_scope, sqlalchemy_url, utcnow
from syrena_core.ops_state import shutting_down
from syrena_core.queues import ALERTS, TRANSACTIONAL, queue, redis_connection

log = logging.getLogger("syrena.campaigns.jobs")

RESULT_LINGER = 0.005  # seconds results are gathered before one statement records them
RECORDERS = 3  # connections recording results at once ...
RESULT_BATCH = 200  # ... each with at most this many results
CONTROL_EVERY = 0.25  # seconds between looks at the campaign's status and the higher-priority queues
# Seconds of sends (at the gateway's rate) a job keeps handed over to the gateway: a slice of 250 is only
# 125 ms at 2,000/s, and the links waited for each claim's round trip. Claimed but unwritten messages come
# back at once on pause, cancel or an alert waiting (PendingResults.withdraw), so more ahead costs nothing there.
LOOK_AHEAD = 1.0
# A job whose chunk is all claimed takes over the next chunk of its campaign when that is next in its queue
# (so the links never wait for one job's drain and the next job's start), for at most this long: a job must
# end well within JOB_TIMEOUT, and a worker's other queues get their turn in between.
ADOPT_FOR = JOB_TIMEOUT / 4
# Redis holds only work in flight: when this key is missing its data is gone (a restart without
# persistence) and the queued messages of every sending campaign are enqueued again from the database.
QUEUES_ALIVE = "syrena:queues-alive"

# The id range drives the claim. `campaign_id + 0` and `status || ''` keep the planner from reaching for an
# index on those columns when their statistics predate the campaign (a new campaign id looks like one row),
# which scanned the whole campaign for every slice: see campaigns.delivery._SETTLE_MESSAGES.
_CLAIM = text("""
UPDATE message SET status = 'submitting', attempts = attempts + 1, claimed_by = :owner, retry_at = NULL,
       claim_job = :job, claimed_at = now()
WHERE id IN (SELECT id FROM message
             WHERE id BETWEEN :first AND :last AND campaign_id + 0 = :cid AND status || '' = 'queued'
               AND (retry_at IS NULL OR retry_at <= now())
             ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)
RETURNING id, phone, possible_duplicate, language
""")
_STATUS = text("SELECT status FROM campaign WHERE id = :cid")

_claim_owner = "unknown"


def set_claim_owner(owner: str) -> None:
    """The worker process's claim id: its heartbeat tells others whether its claims are still alive."""
    global _claim_owner
    _claim_owner = owner


class _Texts:
    """What each recipient gets: their language's variant, else the campaign's (Polish) body; with a question, its
    answer lines in that language (questions.sms_text: what the preview counted)."""

    def __init__(self, campaign: Campaign):
        texts = questions.sms_texts(campaign)
        self.body = texts.pop("pl")
        self.variants = texts
        self.sender = getattr(campaign, "sender_id", None) or None
        self.flash = bool(getattr(campaign, "flash", False))
        self.validity = getattr(campaign, "validity_minutes", 0) or 0

    def sms(self, ref: int, phone: str, language: str | None, duplicate: bool) -> OutboundSms:
        return OutboundSms(
            ref=ref,
            destination=phone,
            text=self.variants.get(language or "") or self.body,
            sender=self.sender,
            flash=self.flash,
            validity_minutes=self.validity,
            possible_duplicate=duplicate,
        )


def _claim(
    url: str, campaign_id: int, first_id: int, last_id: int, slice_size: int, texts: _Texts, job_id: str | None = None
) -> list[OutboundSms]:
    with session_scope(url) as session:
        rows = session.execute(
            _CLAIM,
            {
                "cid": campaign_id,
                "first": first_id,
                "last": last_id,
                "n": slice_size,
                "owner": _claim_owner,
                "job": job_id,
            },
        ).all()
    return [texts.sms(mid, phone, language, dup) for mid, phone, dup, language in sorted(rows)]


def _look_ahead(gateway, slice_size: int) -> int:
    """Messages to keep handed over: LOOK_AHEAD seconds at the gateway's rate, at least a slice."""
    rate = getattr(gateway, "rate", None)
    per_second = rate() if callable(rate) else 0.0
    return max(slice_size, math.ceil(per_second * LOOK_AHEAD))


def _adopt_next_chunk(redis_url: str, kind: str, campaign_id: int) -> tuple[int, int] | None:
    """The id range of the job at the head of this campaign's queue, taken out of the queue, when that job is
    a chunk of the same campaign (else None: another campaign's chunk keeps its turn). Queue order, which is
    id order, is kept; the removal is atomic (LREM), so of a job and a worker popping it only one gets it."""
    q = queue(queue_name_for(kind), redis_url)
    for _ in range(3):  # a worker may pop the head meanwhile: look at the new head
        # redis-py types its commands for its sync and async clients alike: this client is the sync one
        head = cast(bytes | str | None, q.connection.lindex(q.key, 0))
        if head is None:
            return None
        job_id = head.decode() if isinstance(head, bytes) else head
        try:
            job = Job.fetch(job_id, connection=q.connection)
            if job.func_name != DELIVER_CHUNK or job.args[0] != campaign_id:
                return None
            first_id, last_id = int(job.args[1]), int(job.args[2])
        except Exception:
            return None
        if q.connection.lrem(q.key, 1, job_id):
            try:
                job.delete(remove_from_queue=False)
            except Exception:
                pass
            return first_id, last_id
    return None


class _Control:
    """Looks, at most every CONTROL_EVERY, whether the job should stop taking new messages: its campaign no
    longer sending (→ withdraw), or for an info campaign a higher-priority job waiting (→ yield)."""

    def __init__(self, url: str, redis_url: str, campaign_id: int, kind: str):
        self.url, self.campaign_id = url, campaign_id
        self.higher = [] if kind in ALERT_PRIORITY else [queue(name, redis_url) for name in (ALERTS, TRANSACTIONAL)]
        self.checked_at = 0.0
        self.status: str | None = CampaignStatus.SENDING.value  # None: the campaign is gone
        self.yielding = False
        self.stopping = False  # the worker got SIGTERM

    def stop_taking(self) -> bool:
        if shutting_down():  # SIGTERM: what is at the SMSC finishes, the rest of the chunk goes back in the queue
            self.yielding = self.stopping = True
            return True
        now = time.monotonic()
        if now - self.checked_at >= CONTROL_EVERY:
            self.checked_at = now
            with session_scope(self.url) as session:
                self.status = session.execute(_STATUS, {"cid": self.campaign_id}).scalar()
            try:
                self.yielding = any(q.count for q in self.higher)
            except Exception:
                self.yielding = False
        return self.status != CampaignStatus.SENDING.value or self.yielding


def deliver_chunk(campaign_id: int, first_id: int, last_id: int) -> int:
    """Send the chunk's queued messages; returns how many the SMSC accepted."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != CampaignStatus.SENDING.value:
            return 0
        texts = _Texts(campaign)
        kind = campaign.kind
    slice_size = settings.campaigns.slice_size
    gateway = active_gateway()
    ranges = [(first_id, last_id)]  # this chunk, then the chunks of its campaign it took over, in id order
    control = _Control(url, settings.redis.url, campaign_id, kind)
    started = time.monotonic()
    claimed = 0
    recorder = _Recorder(url, settings)
    stream = None
    exhausted = False
    job = get_current_job()
    job_id = job.id if job is not None else None
    try:
        try:
            with ThreadPoolExecutor(RECORDERS, thread_name_prefix="record") as pool:
                writing: set[Future] = set()
                while True:
                    # The next slice is claimed while the previous one is still at the SMSC, which so never
                    # waits for the database; results are recorded in batches, by a few connections at once,
                    # as they stream back, and leave the session's window once committed.
                    if not exhausted and control.stop_taking():
                        # Paused, cancelled or outranked: what the session has not written yet comes back at
                        # once (to `queued`, or `cancelled`): an alert need not wait behind this chunk's backlog.
                        exhausted = True
                        if stream is not None:
                            stream.withdraw()
                    # About LOOK_AHEAD seconds of sends stay handed over, a slice at a time (the status and the
                    # higher-priority queues are looked at between slices).
                    ahead = _look_ahead(gateway, slice_size)
                    while not exhausted and (stream is None or stream.waiting < ahead):
                        if stream is not None and control.stop_taking():
                            break  # withdrawn at the top of the loop
                        batch = _claim(url, campaign_id, first_id, last_id, slice_size, texts, job_id)
                        if not batch:
                            # The chunk is all claimed. While its last messages are still at the links, the
                            # next chunk of the campaign (when it is next in the queue) is taken over rather
                            # than left to the next job, which would start only after this one drained.
                            adopted = None
                            if (
                                stream is not None
                                and not stream.done
                                and time.monotonic() - started < ADOPT_FOR
                                and not control.stop_taking()
                            ):
                                adopted = _adopt_next_chunk(settings.redis.url, kind, campaign_id)
                            if adopted is None:
                                exhausted = True
                                break
                            first_id, last_id = adopted
                            ranges.append(adopted)
                            continue
                        claimed += len(batch)
                        stream = gateway.submit(batch, into=stream)
                    for future in [f for f in writing if f.done()]:
                        writing.discard(future)
                        # A failed write fails the job, which first hands its claims back (_hand_back).
                        future.result()
                    if stream is None or (stream.done and not writing):
                        break
                    if stream.done:
                        wait_for_futures(writing, timeout=1.0, return_when=FIRST_COMPLETED)
                        continue
                    results = stream.take(0.05 if writing else CONTROL_EVERY, linger=RESULT_LINGER, limit=RESULT_BATCH)
                    if results:
                        writing.add(pool.submit(recorder.record_and_confirm, results, stream))
        except Exception as error:
            # A write failed, or a bug: hand the claims back rather than leave them "submitting" under a worker
            # that is still alive (dead-worker recovery would never free them). What the SMSC answered is
            # recorded one message at a time; the rest goes back to the queue; the job still fails (RQ page).
            _hand_back(url, campaign_id, job_id, stream, recorder, error, settings)
            raise
    finally:
        recorder.close()  # charges what was recorded, even when a write failed
    if control.yielding and control.status == CampaignStatus.SENDING.value:
        # A higher-priority job waits: the rest of this chunk goes back to the head of its own queue (whose
        # job matches what receipts are left; the receipt writer matches the rest meanwhile).
        enqueue_chunks(_unfinished(url, campaign_id, ranges, settings.campaigns.chunk_size), kind, at_front=True)
    else:
        with session_scope(url) as session:
            match_receipts(session)
            complete_campaigns(session, [campaign_id])
    log.info(
        "campaign %s chunk %s-%s: %s of %s accepted, %s to retry, in %.3fs (%d result batches recorded in %.3fs)%s",
        campaign_id,
        ranges[0][0],
        ranges[-1][1],
        recorder.accepted,
        claimed,
        recorder.requeued,
        time.monotonic() - started,
        recorder.batches,
        recorder.seconds,
        " — the worker is stopping: the rest goes back to the queue"
        if control.stopping
        else " — yielded to a higher-priority queue"
        if control.yielding
        else f" — campaign {control.status}"
        if control.status != CampaignStatus.SENDING.value
        else "",
    )
    return recorder.accepted


def _unfinished(url: str, campaign_id: int, ranges: list[tuple[int, int]], chunk_size: int) -> list[Chunk]:
    """What a yielding job puts back at the head of its queue, in reverse id order (each goes to the front, so
    they end up in id order): its own chunk; when it took over further chunks, the queued messages of all of
    them (what was withdrawn, and what was never claimed), a chunk_size at most per job."""
    if len(ranges) == 1:
        return [Chunk(campaign_id, *ranges[0])]
    with session_scope(url) as session:
        chunks = pending_chunks(session, campaign_id, chunk_size, after_id=ranges[0][0] - 1)
    last = ranges[-1][1]
    chunks = [Chunk(c.campaign_id, c.first_id, min(c.last_id, last)) for c in chunks if c.first_id <= last]
    return chunks[::-1]


@lru_cache(maxsize=4)
def _recording_engine(url: str):
    """Connections that record send results without waiting for the disk on commit. A crash of PostgreSQL
    itself (not of this worker) could lose the last few hundred milliseconds of them: those messages stay
    "submitting" and are sent again as possible duplicates. Waiting for the disk on every batch would
    instead halve the rate, since a batch holds room in the session's window until it commits."""
    return create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=RECORDERS + 1,
        connect_args={"options": "-c synchronous_commit=off"},
    )


class _Recorder:
    """Records streamed results, one connection per recording thread, held for the whole job (no checkout
    and ping per batch). Accepted and permanently refused ones are final; temporary failures (and withdrawn
    messages) go back to the queue. Charging the accepted ones (billing's ledger) happens in one more
    thread, in larger batches, off the window's path."""

    def __init__(self, url: str, settings):
        self.url, self.billing, self.campaigns = url, settings.billing, settings.campaigns
        self.accepted = self.requeued = self.batches = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[tuple[Session, Connection]] = []
        self._charger = _Charger(url, settings.billing)
        self.unrecorded: list[SendResult] = []

    def _session(self) -> Session:
        session = getattr(self._local, "session", None)
        if session is None:
            connection = _recording_engine(self.url).connect()
            session = self._local.session = Session(bind=connection, expire_on_commit=False)
            with self._lock:
                self._sessions.append((session, connection))
        return session

    def record(self, results: list[SendResult]) -> None:
        began = time.monotonic()
        final = [r for r in results if r.accepted or not r.temporary]
        again = [r for r in results if not r.accepted and r.temporary]
        session = self._session()
        accepted: list[int] = []
        try:
            if final:
                accepted = record_send_results(session, final, self.billing, charge=False)
            if again:
                requeue_temporary(session, again, self.campaigns, _fleet_of(_claim_owner))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        self._charger.add(accepted)
        with self._lock:
            self.accepted += len(accepted)
            self.requeued += len(again)
            self.batches += 1
            self.seconds += time.monotonic() - began

    def record_and_confirm(self, results: list[SendResult], stream) -> None:
        try:
            self.record(results)
        except BaseException:
            with self._lock:
                self.unrecorded.extend(results)  # for the job's hand-back (_hand_back)
            raise
        stream.confirm(results)

    def close(self) -> None:
        try:
            self._charger.close()
        finally:
            for session, connection in self._sessions:
                session.close()
                connection.close()


class _Charger:
    """Charges accepted messages (billing.ledger.charge_accepted, idempotent) a few hundred at a time. If the
    worker dies before, the recovery of its claims charges what it recorded (see recover_abandoned_claims)."""

    EVERY = 0.25

    def __init__(self, url: str, billing):
        self.url, self.billing = url, billing
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="charger", daemon=True)
        self._thread.start()

    def add(self, ids: list[int]) -> None:
        if ids:
            with self._lock:
                self._ids.extend(ids)

    def _flush(self) -> None:
        with self._lock:
            ids, self._ids = self._ids, []
        if ids:
            with session_scope(self.url) as session:
                charge_accepted(session, ids, utcnow(), self.billing)

    def _run(self) -> None:
        while not self._stop.wait(self.EVERY):
            try:
                self._flush()
            except BaseException as e:
                self._error = e
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._flush()


def _fleet_of(owner: str) -> str:
    """Claim ids are "<fleet>/<host:pid:nonce>": the fleet is the workers sharing one Redis."""
    return owner.split("/", 1)[0] + "/" if "/" in owner else ""


# ------------------------------------------------------------------ no message stranded by a dying job
# Why a message was put back from "submitting" (claim_rescue.reason; the status panel counts them).
RESCUE_RECORDED = "job_error_recorded"  # its job failed; its SMSC answer was recorded by the job's hand-back
RESCUE_REQUEUED = "job_error_requeued"  # its job failed before its answer could be recorded: queued again
RESCUE_JOB_GONE = "job_gone"  # the sweeper: its job no longer runs (a crash the job could not catch)
RESCUE_WORKER_DEAD = "worker_dead"  # its worker's heartbeat is gone (kill -9, power cut)
HAND_BACK_WAIT = 15.0  # seconds a failing job waits for the SMSC's answers to what it already sent

# Claims still "submitting" back to queued (or cancelled, if their campaign was cancelled meanwhile). They may
# have reached the SMSC (an answer lost with a failing write, or never read, or sent by a worker that died):
# flagged as possible duplicates. {claims} picks whose: one job's (_RELEASE_JOB), dead workers' (_RELEASE_OWNERS).
_RELEASE_CLAIMS = """
UPDATE message m SET status = CASE WHEN c.status = 'cancelled' THEN 'cancelled' ELSE 'queued' END,
       possible_duplicate = true, claimed_by = NULL, claim_job = NULL,
       finished_at = CASE WHEN c.status = 'cancelled' THEN now() END
FROM campaign c
WHERE c.id = m.campaign_id AND m.status = 'submitting' AND {claims}
RETURNING m.campaign_id
"""
_RELEASE_JOB = text(
    _RELEASE_CLAIMS.format(claims="m.claim_job IN :jobs AND m.claimed_at < now() - make_interval(secs => :older_than)")
).bindparams(bindparam("jobs", expanding=True))
_RELEASE_OWNERS = text(_RELEASE_CLAIMS.format(claims="m.claimed_by IN :owners")).bindparams(
    bindparam("owners", expanding=True)
)
_LOG_RESCUE = text("""
INSERT INTO claim_rescue (reason, campaign_id, messages)
SELECT :reason, v.campaign_id, v.n FROM unnest(CAST(:campaigns AS int[]), CAST(:counts AS int[])) AS v(campaign_id, n)
""")


# What the status panel shows: messages put back, by reason. claim_rescue holds one row per campaign and round.
_RESCUED = text("""
SELECT reason, sum(messages), sum(messages) FILTER (WHERE at > now() - interval '24 hours'), max(at)
FROM claim_rescue GROUP BY reason ORDER BY reason
""")


def rescued(session: Session) -> list[tuple[str, int, int, datetime | None]]:
    """Per reason (RESCUE_*): messages put back from "submitting", those of the last 24 hours, the latest time."""
    return [
        (reason, int(total or 0), int(recent or 0), last)
        for reason, total, recent, last in session.execute(_RESCUED).all()
    ]


def _log_rescue(session: Session, reason: str, campaign_ids: list[int]) -> None:
    if not campaign_ids:
        return
    counts: dict[int, int] = {}
    for cid in campaign_ids:
        counts[cid] = counts.get(cid, 0) + 1
    session.execute(_LOG_RESCUE, {"reason": reason, "campaigns": list(counts), "counts": list(counts.values())})
    metrics.STRANDED_RESCUED.labels(reason).inc(len(campaign_ids))


def _hand_back(
    url: str, campaign_id: int, job_id: str | None, stream, recorder: _Recorder, error: Exception, settings
) -> None:
    """After the job's own failure: stop sending its chunk, collect the answers to what is already at the
    SMSC, record them a message at a time (a poisoned batch loses only the one message that cannot be
    written), free the session's window, and put every claim still "submitting" back in the queue."""
    log.error(
        "campaign %s job %s failed (%s: %s); handing its claims back", campaign_id, job_id, type(error).__name__, error
    )
    results: list[SendResult] = []
    recorded = 0
    try:
        if stream is not None:
            stream.withdraw()
            deadline = time.monotonic() + HAND_BACK_WAIT
            while not stream.done and time.monotonic() < deadline:
                results.extend(stream.take(0.5, linger=RESULT_LINGER))
        with recorder._lock:
            results.extend(recorder.unrecorded)
            recorder.unrecorded = []
        for result in results:
            try:
                recorder.record([result])
                recorded += result.accepted or not result.temporary
            except Exception:
                log.exception("campaign %s: the result of message %s cannot be recorded", campaign_id, result.ref)
    except Exception:
        log.exception("campaign %s job %s: collecting the SMSC's answers failed", campaign_id, job_id)
    finally:
        if stream is not None:
            stream.confirm(results)  # recorded or not, their parts leave the window: the job is over
            stream.abandon()  # and so do those still at the SMSC after HAND_BACK_WAIT
    try:
        with session_scope(url) as session:
            if recorded:
                _log_rescue(session, RESCUE_RECORDED, [campaign_id] * recorded)
            released = (
                [row[0] for row in session.execute(_RELEASE_JOB, {"jobs": [job_id], "older_than": -1})]
                if job_id
                else []
            )
            _log_rescue(session, RESCUE_REQUEUED, released)
        enqueue_campaigns(url, [campaign_id], settings.campaigns.chunk_size)
        log.warning(
            "campaign %s job %s: %d answers recorded after its failure, %d messages queued again",
            campaign_id,
            job_id,
            recorded,
            len(released),
        )
    except Exception:
        log.exception("campaign %s job %s: handing its claims back failed; the sweeper will", campaign_id, job_id)


_STRANDED_JOBS = text("""
SELECT DISTINCT claim_job FROM message
WHERE status = 'submitting' AND claimed_by LIKE :prefix AND claim_job IS NOT NULL
  AND claimed_at < now() - make_interval(secs => :older_than)
""")
SWEEP_LOCK = "syrena:sweeper"


def _job_running(job: Job | None) -> bool:
    return job is not None and job.get_status(refresh=False) == "started"


def sweep_stranded(
    url: str, redis_url: str, owner_prefix: str, stranded_after: float, chunk_size: int, every: float = 5.0
) -> int:
    """Frees messages left "submitting" by a job that no longer runs (it raised past its own hand-back, its
    thread died, it finished with a claim left over), once their claim is `stranded_after` seconds old: back
    to queued as possible duplicates, and enqueued again. Claims of a job still running are never touched (its
    messages may be at the SMSC); a dead worker's are recover_abandoned_claims'. Run on every worker's
    heartbeat; one worker of the fleet per round does it (a Redis lock), and running it twice changes nothing.
    Also applies stored receipts that wait for the database's matching rule (campaigns.delivery)."""
    redis = redis_connection(redis_url)
    if not redis.set(SWEEP_LOCK, "1", nx=True, px=max(int(every * 900), 100)):
        return 0
    with session_scope(url) as session:
        jobs = (
            session.execute(_STRANDED_JOBS, {"prefix": f"{owner_prefix}%", "older_than": stranded_after})
            .scalars()
            .all()
        )
    if jobs:
        fetched = Job.fetch_many(jobs, connection=redis)
        gone = [job_id for job_id, job in zip(jobs, fetched) if not _job_running(job)]
    else:
        gone = []
    released: list[int] = []
    if gone:
        with session_scope(url) as session:
            released = [row[0] for row in session.execute(_RELEASE_JOB, {"jobs": gone, "older_than": stranded_after})]
            _log_rescue(session, RESCUE_JOB_GONE, released)
        enqueue_campaigns(url, released, chunk_size)
        log.warning(
            "sweeper: %d messages left 'submitting' by jobs no longer running %s queued again", len(released), gone
        )
    with session_scope(url) as session:
        match_receipts(session)
    return len(released)


# ------------------------------------------------------------------ recovery, run by every worker's heartbeat
_ABANDONED_OWNERS = text("""
SELECT DISTINCT claimed_by FROM message WHERE status = 'submitting' AND claimed_by LIKE :prefix
""")
_ACCEPTED_BY = text("""
SELECT id FROM message WHERE claimed_by IN :owners AND submitted_at IS NOT NULL
""").bindparams(bindparam("owners", expanding=True))


def recover_abandoned_claims(url: str, owner_prefix: str, is_alive: Callable[[str], bool], chunk_size: int) -> int:
    """Claims whose worker is gone go back to the queue as possible duplicates (the dead worker may have
    sent up to its window of them); returns how many messages were released."""
    with session_scope(url) as session:
        owners = [
            o for o in session.execute(_ABANDONED_OWNERS, {"prefix": f"{owner_prefix}%"}).scalars() if not is_alive(o)
        ]
        if not owners:
            return 0
        campaign_ids = [row[0] for row in session.execute(_RELEASE_OWNERS, {"owners": owners})]
        _log_rescue(session, RESCUE_WORKER_DEAD, campaign_ids)
        # What they had recorded as accepted but maybe not yet charged (charging is idempotent).
        charge_accepted(
            session, session.execute(_ACCEPTED_BY, {"owners": owners}).scalars().all(), utcnow(), get_settings().billing
        )
    enqueue_campaigns(url, campaign_ids, chunk_size)
    log.warning("released %d messages claimed by dead workers %s", len(campaign_ids), owners)
    return len(campaign_ids)


# Due retries of this fleet's sending campaigns become claimable (retry_at and the fleet mark cleared).
_DUE_RETRIES = text("""
UPDATE message m SET retry_at = NULL, claimed_by = NULL
FROM campaign c
WHERE c.id = m.campaign_id AND c.status = 'sending' AND m.status = 'queued'
  AND m.retry_at <= now() AND (m.claimed_by = :fleet OR m.claimed_by IS NULL)
RETURNING m.campaign_id, m.id
""")
_SENDING = text("SELECT id FROM campaign WHERE status = 'sending'")


def recover_queues(url: str, redis_url: str, fleet: str, chunk_size: int) -> int:
    """Enqueue what the database says should be queued and no job may hold: retries now due, and — when
    Redis has lost its data — every sending campaign's queued messages. Returns the chunks enqueued."""
    enqueued = 0
    redis = redis_connection(redis_url)
    if redis.set(QUEUES_ALIVE, "1", nx=True):
        with session_scope(url) as session:
            sending = session.execute(_SENDING).scalars().all()
        enqueued += enqueue_campaigns(url, sending, chunk_size)
        if enqueued:
            log.warning(
                "Redis had no queues: %d chunks of %d sending campaigns enqueued again from the database",
                enqueued,
                len(sending),
            )
    with session_scope(url) as session:
        due = session.execute(_DUE_RETRIES, {"fleet": fleet}).all()
        kinds: dict[int, str] = (
            dict(
                session.execute(
                    text("SELECT id, kind FROM campaign WHERE id = ANY(:ids)"), {"ids": sorted({cid for cid, _ in due})}
                ).all()
            )
            if due
            else {}
        )
    by_campaign: dict[int, list[int]] = {}
    for campaign_id, message_id in due:
        by_campaign.setdefault(campaign_id, []).append(message_id)
    for campaign_id, ids in by_campaign.items():
        ids.sort()
        chunks = [
            Chunk(campaign_id, part[0], part[-1])
            for part in (ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size))
        ]
        enqueue_chunks(chunks, kinds[campaign_id])
        enqueued += len(chunks)
    return enqueued
