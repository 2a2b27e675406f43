"""Writing what the SMSC said back: submit results, then delivery receipts.

Receipts often arrive before the job that sent the message has recorded the
SMSC ids. Both sides therefore commit first and then run the same matching
statement in a fresh transaction: whichever runs last sees both rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from billing.ledger import charge_accepted, charge_delivered
from smsc_gateway.interface import WITHDRAWN, DeliveryReceipt, SendResult
from syrena_core import metrics
from syrena_core.config import BillingSettings, CampaignSettings, get_settings
from syrena_core.db import utcnow

# Receipt states (SMPP 3.4 receipt text) → part status; intermediate states change nothing.
RECEIPT_STATES = {
    "DELIVRD": "delivered",
    "EXPIRED": "expired",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "DELETED": "failed",
    "UNKNOWN": "failed",
}

# Part status of a part the SMSC accepted (and charges) without a usable message id (empty, or longer than
# SMPP's 64 characters): no receipt can ever name it. Its message stays "submitted" — accepted, delivery
# unknown, counted by the status panel's receipt-lag rule — and does not keep its campaign from completing.
NO_RECEIPT = "no_receipt"


# One statement (one round trip) per batch of results, messages and their parts together: until it commits,
# the batch holds room in the session's window.
_MARK_SUBMITTED = text(f"""
WITH submitted AS (
    UPDATE message m SET status = 'submitted', submitted_at = :now, parts = v.parts, encoding = v.encoding,
           error = v.error, smsc = v.smsc, possible_duplicate = m.possible_duplicate OR v.duplicate
    FROM unnest(CAST(:ids AS bigint[]), CAST(:parts AS int[]), CAST(:encodings AS text[]),
                CAST(:errors AS text[]), CAST(:smscs AS text[]),
                CAST(:duplicates AS boolean[])) AS v(id, parts, encoding, error, smsc, duplicate)
    WHERE m.id = v.id
    RETURNING extract(epoch FROM m.submitted_at - m.queued_at) AS seconds
), parts AS (
    -- A part the SMSC accepted without a usable id ("") can never get a receipt: NO_RECEIPT.
    INSERT INTO message_part (message_id, part_no, smsc, smsc_message_id, status, submitted_at)
    SELECT p.id, p.n, p.smsc, p.smsc_id, CASE WHEN p.smsc_id = '' THEN '{NO_RECEIPT}' ELSE 'submitted' END, p.at
    FROM unnest(CAST(:part_ids AS bigint[]), CAST(:part_nos AS int[]), CAST(:part_smscs AS text[]),
                CAST(:part_smsc_ids AS text[]), CAST(:part_ats AS timestamptz[])) AS p(id, n, smsc, smsc_id, at)
)
SELECT seconds FROM submitted
""")
_MARK_REFUSED = text("""
UPDATE message m SET status = 'failed', finished_at = :now, parts = v.parts, encoding = v.encoding, error = v.error,
       smsc = v.smsc
FROM unnest(CAST(:ids AS bigint[]), CAST(:parts AS int[]), CAST(:encodings AS text[]), CAST(:errors AS text[]),
            CAST(:smscs AS text[])) AS v(id, parts, encoding, error, smsc)
WHERE m.id = v.id
""")


def record_send_results(
    session: Session,
    results: Sequence[SendResult],
    billing: BillingSettings,
    *,
    charge: bool = True,
    at: datetime | None = None,
) -> list[int]:
    """Record what the SMSC answered; returns the accepted messages' ids. With `charge=False` the caller
    charges them later (the fan-out does, off the window's path). What a message cost is the billing
    ledger's alone (billing.ledger: per SMSC connection's tariff, when accepted or when delivered).
    `at`: when the answers came (default now; the demo history records a past month through here)."""
    now = at or utcnow()
    accepted = [r for r in results if r.accepted]
    refused = [r for r in results if not r.accepted]
    if accepted:
        # Each part's submit time is when the SMSC answered it (not when it is recorded here): a receipt that
        # arrives on another bind before this commit must still find it "submitted before the receipt".
        parts = [
            (r.ref, n, r.smsc, smsc_id, _accepted_at(r, now))
            for r in accepted
            for n, smsc_id in enumerate(r.smsc_message_ids, 1)
        ]
        latencies = session.execute(
            _MARK_SUBMITTED,
            {
                "now": now,
                "ids": [r.ref for r in accepted],
                "parts": [r.parts for r in accepted],
                "encodings": [r.encoding for r in accepted],
                "errors": ["possible duplicate" if r.possible_duplicate else None for r in accepted],
                "smscs": [r.smsc or None for r in accepted],
                "duplicates": [r.possible_duplicate for r in accepted],
                "part_ids": [p[0] for p in parts],
                "part_nos": [p[1] for p in parts],
                "part_smscs": [p[2] for p in parts],
                "part_smsc_ids": [p[3] for p in parts],
                "part_ats": [p[4] for p in parts],
            },
        )
        for (seconds,) in latencies:
            metrics.SEND_TO_SUBMIT.observe(float(seconds or 0))
        if charge:
            charge_accepted(session, [r.ref for r in accepted], now, billing)
    if refused:
        session.execute(
            _MARK_REFUSED,
            {
                "now": now,
                "ids": [r.ref for r in refused],
                "parts": [r.parts for r in refused],
                "encodings": [r.encoding for r in refused],
                "errors": [r.error for r in refused],
                "smscs": [r.smsc or None for r in refused],
            },
        )
    return [r.ref for r in accepted]


def _accepted_at(result: SendResult, now: datetime) -> datetime:
    if not result.accepted_at:
        return now
    return min(datetime.fromtimestamp(result.accepted_at, UTC), now)


# Temporary failures (throttled after the session's own retries, SMSC unreachable) go back to the queue with
# a back-off, marked for this fleet's recovery loop, until max_attempts; then they fail with the status name.
# Withdrawn ones (their campaign was paused or cancelled before they went out) were never sent: no attempt.
_REQUEUE = text("""
UPDATE message m SET
    status = CASE WHEN c.status = 'cancelled' THEN 'cancelled'
                  WHEN v.withdrawn THEN 'queued'
                  WHEN m.attempts >= :max_attempts THEN 'failed' ELSE 'queued' END,
    attempts = CASE WHEN v.withdrawn THEN greatest(m.attempts - 1, 0) ELSE m.attempts END,
    retry_at = CASE WHEN c.status = 'cancelled' OR v.withdrawn OR m.attempts >= :max_attempts THEN NULL
                    ELSE now() + make_interval(secs => least(:delay * 2 ^ greatest(m.attempts - 1, 0), :delay_max))
               END,
    claimed_by = CASE WHEN c.status = 'cancelled' OR v.withdrawn OR m.attempts >= :max_attempts THEN NULL
                      ELSE :fleet END,
    finished_at = CASE WHEN c.status = 'cancelled' OR (NOT v.withdrawn AND m.attempts >= :max_attempts)
                       THEN now() END,
    error = CASE WHEN v.withdrawn THEN m.error ELSE v.error END,
    possible_duplicate = m.possible_duplicate OR v.duplicate
FROM unnest(CAST(:ids AS bigint[]), CAST(:errors AS text[]), CAST(:duplicates AS boolean[]),
            CAST(:withdrawn AS boolean[])) AS v(id, error, duplicate, withdrawn),
     campaign c
WHERE m.id = v.id AND c.id = m.campaign_id AND m.status || '' = 'submitting'  -- see _SETTLE_MESSAGES
""")


def requeue_temporary(session: Session, results: Sequence[SendResult], settings: CampaignSettings, fleet: str) -> None:
    session.execute(
        _REQUEUE,
        {
            "ids": [r.ref for r in results],
            "errors": [(r.error or "")[:80] or None for r in results],
            "duplicates": [r.possible_duplicate for r in results],
            "withdrawn": [r.error == WITHDRAWN for r in results],
            "max_attempts": settings.max_attempts,
            "delay": float(settings.retry_delay),
            "delay_max": float(settings.retry_delay_max),
            "fleet": fleet or None,
        },
    )


# One statement per batch: the receipt writer shares the worker's interpreter with the session thread.
_STORE_RECEIPTS = text("""
INSERT INTO delivery_receipt (smsc, smsc_message_id, state, error_code, received_at, message_id, part_no)
SELECT r.smsc, r.id, r.state, r.error, :now, r.ref, r.part_no
FROM unnest(CAST(:smscs AS text[]), CAST(:ids AS text[]), CAST(:states AS text[]), CAST(:errors AS text[]),
            CAST(:refs AS bigint[]), CAST(:part_nos AS int[]))
     AS r(smsc, id, state, error, ref, part_no)
""")


def store_receipts(session: Session, receipts: Iterable[DeliveryReceipt], at: datetime | None = None) -> None:
    """Store receipts as they came (`at`: when they came, default now)."""
    receipts = list(receipts)
    if receipts:
        session.execute(
            _STORE_RECEIPTS,
            {
                "now": at or utcnow(),
                "smscs": [r.smsc for r in receipts],
                "ids": [r.smsc_message_id for r in receipts],
                "states": [r.state[:12] for r in receipts],
                "errors": [r.error_code[:8] if r.error_code else None for r in receipts],
                "refs": [r.message_ref for r in receipts],
                "part_nos": [r.part_no for r in receipts],
            },
        )


# SMSC ids are unique only for a while and per connection (an SMSC restarts its numbering, a counter wraps, a
# pool of nodes shares one address), so a receipt goes to exactly one part:
# - the part its session named (delivery_receipt.message_id/part_no: the session that sent the part saw the
#   submit_sm_resp before the receipt, on the same link, and remembers id → part for RECEIPT_ID_TTL), still
#   checked against the id; it waits, unmatched, until that part is recorded — never settling an older one;
# - else (a receipt on a bind that did not send it: another worker, or a restarted one) the most recent part
#   with that id on that connection submitted before the receipt came (+ CLOCK_SLACK between hosts) and within
#   the TTL. When that part already has its final receipt, the new receipt is most likely for a newer part
#   just accepted but not yet recorded (its job records within milliseconds): it waits FALLBACK_GRACE before
#   it counts as a repeated receipt. An older part with the same id is never touched once a newer one exists.
#   (Left open: a reused id whose older part still awaits its receipt, with the newer part's receipt arriving
#   on another bind before the newer part is recorded. The session map makes that the rare case.)
# The first final receipt of a part settles it; a second one (an SMSC repeating itself) is kept, marked
# matched, and changes nothing. One lateral index probe (ix_message_part_smsc_id, newest first) per receipt.
_MATCH_RECEIPTS = text("""
WITH candidates AS (
    SELECT d.id AS receipt_id, p.id AS part_id
    FROM delivery_receipt d
    CROSS JOIN LATERAL (
        SELECT p.id, p.receipt_at FROM message_part p
        WHERE p.smsc = d.smsc AND p.smsc_message_id = d.smsc_message_id AND p.status <> 'superseded'
          AND CASE WHEN d.message_id IS NOT NULL THEN p.message_id = d.message_id AND p.part_no = d.part_no
                   ELSE p.submitted_at <= d.received_at + make_interval(secs => :slack)
                        AND p.submitted_at >= d.received_at - make_interval(secs => :ttl) END
        ORDER BY p.submitted_at DESC NULLS LAST, p.id DESC
        LIMIT 1) p
    WHERE d.matched_at IS NULL
      AND (d.message_id IS NOT NULL OR p.receipt_at IS NULL OR d.received_at < now() - make_interval(secs => :grace))
), matched AS (
    UPDATE delivery_receipt d SET matched_at = now()
    FROM candidates c
    WHERE d.id = c.receipt_id
    RETURNING d.id, c.part_id, d.state, d.error_code, d.received_at
), first_final AS (  -- two final receipts for one part in one batch: the one that came first counts
    SELECT DISTINCT ON (part_id) part_id, state, error_code, received_at FROM matched
    WHERE state = ANY(CAST(:final_states AS text[]))
    ORDER BY part_id, id
), parts AS (
    UPDATE message_part p
    SET status = CASE m.state WHEN 'DELIVRD' THEN 'delivered' WHEN 'EXPIRED' THEN 'expired' ELSE 'failed' END,
        receipt_at = m.received_at,
        error = CASE WHEN m.state = 'DELIVRD' THEN NULL ELSE m.state || ':' || coalesce(m.error_code, '') END
    FROM first_final m
    WHERE p.id = m.part_id AND p.receipt_at IS NULL AND p.status <> 'superseded'
    RETURNING p.message_id
)
SELECT array_agg(DISTINCT message_id ORDER BY message_id) FROM parts
""")
CLOCK_SLACK = 2.0  # seconds: the part's submit time and the receipt's arrival come from different hosts
FALLBACK_GRACE = 5.0  # seconds a receipt without its part named waits before the database's rule applies

# A message is delivered when every part is; one failed or expired part settles it.
# Statements keyed by message ids test the status as `status || ''`: message.status changes faster than
# ANALYZE sees (after a quiet night every row is final, so "submitted" looks like one row), and a plain
# `status = 'submitted'` then drove the join from the status index and re-ran the aggregate for every
# submitted message: 5 s per batch with 200,000 old messages (bench/bench_scaleout.py seeds such a history).
_SETTLE_MESSAGES = text("""
UPDATE message m SET status = agg.new_status, finished_at = coalesce(CAST(:at AS timestamptz), now()),
       error = CASE WHEN agg.new_status = 'delivered' THEN m.error ELSE agg.first_error END
FROM (SELECT message_id,
             CASE WHEN bool_and(status = 'delivered') THEN 'delivered'
                  WHEN bool_or(status = 'failed') THEN 'failed'
                  WHEN bool_or(status = 'expired') THEN 'expired' END AS new_status,
             min(error) AS first_error
      FROM message_part WHERE message_id = ANY(CAST(:ids AS bigint[])) AND status <> 'superseded'
      GROUP BY message_id) agg
WHERE m.id = agg.message_id AND agg.new_status IS NOT NULL AND m.status || '' = 'submitted'
RETURNING m.campaign_id, agg.new_status, extract(epoch FROM m.finished_at - m.submitted_at)
""")

_COMPLETE_CAMPAIGNS = text("""
UPDATE campaign c SET status = 'completed', completed_at = coalesce(CAST(:at AS timestamptz), now())
WHERE c.id IN :ids AND c.status = 'sending'
  AND NOT c.snapshot_pending  -- the rest of its recipients is still being written (service.finish_snapshot)
  AND NOT EXISTS (SELECT 1 FROM message m WHERE m.campaign_id = c.id
                  AND m.status IN ('queued', 'submitting', 'submitted')
                  -- a submitted message waits only for parts that can still get a receipt (see NO_RECEIPT)
                  AND (m.status <> 'submitted'
                       OR EXISTS (SELECT 1 FROM message_part p WHERE p.message_id = m.id AND p.status = 'submitted')))
""").bindparams(bindparam("ids", expanding=True))


# Matchers run in the receipt writer and in every job. Two of them settling different parts of one
# message at once would each miss the other's uncommitted part and leave it "submitted" for ever.
_MATCH_LOCK = text("SELECT pg_advisory_xact_lock(7312001)")


def match_receipts(session: Session, id_ttl: float | None = None, at: datetime | None = None) -> int:
    """Apply every stored receipt whose part is now known; returns how many messages were touched. `id_ttl`:
    seconds an SMSC id names its part (default: the longest of the configured connections'); `at`: the time
    messages and campaigns finish at (default now; the demo history's past month)."""
    if id_ttl is None:
        id_ttl = _id_ttl()
    session.execute(_MATCH_LOCK)
    message_ids = session.execute(
        _MATCH_RECEIPTS,
        {"final_states": list(RECEIPT_STATES), "slack": CLOCK_SLACK, "grace": FALLBACK_GRACE, "ttl": id_ttl},
    ).scalar()
    if not message_ids:
        return 0
    settled = session.execute(_SETTLE_MESSAGES, {"ids": message_ids, "at": at}).all()
    for _campaign, status, seconds in settled:
        metrics.SUBMIT_TO_DELIVERED.labels(status).observe(float(seconds or 0))
    campaign_ids = sorted({row[0] for row in settled})
    charge_delivered(session, message_ids, at)
    if campaign_ids:
        complete_campaigns(session, campaign_ids, at)
    return len(message_ids)


# Accepted messages whose receipt is late (the status panel): their count and the oldest one's age in seconds.
_LAGGING = text("""
SELECT count(*), extract(epoch FROM now() - min(submitted_at))
FROM message
WHERE status = 'submitted' AND submitted_at < now() - make_interval(secs => :lag)
  AND campaign_id IN (SELECT id FROM campaign WHERE status NOT IN ('completed', 'draft'))
""")


def receipts_lagging(session: Session, lag: float) -> tuple[int, int]:
    """How many accepted messages of unfinished campaigns have waited more than `lag` seconds for their receipt,
    and how many seconds the oldest has."""
    count, oldest = session.execute(_LAGGING, {"lag": lag}).one()
    return int(count or 0), int(oldest or 0)


def _id_ttl() -> float:
    return max(c.receipt_id_ttl() for c in get_settings().smsc.all_connections())


def complete_campaigns(session: Session, campaign_ids: Sequence[int], at: datetime | None = None) -> None:
    session.execute(_COMPLETE_CAMPAIGNS, {"ids": list(campaign_ids), "at": at})


# ------------------------------------------------------------------ what the live campaign page shows
RATE_WINDOW = 10  # seconds over which the current sending rate is measured

_TIMINGS = text("""
WITH delivered AS (
    SELECT finished_at, row_number() OVER (ORDER BY finished_at) AS n
    FROM message WHERE campaign_id = :cid AND status = 'delivered'
)
SELECT (SELECT min(submitted_at) FROM message WHERE campaign_id = :cid),
       (SELECT max(submitted_at) FROM message WHERE campaign_id = :cid),
       (SELECT count(*) FROM message WHERE campaign_id = :cid
          AND status IN ('submitted', 'delivered', 'failed', 'expired')
          AND submitted_at > now() - make_interval(secs => :window)),
       (SELECT finished_at FROM delivered WHERE n = :n50),
       (SELECT finished_at FROM delivered WHERE n = :n95),
       now()
""")


@dataclass(frozen=True)
class DeliveryStats:
    rate: float  # messages submitted per second, over the last RATE_WINDOW seconds
    eta_seconds: float | None  # until every queued message is submitted, at that rate
    first_submitted_at: datetime | None
    last_submitted_at: datetime | None
    time_to_50: float | None  # seconds from the send until half of the messages were delivered
    time_to_95: float | None
    duration: float | None  # seconds from the send until it finished (or until now)


def delivery_stats(
    session: Session, campaign_id: int, sent_at: datetime | None, completed_at: datetime | None, total: int, unsent: int
) -> DeliveryStats:
    first, last, recent, t50, t95, now = session.execute(
        _TIMINGS,
        {
            "cid": campaign_id,
            "window": RATE_WINDOW,
            "n50": max(math.ceil(total * 0.5), 1),
            "n95": max(math.ceil(total * 0.95), 1),
        },
    ).one()
    rate = recent / RATE_WINDOW if not completed_at else 0.0
    sent_at = sent_at or first  # campaigns written straight into the database (tests, imports) have no send time

    def since_send(moment: datetime | None) -> float | None:
        return round((moment - sent_at).total_seconds(), 3) if moment and sent_at else None

    return DeliveryStats(
        rate=rate,
        eta_seconds=round(unsent / rate, 1) if unsent and rate else None,
        first_submitted_at=first,
        last_submitted_at=last,
        time_to_50=since_send(t50),
        time_to_95=since_send(t95),
        duration=since_send(completed_at or now),
    )
