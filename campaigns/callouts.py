"""Call-outs (issue 20): a text to groups of people who are not residents — the crisis-management team, the
services, the media — sent at alert priority, with or without acknowledgement.

The rules, all here (the clock that escalates is campaigns.escalation):
- A call-out goes to one or more live groups (campaigns.groups); a person in several of them is messaged once
  and counts in each (CalloutMember.group_ids). Its SMS are the messages of a carrier campaign of kind `callout`:
  the campaigns' sending (alert queue: it pre-empts info campaigns and never waits for quiet hours), receipts,
  retries and the ledger (kind `internal`, billing.ledger) — nothing of it is written twice. The carrier is never
  listed, approved or published as a campaign.
- With acknowledgement the SMS ends with the reply instruction (ACK_LINES). A reply from a member's phone while
  the call-out is open and its window (`reply_minutes` from the send) lasts is an answer: confirmed (1, OK, TAK,
  POTWIERDZAM, JESTEM …) or declined (2, NIE …), with case, diacritics and one slip of the thumb tolerated
  (subscribers.keywords' folding). A phone in two open call-outs answers the one that messaged it last. Anything
  else from that phone is kept as its reply text and answered once with the instruction; a phone in no open
  call-out goes on to the residents' keywords (subscribers.jobs.INBOUND_BRANCHES, this branch first).
- A member's state on the board is derived (member_state): confirmed / declined (their answer), escalated (no
  answer by the deadline, or declined: a deputy was messaged), no_answer (nobody left to escalate to, or the
  window ended), delivered / sent (their SMS's receipt).
- A group's confirmations count its members' and their deputies' "confirmed" answers; `needed` is the group's own
  number, else all its members.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from campaigns import composition
from campaigns.dispatch import enqueue_queued
from campaigns.exceptions import CalloutNotFound, CalloutStateError, InvalidCallout
from campaigns.models import (
    Callout,
    CalloutGroup,
    CalloutMember,
    CalloutStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    ContactGroup,
    GroupKind,
    Severity,
)
from subscribers.keywords import TYPO_MIN_LENGTH, TYPO_MIN_RATIO, Command, Keyword, fold_word, typo_closeness
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow
from syrena_core.text import check_characters

CONFIRMED = "confirmed"
DECLINED = "declined"

ESCALATE_MIN_S, ESCALATE_MAX_S, ESCALATE_DEFAULT_S = 30, 24 * 3600, 300
REPLY_MIN_MINUTES, REPLY_MAX_MINUTES, REPLY_DEFAULT_MINUTES = 5, 7 * 24 * 60, 120
BODY_LIMIT = 600  # characters: with the reply instruction at most 5 parts in GSM 7-bit, 10 in UCS-2
MAX_GROUPS = 50
MAX_DEPTH = 3  # a member's deputy (1), the deputy's deputy (2), and theirs (3)

# The reply instruction an acknowledged call-out's SMS ends with. Written with Polish letters; when the body is
# GSM 7-bit it is folded to ASCII ("moge"), so the instruction alone never makes the SMS UCS-2 (half the
# characters per part).
ACK_LINE = "Odpisz 1 = potwierdzam, 2 = nie mogę"

# What a reply's first word may be. Folded like the residents' keywords (lower case, no diacritics, Cyrillic
# lookalikes); words of TYPO_MIN_LENGTH letters or more also match with one slip of the thumb.
CONFIRM_WORDS = ("ok", "okej", "tak", "potwierdzam", "potwierdzone", "jestem", "jade", "yes", "confirm", "так", "буду")
DECLINE_WORDS = ("nie", "no", "niemoge", "odmawiam", "ні", "не")
_DIGIT = re.compile(r"^\s*([12])(?!\d)")


def _folded(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(fold_word(w) for w in words)


_CONFIRM = _folded(CONFIRM_WORDS)
_DECLINE = _folded(DECLINE_WORDS)


def recognise(reply: str | None) -> str | None:
    """CONFIRMED, DECLINED or None for a reply's text: its first word decides ("TAK, będę za 20 min" confirms,
    "Nie mogę, jestem w Gdańsku" declines); a tie between the two lists is no answer."""
    if not reply:
        return None
    digit = _DIGIT.match(reply)
    if digit:
        return CONFIRMED if digit.group(1) == "1" else DECLINED
    words = reply.split()
    if not words:
        return None
    first = fold_word(words[0])
    if len(words) > 1 and first == fold_word("nie") and fold_word(words[1]).startswith("moge"):
        return DECLINED
    if not first:
        return None
    if first in _CONFIRM:
        return CONFIRMED
    if first in _DECLINE:
        return DECLINED
    if len(first) < TYPO_MIN_LENGTH:
        return None
    confirm = max((typo_closeness(first, w) for w in _CONFIRM if len(w) >= TYPO_MIN_LENGTH), default=0.0)
    decline = max((typo_closeness(first, w) for w in _DECLINE if len(w) >= TYPO_MIN_LENGTH), default=0.0)
    if max(confirm, decline) < TYPO_MIN_RATIO or confirm == decline:
        return None
    return CONFIRMED if confirm > decline else DECLINED


def ack_line(body: str) -> str:
    """The instruction as the SMS carries it: folded to GSM 7-bit unless the body is UCS-2 anyway."""
    if composition.analyse(body).encoding == "gsm7":
        return composition.transliterate(ACK_LINE)
    return ACK_LINE


def sms_text(body: str, ack: bool) -> str:
    """The one text every member, deputy and resend of a call-out gets."""
    return f"{body}\n{ack_line(body)}" if ack else body


# ------------------------------------------------------------------ the request


_FIELDS = {"group_ids", "body", "ack", "escalate_after_s", "reply_minutes"}


def _whole(data: dict[str, Any], key: str, default: int, low: int, high: int, unit: str) -> int:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidCallout(f"{key} must be a whole number of {unit} from {low} to {high}")
    return value


def _groups(session: Session, raw: Any) -> list[ContactGroup]:
    if not isinstance(raw, list) or not raw:
        raise InvalidCallout("group_ids must be a list of the ids of the groups to call out, at least one")
    if len(raw) > MAX_GROUPS:
        raise InvalidCallout(f"a call-out goes to at most {MAX_GROUPS} groups")
    found: list[ContactGroup] = []
    for n, group_id in enumerate(raw):
        if isinstance(group_id, bool) or not isinstance(group_id, int):
            raise InvalidCallout(f"group_ids[{n}] must be a group's id (a whole number)")
        group = session.get(ContactGroup, group_id) if 0 < group_id < 2**31 else None
        if group is None:
            raise InvalidCallout(f"group_ids[{n}]: no group with id {group_id}")
        if group.deleted_at is not None:
            raise InvalidCallout(f"group_ids[{n}]: group {group.name!r} has been deleted: choose a live group")
        if not group.members:
            raise InvalidCallout(f"group_ids[{n}]: group {group.name!r} has no members: add them first")
        if group not in found:
            found.append(group)
    return found


@dataclass(frozen=True)
class Request:
    groups: list[ContactGroup]
    body: str
    ack: bool
    escalate_after_s: int
    reply_minutes: int


def check_request(session: Session, data: Any, body_limit: int = BODY_LIMIT) -> Request:
    """The call-out request checked whole (422 naming the first problem; nothing is written before)."""
    if not isinstance(data, dict):
        raise InvalidCallout(
            'a call-out is an object {"group_ids", "body", "ack", "escalate_after_s", "reply_minutes"}'
        )
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidCallout(f"unknown field(s): {', '.join(map(str, unknown))}")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise InvalidCallout("body: write the text of the call-out")
    body = body.strip()
    if len(body) > body_limit:
        raise InvalidCallout(f"body: at most {body_limit} characters (it has {len(body)})")
    check_characters(body, "body", InvalidCallout)
    ack = data.get("ack", True)
    if not isinstance(ack, bool):
        raise InvalidCallout("ack must be true (members confirm by SMS) or false")
    return Request(
        groups=_groups(session, data.get("group_ids")),
        body=body,
        ack=ack,
        escalate_after_s=_whole(
            data, "escalate_after_s", ESCALATE_DEFAULT_S, ESCALATE_MIN_S, ESCALATE_MAX_S, "seconds"
        ),
        reply_minutes=_whole(
            data, "reply_minutes", REPLY_DEFAULT_MINUTES, REPLY_MIN_MINUTES, REPLY_MAX_MINUTES, "minutes"
        ),
    )


# ------------------------------------------------------------------ sending


# A call-out's recipients as messages of its carrier campaign: one per person, in the order they were listed
# (no subscriber: subscriber_id NULL, language NULL = the body). Ids come back so the members can point at theirs.
_WRITE_MESSAGES = text("""
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, language)
SELECT :cid, NULL, p.phone, 'queued', 0, now(), NULL
FROM unnest(CAST(:phones AS text[])) WITH ORDINALITY AS p(phone, n)
ORDER BY p.n
RETURNING id, phone
""")


def write_messages(session: Session, campaign_id: int, phones: Sequence[str]) -> dict[str, int]:
    """Queue one SMS to each phone in the carrier campaign; returns message ids by phone."""
    if not phones:
        return {}
    return {phone: mid for mid, phone in session.execute(_WRITE_MESSAGES, {"cid": campaign_id, "phones": list(phones)})}


# Again sending: a completed carrier is reopened when a deputy or a resend adds messages to it (like
# campaigns.control.resend_failed); the job that completes campaigns sees the new queued rows and leaves it so.
_REOPEN = text("""
UPDATE campaign SET status = 'sending', completed_at = NULL WHERE id = :cid AND status = 'completed'
""")


def reopen(session: Session, campaign_id: int) -> None:
    session.execute(_REOPEN, {"cid": campaign_id})


def _carrier(body: str, ack: bool, actor: User | None, now: datetime) -> Campaign:
    message = sms_text(body, ack)
    analysis = composition.analyse(message)
    return Campaign(
        kind=CampaignKind.CALLOUT.value,
        severity=Severity.SEVERE.value,
        title=(body.splitlines()[0][:100] if body else None),
        body=message,
        status=CampaignStatus.SENDING.value,
        author_id=actor.id if actor else None,
        created_at=now,
        sent_at=now,
        encoding=analysis.encoding,
        parts_per_message=analysis.parts,
        department=None,
    )


def create(
    session: Session,
    actor: User | None,
    data: Any,
    media_of: Campaign | None = None,
    now: datetime | None = None,
    body_limit: int = BODY_LIMIT,
) -> Callout:
    """Check the request, write the call-out, its carrier campaign (sending at once: no approval — it reaches
    staff, not residents) and one queued SMS per person; audited. The caller commits, then enqueues
    (enqueue_new)."""
    request = check_request(session, data, body_limit)
    now = now or utcnow()
    campaign = _carrier(request.body, request.ack, actor, now)
    session.add(campaign)
    session.flush()
    callout = Callout(
        campaign_id=campaign.id,
        body=request.body,
        ack=request.ack,
        escalate_after_s=request.escalate_after_s,
        reply_minutes=request.reply_minutes,
        status=CalloutStatus.OPEN.value,
        created_by=actor.id if actor else None,
        created_at=now,
        replies_until=now + timedelta(minutes=request.reply_minutes),
        media_of_id=media_of.id if media_of is not None else None,
    )
    session.add(callout)
    session.flush()
    people: dict[str, CalloutMember] = {}
    for position, group in enumerate(request.groups):
        phones = {m.phone for m in group.members}
        session.add(
            CalloutGroup(
                callout_id=callout.id,
                group_id=group.id,
                position=position,
                name=group.name,
                kind=group.kind,
                needed=min(group.needed or len(phones), len(phones)),
            )
        )
        for member in group.members:
            person = people.get(member.phone)
            if person is not None:
                if group.id not in person.group_ids:
                    person.group_ids = [*person.group_ids, group.id]
                continue
            people[member.phone] = CalloutMember(
                callout_id=callout.id,
                group_ids=[group.id],
                name=member.name,
                phone=member.phone,
                function=member.function,
                position=len(people),
                depth=0,
            )
    ids = write_messages(session, campaign.id, list(people))
    for phone, person in people.items():
        person.message_id = ids[phone]
    session.add_all(people.values())
    campaign.recipients = len(people)
    session.flush()
    record(
        session,
        "callout.create",
        actor,
        "callout",
        callout.id,
        {
            "groups": [g.id for g in request.groups],
            "members": len(people),
            "ack": request.ack,
            "escalate_after_s": request.escalate_after_s,
            "reply_minutes": request.reply_minutes,
            "media_of": callout.media_of_id,
        },
    )
    return callout


# ------------------------------------------------------------------ also to the media

MEDIA_HEADER = "Komunikat dla mediów – alert Syrena"
MEDIA_BODY_LIMIT = 2000  # the alert's public text is as long as its author made it (its own max_parts)


def media_text(campaign: Campaign, public_url: str) -> str:
    """The alert's public text (its Polish body, without any question's answer lines: what /alerts shows) under a
    short header, with the links to the public page and the CAP document."""
    base = public_url.rstrip("/")
    name = campaign.title or campaign.event or f"nr {campaign.id}"
    return f"{MEDIA_HEADER} ({name}):\n{campaign.body}\n{base}/alerts\nCAP: {base}/alerts/{campaign.id}.xml"


def copy_to_media(session: Session, actor: User | None, campaign: Campaign, group_ids: Any, public_url: str) -> Callout:
    """ "Also to the media": a sent, real alert's public text to media groups, as a call-out without
    acknowledgement (charged as internal). Only groups of kind media; an exercise, a draft or an info message is
    refused (it is not public)."""
    if campaign.kind != CampaignKind.ALERT.value or campaign.cap_status != "actual":
        raise InvalidCallout("only a real alert is public and can go to the media (not an info message or an exercise)")
    if campaign.sent_at is None or campaign.status == CampaignStatus.CANCELLED.value:
        raise CalloutStateError("the alert has not been sent: the media get what the residents got, once it is sent")
    request_groups = _groups(session, group_ids)
    wrong = [g.name for g in request_groups if g.kind != GroupKind.MEDIA.value]
    if wrong:
        raise InvalidCallout(f"group_ids: {', '.join(wrong)} is not a media group; the media copy goes to media groups")
    return create(
        session,
        actor,
        {"group_ids": [g.id for g in request_groups], "body": media_text(campaign, public_url), "ack": False},
        media_of=campaign,
        body_limit=MEDIA_BODY_LIMIT,
    )


def media_copies(session: Session, campaign_id: int) -> Sequence[Callout]:
    return session.scalars(select(Callout).where(Callout.media_of_id == campaign_id).order_by(Callout.created_at)).all()


def enqueue_new(session: Session, campaign_id: int, chunk_size: int, after_id: int = 0) -> int:
    """After the commit: the carrier's queued messages (ids above `after_id`) to the alert queue."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    session.refresh(campaign)
    return enqueue_queued(session, campaign, chunk_size, after_id=after_id)


def get(session: Session, callout_id: Any, lock: bool = False) -> Callout:
    valid = isinstance(callout_id, int) and not isinstance(callout_id, bool) and 0 < callout_id < 2**31
    query = select(Callout).where(Callout.id == callout_id)
    if lock:
        query = query.with_for_update()
    found = session.scalar(query) if valid else None
    if found is None:
        raise CalloutNotFound(f"no call-out with id {callout_id!r}")
    return found


def list_recent(session: Session, limit: int = 100) -> Sequence[Callout]:
    return session.scalars(select(Callout).order_by(Callout.created_at.desc(), Callout.id.desc()).limit(limit)).all()


# The silent: members and deputies without an answer, whose SMS is not on its way already. Their messages are
# sent again, as a new round (charged again: billing's key is the message and its round).
_RESEND = text("""
WITH silent AS (
    UPDATE message m SET status = 'queued', attempts = 0, send_round = send_round + 1, error = NULL,
                         retry_at = NULL, claimed_by = NULL, finished_at = NULL, submitted_at = NULL,
                         possible_duplicate = false, queued_at = now()
    FROM callout_member c
    WHERE c.callout_id = :callout_id AND c.answer IS NULL AND m.id = c.message_id
      AND m.status NOT IN ('queued', 'submitting')
    RETURNING m.id
), superseded AS (
    UPDATE message_part p SET status = 'superseded' FROM silent WHERE p.message_id = silent.id
)
SELECT id FROM silent
""")


def resend_silent(session: Session, callout: Callout, actor: User | None) -> list[int]:
    """The call-out again to everyone who has not answered; returns their message ids (enqueue after the
    commit). Their escalation deadline counts from the new SMS."""
    if callout.status != CalloutStatus.OPEN.value:
        raise CalloutStateError("the call-out is closed: start a new one")
    ids = sorted(session.scalars(_RESEND, {"callout_id": callout.id}).all())
    if not ids:
        raise CalloutStateError("nobody to resend to: everyone has answered or their SMS is still being sent")
    reopen(session, callout.campaign_id)
    record(session, "callout.resend", actor, "callout", callout.id, {"messages": len(ids)})
    return ids


_CLOSE_SILENT = text("""
UPDATE callout_member SET no_answer_at = :now
WHERE callout_id = :callout_id AND answer IS NULL AND escalated_at IS NULL AND no_answer_at IS NULL
""")


def close(session: Session, callout: Callout, actor: User | None, now: datetime | None = None) -> None:
    """No more answers and no more escalation; the silent become "no answer". SMS already queued still go."""
    if callout.status != CalloutStatus.OPEN.value:
        raise CalloutStateError("the call-out is closed already")
    now = now or utcnow()
    callout.status = CalloutStatus.CLOSED.value
    callout.closed_at = now
    callout.closed_by = actor.id if actor else None
    if callout.ack:  # without acknowledgement nobody was asked to answer
        session.execute(_CLOSE_SILENT, {"callout_id": callout.id, "now": now})
    record(session, "callout.close", actor, "callout", callout.id)


# ------------------------------------------------------------------ what the board shows


_MEMBERS = text("""
SELECT c.callout_id, c.id, c.group_ids, c.name, c.phone, c.function, c.depth, c.deputy_for_id, d.phone AS deputy_for,
       c.answer, c.answered_at, c.reply_text, c.replied_at, c.escalated_at, c.escalated_to, c.no_answer_at,
       m.status AS message_status, m.submitted_at, m.finished_at, m.error, m.send_round
FROM callout_member c
LEFT JOIN callout_member d ON d.id = c.deputy_for_id
LEFT JOIN message m ON m.id = c.message_id
WHERE c.callout_id = ANY(:callout_ids)
ORDER BY c.callout_id, c.position, c.depth, c.id
""")


def member_state(row: Any) -> str:
    """sent | delivered | confirmed | declined | escalated | no_answer (see the module's docstring)."""
    if row.answer == CONFIRMED:
        return "confirmed"
    if row.answer == DECLINED:
        return "declined"
    if row.escalated_at is not None:
        return "escalated"
    if row.no_answer_at is not None:
        return "no_answer"
    if row.message_status == "delivered":
        return "delivered"
    return "sent"


def _email(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.email if user is not None else None


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class GroupCount:
    id: int
    name: str
    kind: str
    needed: int
    confirmed: int
    declined: int
    possible: int  # confirmations still possible: confirmed, and those who may still answer
    members: int
    unreachable_at: datetime | None
    needed_at: datetime | None  # when its confirmations reached `needed` (the needed-th confirmation's time)

    @property
    def unreachable(self) -> bool:
        return self.possible < self.needed


def confirmation_times(rows: Sequence[Any]) -> list[datetime]:
    """When the confirmations among `rows` came, earliest first."""
    return sorted(r.answered_at for r in rows if r.answer == CONFIRMED and r.answered_at)


def boards(session: Session, listed: Sequence[Callout]) -> dict[int, tuple[list[Any], list[GroupCount]]]:
    """board() of each of these call-outs, their people read in one query (a list page shows many)."""
    people: dict[int, list[Any]] = {c.id: [] for c in listed}
    if listed:
        for row in session.execute(_MEMBERS, {"callout_ids": list(people)}):
            people[row.callout_id].append(row)
    return {c.id: (people[c.id], _counts(c, people[c.id])) for c in listed}


def board(session: Session, callout: Callout) -> tuple[list[Any], list[GroupCount]]:
    """Every person reached (members, then their deputies) and each group's counts."""
    return boards(session, [callout])[callout.id]


def _counts(callout: Callout, rows: list[Any]) -> list[GroupCount]:
    counts = []
    for g in callout.groups:
        mine = [r for r in rows if g.group_id in r.group_ids]
        confirmed_at = confirmation_times(mine)
        counts.append(
            GroupCount(
                id=g.group_id,
                name=g.name,
                kind=g.kind,
                needed=g.needed,
                confirmed=sum(1 for r in mine if r.answer == CONFIRMED),
                declined=sum(1 for r in mine if r.answer == DECLINED),
                possible=sum(1 for r in mine if may_still_confirm(r)),
                members=sum(1 for r in mine if r.depth == 0),
                unreachable_at=g.unreachable_at,
                needed_at=confirmed_at[g.needed - 1] if 0 < g.needed <= len(confirmed_at) else None,
            )
        )
    return counts


def may_still_confirm(row: Any) -> bool:
    """Counts towards what a group can still reach: confirmed, or may still answer (not declined, not handed on
    to a deputy, not given up on). The same rule in SQL: OPEN_GROUP_COUNTS."""
    return row.answer == CONFIRMED or (row.answer is None and row.escalated_at is None and row.no_answer_at is None)


def callout_json(
    session: Session, callout: Callout, read: tuple[list[Any], list[GroupCount]] | None = None
) -> dict[str, Any]:
    """The board as the API answers it; `read`: its board() when already read (a list, by boards())."""
    rows, counts = read or board(session, callout)
    campaign = callout.campaign
    confirmations = confirmation_times(rows)
    submits = sorted(r.submitted_at for r in rows if r.submitted_at)
    return {
        "id": callout.id,
        "status": callout.status,
        "body": callout.body,
        "text": campaign.body,
        "ack": callout.ack,
        "escalate_after_s": callout.escalate_after_s,
        "reply_minutes": callout.reply_minutes,
        "created_at": _at(callout.created_at),
        "created_by": callout.author.email if callout.author else None,
        "replies_until": _at(callout.replies_until),
        "closed_at": _at(callout.closed_at),
        "closed_by": _email(session, callout.closed_by),
        "media_of": callout.media_of_id,
        "campaign_id": callout.campaign_id,
        "parts": campaign.parts_per_message,
        "encoding": campaign.encoding,
        "unreachable": any(c.unreachable for c in counts) if callout.ack else False,
        "members": [
            {
                "name": r.name,
                "phone": r.phone,
                "function": r.function,
                "group_id": r.group_ids[0],
                "group_ids": list(r.group_ids),
                "depth": r.depth,
                "deputy_for": r.deputy_for,
                "state": member_state(r),
                "delivery": r.message_status,
                "submitted_at": _at(r.submitted_at),
                "confirmed_at": _at(r.answered_at) if r.answer == CONFIRMED else None,
                "declined_at": _at(r.answered_at) if r.answer == DECLINED else None,
                "reply_text": r.reply_text,
                "escalated_to": r.escalated_to,
                "escalated_at": _at(r.escalated_at),
            }
            for r in rows
        ],
        "groups": [
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "members": c.members,
                "confirmed": c.confirmed,
                "declined": c.declined,
                "needed": c.needed,
                "possible": c.possible,
                "unreachable": c.unreachable if callout.ack else False,
                "unreachable_at": _at(c.unreachable_at),
                "needed_at": _at(c.needed_at),
            }
            for c in counts
        ],
        "first_confirmation_at": _at(confirmations[0]) if confirmations else None,
        "last_confirmation_at": _at(confirmations[-1]) if confirmations else None,
        # The call-out's timeline (issue 16's report, for a call-out): sent → its first SMS at the SMSC → the
        # first and the last confirmation (each group's `needed_at` beside it). A resend's SMS count from anew.
        "timeline": {
            "sent_at": _at(callout.created_at),
            "first_submit_at": _at(submits[0]) if submits else None,
            "first_confirmation_at": _at(confirmations[0]) if confirmations else None,
            "last_confirmation_at": _at(confirmations[-1]) if confirmations else None,
            "closed_at": _at(callout.closed_at),
        },
    }


# Groups of open call-outs that can no longer reach their needed confirmations (the dashboard's red banners): the
# clock (campaigns.escalation) stamps unreachable_at once, when it happens. A group that got its confirmations after
# all (a decline turned into a confirmation) is no longer shown. Counted like board() (may_still_confirm); few rows:
# open call-outs are a handful and callout.status is indexed.
# Each group of the open, acknowledged call-outs with its confirmations and the confirmations still possible
# (may_still_confirm's rule, in SQL): the clock marks the unreachable ones from it (campaigns.escalation), the
# dashboard lists them from it (unreachable_open).
OPEN_GROUP_COUNTS = """
SELECT g.callout_id, g.group_id, g.name, g.needed, g.position, g.unreachable_at, c.created_at,
       count(m.id) FILTER (WHERE m.answer = 'confirmed') AS confirmed,
       count(m.id) FILTER (WHERE m.answer = 'confirmed'
                          OR (m.answer IS NULL AND m.escalated_at IS NULL AND m.no_answer_at IS NULL)) AS possible
FROM callout c
JOIN callout_group g ON g.callout_id = c.id
LEFT JOIN callout_member m ON m.callout_id = c.id AND g.group_id = ANY(m.group_ids)
WHERE c.status = 'open' AND c.ack
GROUP BY g.callout_id, g.group_id, c.id
"""

_UNREACHABLE_OPEN = text(f"""
SELECT callout_id, group_id, name, needed, unreachable_at, confirmed, possible
FROM ({OPEN_GROUP_COUNTS}) counts
WHERE unreachable_at IS NOT NULL AND confirmed < needed
ORDER BY created_at DESC, callout_id DESC, position
""")


@dataclass(frozen=True)
class UnreachableGroup:
    callout_id: int
    group_id: int
    name: str
    needed: int
    confirmed: int
    possible: int
    unreachable_at: datetime


def unreachable_open(session: Session) -> list[UnreachableGroup]:
    """Each group of an open, acknowledged call-out that cannot reach its needed confirmations, newest call-out
    first."""
    return [UnreachableGroup(**row._mapping) for row in session.execute(_UNREACHABLE_OPEN)]


# ------------------------------------------------------------------ replies (MO)


# What the residents' parser calls no keyword: the call-out may take it (a bare "2" is CHOICE there).
_NOT_KEYWORDS = (Keyword.UNKNOWN, Keyword.EMPTY, Keyword.CHOICE)


@dataclass(frozen=True)
class CalloutReply:
    """An SMS taken as a reply to a call-out (subscribers.jobs sends `reply`, if any, and logs the class name)."""

    inbound_id: int
    phone: str
    reply: str | None


# Each sender's call-out: the open, acknowledged one whose window lasts that messaged the phone last.
_OPEN_FOR_SENDERS = text("""
SELECT DISTINCT ON (m.phone) m.phone, m.id, m.prompted_at
FROM callout_member m JOIN callout c ON c.id = m.callout_id
WHERE m.phone = ANY(:phones) AND c.status = 'open' AND c.ack AND c.replies_until >= :now
ORDER BY m.phone, m.id DESC
""")

_ANSWER = text("""
UPDATE callout_member SET answer = coalesce(CAST(:answer AS text), answer),
       answered_at = CASE WHEN CAST(:answer AS text) IS NULL THEN answered_at ELSE :at END,
       reply_text = :text, replied_at = :at,
       prompted_at = CASE WHEN :prompt THEN :at ELSE prompted_at END
WHERE id = :id
""")


def take_replies(
    session: Session, work: Sequence[tuple[Any, str, Command]], now: datetime
) -> tuple[list[CalloutReply], list[tuple[Any, str, Command]]]:
    """The MO branch (subscribers.jobs.INBOUND_BRANCHES): replies from phones in an open call-out recorded here,
    the rest (in order) for the next branch and the residents' keywords. A recognised answer gets no SMS back
    (the board is where it shows; staff are not charged for a receipt of their own "OK"); the first unrecognised
    reply of a member gets the instruction."""
    phones = sorted({phone for _row, phone, _command in work})
    if not phones:
        return [], list(work)
    members = {r.phone: r for r in session.execute(_OPEN_FOR_SENDERS, {"phones": phones, "now": now})}
    if not members:
        return [], list(work)
    taken: list[CalloutReply] = []
    rest = []
    prompted: set[int] = set()
    for row, phone, command in work:
        member = members.get(phone)
        if member is None:
            rest.append((row, phone, command))
            continue
        answer = recognise(row.text)
        if answer is None and command.keyword not in _NOT_KEYWORDS:
            rest.append((row, phone, command))  # STOP, ZAPISZ, ZGŁOŚ …: a resident's keyword stays one
            continue
        prompt = answer is None and member.prompted_at is None and member.id not in prompted
        if prompt:
            prompted.add(member.id)
        at = row.received_at or now
        session.execute(
            _ANSWER, {"id": member.id, "answer": answer, "at": at, "text": (row.text or "")[:2000], "prompt": prompt}
        )
        taken.append(CalloutReply(row.id, phone, ack_line("") if prompt else None))
    return taken, rest


def deputy_chain_phones(session: Session, member: CalloutMember) -> set[str]:
    """The phones on a deputy row's way back to its group member (so escalation never loops back)."""
    seen = {member.phone}
    current = member
    while current.deputy_for_id is not None:
        parent = session.get(CalloutMember, current.deputy_for_id)
        if parent is None:
            break
        seen.add(parent.phone)
        current = parent
    return seen
