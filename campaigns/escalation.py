"""The call-outs' clock (issue 20): escalation to deputies, the end of the reply window, and the duty officer's SMS
when a group can no longer reach its confirmations. Run by every worker about once a second (app/worker.py) —
no web request is needed — and safe to run anywhere at once: each step takes its rows with FOR UPDATE SKIP
LOCKED and marks them done in the same transaction, so it happens exactly once, and everything it needs is in the
database, so a restarted worker simply goes on.

The rules (campaigns.callouts has the rest):
- A member (or deputy) of an acknowledged call-out who has neither confirmed nor declined `escalate_after_s`
  after their SMS reached the SMSC — or who declined, or whose SMS failed or expired — is escalated: their deputy
  gets the same SMS and becomes a row of the call-out in the same groups (depth + 1). Who the deputy is, is the
  groups' rule (campaigns.groups.deputy_of, for the person's first target group). Up to MAX_DEPTH (3) deep;
  never back to a phone already on the way (a loop the group page refuses, but groups change). A deputy already
  reached by this call-out is named, not messaged again.
- Nobody left to escalate to: the row is "no answer" (a declined one stays "declined").
- When a group's confirmed plus still-possible answers fall below its `needed`, the group is marked unreachable
  (the dashboard's red banner) and the duty officer who sent the call-out gets one SMS, charged as internal.
- When the reply window ends the call-out closes itself; the silent become "no answer".
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from billing.ledger import accepted_charge, record_transactional_charges
from billing.models import ChargeKind
from campaigns import callouts, composition, groups
from campaigns.models import Callout, CalloutGroup, CalloutMember
from smsc_gateway.interface import OutboundSms, active_gateway
from syrena_core.config import Settings, get_settings
from syrena_core.db import session_scope, utcnow
from syrena_core.queues import TRANSACTIONAL, queue

log = logging.getLogger(__name__)

CLOCK_EVERY = 1.0  # seconds between the clock's looks: escalation fires at most about this late (goal < 5 s)
BATCH = 500  # escalations per transaction; the rest in the next look
OFFICER_JOB_TIMEOUT = 120

_ANY_OPEN = text("SELECT EXISTS (SELECT 1 FROM callout WHERE status = 'open')")

# One clock at a time across the fleet: each worker's look takes this lock for its transaction, or skips this
# second when another worker's look holds it (the row locks below would keep the steps exactly-once anyway; this
# spares N workers scanning the same rows N times a second). Whoever holds it longer pauses every clock.
CLOCK_LOCK = 7312020
_TAKE_CLOCK = text("SELECT pg_try_advisory_xact_lock(:key)")

# The window is over: closed, and who never answered an acknowledged one is "no answer" (no more escalation; a
# call-out without acknowledgement asked nobody to answer: its people keep their SMS's state).
_CLOSE_ENDED = text("""
WITH ended AS (
    UPDATE callout SET status = 'closed', closed_at = replies_until
    WHERE status = 'open' AND replies_until < :now
    RETURNING id, ack
), silent AS (
    UPDATE callout_member m SET no_answer_at = :now
    FROM ended
    WHERE m.callout_id = ended.id AND ended.ack
      AND m.answer IS NULL AND m.escalated_at IS NULL AND m.no_answer_at IS NULL
)
SELECT id FROM ended
""")

# Rows due for escalation (see the module's docstring), oldest first. The partial index
# ix_callout_member_waiting holds only rows not yet escalated or given up on; a confirmed one is never due.
_DUE = text("""
SELECT m.id
FROM callout_member m
JOIN callout c ON c.id = m.callout_id
LEFT JOIN message msg ON msg.id = m.message_id
WHERE c.status = 'open' AND c.ack AND c.replies_until >= :now
  AND m.escalated_at IS NULL AND m.no_answer_at IS NULL
  AND (m.answer = 'declined'
       OR (m.answer IS NULL
           AND (msg.status IN ('failed', 'expired', 'cancelled')
                OR msg.submitted_at + make_interval(secs => c.escalate_after_s) <= :now)))
ORDER BY m.id
LIMIT :n
FOR UPDATE OF m SKIP LOCKED
""")

# A deputy's own name and function when they are a member somewhere too (in one of the call-out's groups first).
_PERSON = text("""
SELECT p.name, p.function
FROM contact_group_member p JOIN contact_group g ON g.id = p.group_id
WHERE p.phone = :phone AND g.deleted_at IS NULL
ORDER BY array_position(CAST(:group_ids AS int[]), p.group_id) NULLS LAST, p.group_id
LIMIT 1
""")

_IN_CALLOUT = text("SELECT phone FROM callout_member WHERE callout_id = :callout_id AND phone = :phone")

# Groups that can no longer reach `needed`: confirmed plus still-possible answers below it (callouts'
# OPEN_GROUP_COUNTS, the dashboard's count too). Marked once (unreachable_at IS NULL in the UPDATE, under its row
# lock).
_UNREACHABLE = text(f"""
WITH counts AS ({callouts.OPEN_GROUP_COUNTS})
UPDATE callout_group g SET unreachable_at = :now, officer_sms = 'queued'
FROM counts
WHERE g.callout_id = counts.callout_id AND g.group_id = counts.group_id AND counts.possible < counts.needed
  AND g.unreachable_at IS NULL
RETURNING g.callout_id, g.group_id
""")


@dataclass
class Tick:
    closed: int = 0
    escalated: int = 0
    deputies: int = 0
    given_up: int = 0
    unreachable: list[tuple[int, int]] = field(default_factory=list)
    new_messages: dict[int, int] = field(default_factory=dict)  # carrier campaign → lowest new message id


def _escalate(session: Session, ids: list[int], now: datetime, tick: Tick) -> None:
    new: dict[int, list[CalloutMember]] = defaultdict(list)  # callout → deputies to message
    for member in session.query(CalloutMember).filter(CalloutMember.id.in_(ids)).order_by(CalloutMember.id):
        tick.escalated += 1
        deputy = None
        if member.depth < callouts.MAX_DEPTH:
            # The groups' rule (campaigns.groups.deputy_map): named in the person's first target group, else anywhere.
            deputy = groups.deputy_of(session, member.phone, member.group_ids[0])
        if deputy is None or deputy in callouts.deputy_chain_phones(session, member):
            member.no_answer_at = now
            tick.given_up += 1
            continue
        member.escalated_at, member.escalated_to = now, deputy
        if session.execute(_IN_CALLOUT, {"callout_id": member.callout_id, "phone": deputy}).first() is not None:
            continue  # already reached by this call-out: their own answer (and silence) count
        person = session.execute(_PERSON, {"phone": deputy, "group_ids": list(member.group_ids)}).first()
        row = CalloutMember(
            callout_id=member.callout_id,
            group_ids=list(member.group_ids),
            name=person.name if person else None,
            phone=deputy,
            function=person.function if person else None,
            position=member.position,
            depth=member.depth + 1,
            deputy_for_id=member.id,
        )
        session.add(row)
        new[member.callout_id].append(row)
    session.flush()
    for callout_id, rows in new.items():
        callout = session.get(Callout, callout_id)
        assert callout is not None
        ids_by_phone = callouts.write_messages(session, callout.campaign_id, [r.phone for r in rows])
        for r in rows:
            r.message_id = ids_by_phone[r.phone]
        callouts.reopen(session, callout.campaign_id)
        tick.deputies += len(rows)
        first = min(ids_by_phone.values())
        tick.new_messages[callout.campaign_id] = min(first, tick.new_messages.get(callout.campaign_id, first))
    session.flush()


def run_once(session: Session, now: datetime | None = None) -> Tick:
    """One look of the clock, in the caller's transaction (commit, then `after_commit`)."""
    now = now or utcnow()
    tick = Tick()
    if not session.scalar(_ANY_OPEN):
        return tick
    tick.closed = len(session.scalars(_CLOSE_ENDED, {"now": now}).all())
    due = list(session.scalars(_DUE, {"now": now, "n": BATCH}))
    if due:
        _escalate(session, due, now, tick)
    tick.unreachable = [(r.callout_id, r.group_id) for r in session.execute(_UNREACHABLE, {"now": now})]
    return tick


def after_commit(session: Session, tick: Tick, settings: Settings) -> None:
    """The deputies' SMS to the alert queue, the duty officers' SMS to the transactional one."""
    for campaign_id, first_id in tick.new_messages.items():
        callouts.enqueue_new(session, campaign_id, settings.campaigns.chunk_size, after_id=first_id - 1)
    for callout_id, group_id in tick.unreachable:
        queue(TRANSACTIONAL, settings.redis.url).enqueue(
            tell_officer,
            callout_id,
            group_id,
            job_timeout=OFFICER_JOB_TIMEOUT,
            result_ttl=600,
            failure_ttl=24 * 3600,
            description=f"call-out {callout_id}: group {group_id} cannot reach its confirmations",
        )


def tick(settings: Settings | None = None) -> Tick:
    """One look of the clock in its own transaction (what the worker runs every CLOCK_EVERY)."""
    settings = settings or get_settings()
    with session_scope(settings.database.url) as session:
        if not session.scalar(_TAKE_CLOCK, {"key": CLOCK_LOCK}):
            return Tick()
        result = run_once(session)
        session.commit()
        after_commit(session, result, settings)
    if result.escalated or result.closed or result.unreachable:
        log.info(
            "call-outs: %d escalated (%d deputies messaged, %d with nobody left), %d closed, %d groups unreachable",
            result.escalated,
            result.deputies,
            result.given_up,
            result.closed,
            len(result.unreachable),
        )
    return result


def officer_text(callout: Callout, group: CalloutGroup, confirmed: int) -> str:
    return composition.transliterate(
        f"Syrena: wezwanie nr {callout.id}, grupa {group.name}: {confirmed} z {group.needed} wymaganych potwierdzeń "
        "i nikogo więcej do powiadomienia. Sprawdź tablicę wezwania."
    )


def tell_officer(callout_id: int, group_id: int) -> str:
    """The duty officer's SMS about a group that cannot reach its confirmations: once (a redelivered job finds it
    taken), charged as internal; the group row records what happened (shown on the board)."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        group = (
            session.query(CalloutGroup)
            .filter_by(callout_id=callout_id, group_id=group_id, officer_sms="queued")
            .with_for_update(skip_locked=True)
            .first()
        )
        if group is None:
            return "taken or sent before"
        callout = session.get(Callout, callout_id)
        assert callout is not None
        phone = callout.author.phone if callout.author is not None else None
        if not phone:
            group.officer_sms = "no_phone"
            return "no_phone"
        _rows, counts = callouts.board(session, callout)
        confirmed = next((c.confirmed for c in counts if c.id == group_id), 0)
        body = officer_text(callout, group, confirmed)
        campaign_id = callout.campaign_id
        group.officer_sms = "sending"
    (result,) = active_gateway().send([OutboundSms(ref=callout_id, destination=phone, text=body)])
    with session_scope(url) as session:
        group = session.query(CalloutGroup).filter_by(callout_id=callout_id, group_id=group_id).one()
        group.officer_sms = "sent" if result.accepted else "failed"
        if result.accepted:
            # The call-out's cost includes it (its campaign id).
            record_transactional_charges(
                session, [accepted_charge(phone, result, campaign_id)], at=utcnow(), kind=ChargeKind.INTERNAL.value
            )
    if not result.accepted:
        log.warning("call-out %s: the duty officer's SMS was refused: %s", callout_id, result.error)
    return "sent" if result.accepted else "failed"
