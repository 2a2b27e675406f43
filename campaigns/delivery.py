"""Writing what the SMSC said back: submit results, then delivery receipts.

Receipts often arrive before the job that sent the message has recorded the
SMSC ids. Both sides therefore commit first and then run the same matching
statement in a fresh transaction: whichever runs last sees both rows.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import bindparam, insert, text
from sqlalchemy.orm import Session

from billing.ledger import charge_accepted, charge_delivered, message_cost, tariff_at
from campaigns.models import DeliveryReceipt as ReceiptRow
from campaigns.models import MessagePart, MessageStatus
from smsc_gateway.interface import DeliveryReceipt, SendResult
from syrena_core.config import BillingSettings
from syrena_core.db import utcnow

# Receipt states (SMPP 3.4 receipt text) → part status; intermediate states change nothing.
RECEIPT_STATES = {"DELIVRD": "delivered", "EXPIRED": "expired", "UNDELIV": "failed", "REJECTD": "failed",
                  "DELETED": "failed", "UNKNOWN": "failed"}


# One statement per chunk, not one round trip per message: the job holds the SMPP session idle meanwhile.
_MARK_SUBMITTED = text("""
UPDATE message m SET status = 'submitted', submitted_at = :now, parts = v.parts, encoding = v.encoding,
       cost = v.cost, error = v.error, smsc = v.smsc, possible_duplicate = m.possible_duplicate OR v.duplicate
FROM unnest(CAST(:ids AS bigint[]), CAST(:parts AS int[]), CAST(:encodings AS text[]), CAST(:costs AS numeric[]),
            CAST(:errors AS text[]), CAST(:smscs AS text[]), CAST(:duplicates AS boolean[]))
     AS v(id, parts, encoding, cost, error, smsc, duplicate)
WHERE m.id = v.id
""")
_MARK_REFUSED = text("""
UPDATE message m SET status = 'failed', finished_at = :now, parts = v.parts, encoding = v.encoding, error = v.error,
       smsc = v.smsc
FROM unnest(CAST(:ids AS bigint[]), CAST(:parts AS int[]), CAST(:encodings AS text[]), CAST(:errors AS text[]),
            CAST(:smscs AS text[])) AS v(id, parts, encoding, error, smsc)
WHERE m.id = v.id
""")


def record_send_results(session: Session, results: Sequence[SendResult], billing: BillingSettings) -> None:
    now = utcnow()
    tariff = tariff_at(session, now, billing)
    accepted = [r for r in results if r.accepted]
    refused = [r for r in results if not r.accepted]
    if accepted:
        session.execute(_MARK_SUBMITTED, {
            "now": now, "ids": [r.ref for r in accepted], "parts": [r.parts for r in accepted],
            "encodings": [r.encoding for r in accepted], "costs": [message_cost(tariff, r.parts) for r in accepted],
            "errors": ["possible duplicate" if r.possible_duplicate else None for r in accepted],
            "smscs": [r.smsc or None for r in accepted], "duplicates": [r.possible_duplicate for r in accepted]})
        session.connection().execute(insert(MessagePart.__table__), [
            {"message_id": r.ref, "part_no": n, "smsc": r.smsc, "smsc_message_id": smsc_id,
             "status": MessageStatus.SUBMITTED.value}
            for r in accepted for n, smsc_id in enumerate(r.smsc_message_ids, start=1)])
        charge_accepted(session, [r.ref for r in accepted], now, billing)
    if refused:
        session.execute(_MARK_REFUSED, {
            "now": now, "ids": [r.ref for r in refused], "parts": [r.parts for r in refused],
            "encodings": [r.encoding for r in refused], "errors": [r.error for r in refused],
            "smscs": [r.smsc or None for r in refused]})


def store_receipts(session: Session, receipts: Iterable[DeliveryReceipt]) -> None:
    rows = [{"smsc": r.smsc, "smsc_message_id": r.smsc_message_id, "state": r.state[:12],
             "error_code": (r.error_code or None)[:8] if r.error_code else None}
            for r in receipts]
    if rows:
        session.execute(insert(ReceiptRow), rows)


_MATCH_RECEIPTS = text("""
WITH matched AS (
    UPDATE delivery_receipt d SET matched_at = now()
    FROM message_part p
    WHERE d.matched_at IS NULL AND p.smsc_message_id = d.smsc_message_id AND p.smsc = d.smsc
    RETURNING d.smsc, d.smsc_message_id, d.state, d.error_code, d.received_at
)
UPDATE message_part p
SET status = CASE m.state WHEN 'DELIVRD' THEN 'delivered' WHEN 'EXPIRED' THEN 'expired' ELSE 'failed' END,
    receipt_at = m.received_at,
    error = CASE WHEN m.state = 'DELIVRD' THEN NULL ELSE m.state || ':' || coalesce(m.error_code, '') END
FROM matched m
WHERE p.smsc_message_id = m.smsc_message_id AND p.smsc = m.smsc AND m.state IN :final_states
RETURNING p.message_id
""").bindparams(bindparam("final_states", expanding=True))

# A message is delivered when every part is; one failed or expired part settles it.
_SETTLE_MESSAGES = text("""
UPDATE message m SET status = agg.new_status, finished_at = now(),
       error = CASE WHEN agg.new_status = 'delivered' THEN m.error ELSE agg.first_error END
FROM (SELECT message_id,
             CASE WHEN bool_and(status = 'delivered') THEN 'delivered'
                  WHEN bool_or(status = 'failed') THEN 'failed'
                  WHEN bool_or(status = 'expired') THEN 'expired' END AS new_status,
             min(error) AS first_error
      FROM message_part WHERE message_id IN :ids GROUP BY message_id) agg
WHERE m.id = agg.message_id AND agg.new_status IS NOT NULL AND m.status = 'submitted'
RETURNING m.campaign_id
""").bindparams(bindparam("ids", expanding=True))

_COMPLETE_CAMPAIGNS = text("""
UPDATE campaign c SET status = 'completed', completed_at = now()
WHERE c.id IN :ids AND c.status = 'sending'
  AND NOT EXISTS (SELECT 1 FROM message m WHERE m.campaign_id = c.id
                  AND m.status IN ('queued', 'submitting', 'submitted'))
""").bindparams(bindparam("ids", expanding=True))


# Matchers run in the receipt writer and in every job. Two of them settling different parts of one
# message at once would each miss the other's uncommitted part and leave it "submitted" for ever.
_MATCH_LOCK = text("SELECT pg_advisory_xact_lock(7312001)")


def match_receipts(session: Session) -> int:
    """Apply every stored receipt whose part is now known; returns how many messages were touched."""
    session.execute(_MATCH_LOCK)
    message_ids = sorted({row[0] for row in session.execute(
        _MATCH_RECEIPTS, {"final_states": list(RECEIPT_STATES)})})
    if not message_ids:
        return 0
    campaign_ids = sorted({row[0] for row in session.execute(_SETTLE_MESSAGES, {"ids": message_ids})})
    charge_delivered(session, message_ids)
    if campaign_ids:
        complete_campaigns(session, campaign_ids)
    return len(message_ids)


def complete_campaigns(session: Session, campaign_ids: Sequence[int]) -> None:
    session.execute(_COMPLETE_CAMPAIGNS, {"ids": list(campaign_ids)})
