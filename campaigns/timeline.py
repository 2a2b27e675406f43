"""How long each step of an alert took (issue 16): the timing report the crisis-management plan asks for after
every alert and exercise — created → submitted → approved (by whom) → sending → first submit_sm → first receipt →
50 / 90 / 100 % delivered, the failures by reason and by SMSC link, and the cost.

Percentages are of the campaign's messages (one per recipient, whatever became of it: a message cancelled or
failed counts in the denominator and never as delivered). So `delivered_100_at` stays null until every message
is delivered — a campaign with one failure never reaches 100 %, which is what the plan needs to see — and all
three are null while the recipients snapshot is still being written (the denominator is not known yet).
The n-th delivered message is the ⌈p·messages⌉-th by `finished_at` (the time its receipt said DELIVRD), the same
rule as the campaign page's "time to 50 % delivered" (campaigns.delivery._TIMINGS).

The cost is the billing ledger's (billing.reports.campaign_costs, corrections included), never recomputed here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from billing.reports import campaign_costs
from campaigns.models import Campaign, MessageStatus
from syrena_core.accounts import User

# The steps before sending began: their distance from it is not shown (the approval precedes its own send by
# milliseconds, a scheduled alert's by hours).
BEFORE_SENDING = ("created_at", "submitted_at", "approved_at")
MILESTONES = (("delivered_50_at", 0.5), ("delivered_90_at", 0.9), ("delivered_100_at", 1.0))
FAILED_STATUSES = (MessageStatus.FAILED.value, MessageStatus.EXPIRED.value)

# Every message of the campaign counted by link, status and error, in one pass over its rows (found by
# ix_message_campaign_status, whose leading column is campaign_id): the denominator, the failures by reason and
# the per-link figures all come from these few groups; so does the first delivery (see _FIRST_SUBMIT_AND_RECEIPT).
_OUTCOMES = text("""
SELECT smsc, status, error, count(*) AS n, min(finished_at) FILTER (WHERE status = 'delivered') AS first_delivered
FROM message
WHERE campaign_id = :cid
GROUP BY smsc, status, error
""")

# When the ⌈p·messages⌉-th message was delivered, for the three milestones at once: the campaign's delivered
# messages (ix_message_campaign_status: campaign_id = :cid AND status = 'delivered') numbered by finished_at in
# one sort, then the three rows picked. A window over one sort beats percentile_disc here: the percentages are of
# all messages, not of the delivered ones, so the rank is what we know, not the fraction; and three
# `ORDER BY finished_at OFFSET n LIMIT 1` would sort three times. Only finished_at is sorted (ties give the same
# answer in any order): the narrow rows sort in memory. A rank beyond the delivered count (100 % with one
# failure) finds no row: null.
_DELIVERED_AT = text("""
SELECT max(finished_at) FILTER (WHERE n = :n50),
       max(finished_at) FILTER (WHERE n = :n90),
       max(finished_at) FILTER (WHERE n = :n100)
FROM (
    SELECT finished_at, row_number() OVER (ORDER BY finished_at) AS n
    FROM message
    WHERE campaign_id = :cid AND status = 'delivered'
) AS delivered
""")

# The first submit_sm and the first receipt of the campaign, from the parts (each part has its own submit_sm
# and its own receipt; message.finished_at of a long message is its last part's receipt). All the campaign's
# parts would be 200,000 index probes for 100,000 two-part messages (~200 ms; a hash join reads the whole
# message_part table): only the messages recorded as submitted by :until are looked at. The first receipt came
# no later than the first delivered message finished (its parts' receipts came before it settled), and a
# part is recorded within moments of its acceptance, which precedes its receipt: :until is that first delivery
# plus RECORDING_SLACK, which leaves a few thousand probes at most (~5 ms). Before any delivery :until is
# open-ended (messages still queued have no submitted_at and are skipped). Left open: a message resent to the
# failed is recorded again later, so its first attempt's parts (superseded) count only if the resend came
# before :until. The aggregate in the LATERAL keeps the planner from a hash join over all of message_part (it
# cannot see :until's few messages in its row estimate): one ix_message_part_message_id probe per message.
_FIRST_SUBMIT_AND_RECEIPT = text("""
SELECT min(p.submitted_at), min(p.receipt_at)
FROM message m
CROSS JOIN LATERAL (
    SELECT min(submitted_at) AS submitted_at, min(receipt_at) AS receipt_at
    FROM message_part WHERE message_id = m.id
) AS p
WHERE m.campaign_id = :cid AND m.submitted_at <= :until
""")
RECORDING_SLACK = timedelta(seconds=10)  # accepted by the SMSC → recorded as submitted (a batch's round trip)
OPEN_END = datetime.max.replace(tzinfo=UTC)

# The campaigns a month's list holds: those whose sending began in the month (a draft never sent has no timings).
# THE one place that chooses them — the campaign mode of issue 16 (actual / exercise / test) is filtered here,
# e.g. `AND mode = :mode`, and month_timelines passes it on; nothing else needs to change.
# Real alerts and exercises/tests apart (issue 16: an exercise is never counted with the real ones).
_MONTH_CAMPAIGNS = text("""
SELECT id
FROM campaign
WHERE sent_at >= :start AND sent_at < :end AND (cap_status <> 'actual') = :exercises
  AND kind <> 'callout'  -- call-outs' timings are on their own board (campaigns.callouts)
ORDER BY sent_at, id
""")


@dataclass(frozen=True)
class Approval:
    user_id: int | None
    email: str | None
    override: bool  # the emergency override: approved by the sender alone (audited as campaign.override)


@dataclass(frozen=True)
class LinkFigures:
    """What one SMSC connection (message.smsc) did with the campaign's messages it took."""

    messages: int = 0
    delivered: int = 0
    failed: int = 0  # failed or expired
    failures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    campaign_id: int
    title: str | None
    kind: str
    status: str
    created_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    approval: Approval | None
    sent_at: datetime | None  # when sending began: the approval's send, the operator's, or the schedule's
    first_submit_at: datetime | None
    first_receipt_at: datetime | None
    delivered_50_at: datetime | None
    delivered_90_at: datetime | None
    delivered_100_at: datetime | None
    messages: int
    delivered: int
    failures: dict[str, int]  # reason (message.error, else its status) → messages; failed and expired only
    by_link: dict[str, LinkFigures]
    cost: Decimal

    def steps(self) -> list[tuple[str, datetime | None]]:
        """The steps in order, each with when it happened (None: not yet, or never)."""
        return [
            ("created_at", self.created_at),
            ("submitted_at", self.submitted_at),
            ("approved_at", self.approved_at),
            ("sent_at", self.sent_at),
            ("first_submit_at", self.first_submit_at),
            ("first_receipt_at", self.first_receipt_at),
            ("delivered_50_at", self.delivered_50_at),
            ("delivered_90_at", self.delivered_90_at),
            ("delivered_100_at", self.delivered_100_at),
        ]

    @property
    def to_approve(self) -> float | None:
        """Seconds the alert waited for its second person (submitted → approved)."""
        return seconds_between(self.submitted_at, self.approved_at)

    @property
    def to_first_submit(self) -> float | None:
        """Seconds from the order to send until the first SMS went to the SMSC."""
        return seconds_between(self.sent_at, self.first_submit_at)

    @property
    def to_90(self) -> float | None:
        """Seconds from the order to send until 90 % of the messages were delivered."""
        return seconds_between(self.sent_at, self.delivered_90_at)


def clock(seconds: float) -> str:
    """A step's distance from another as a clock reads it: "+0:42" (m:ss), "+1:05:09" (h:mm:ss); "−" before."""
    whole = round(seconds)
    sign = "-" if whole < 0 else "+"  # an approval milliseconds before its send reads "+0:00", not "-0:00"
    minutes, secs = divmod(abs(whole), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}:{minutes:02}:{secs:02}" if hours else f"{sign}{minutes}:{secs:02}"


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def milestone_ranks(messages: int) -> dict[str, int]:
    """The rank of the delivered message that marks each milestone: ⌈p · messages⌉ (at least 1)."""
    return {name: max(math.ceil(messages * share), 1) for name, share in MILESTONES}


@dataclass(frozen=True)
class _Outcomes:
    messages: int
    delivered: int
    failures: dict[str, int]
    by_link: dict[str, LinkFigures]
    first_delivered_at: datetime | None


def _outcomes(session: Session, campaign_id: int) -> _Outcomes:
    messages = delivered = 0
    first_delivered: list[datetime] = []
    failures: dict[str, int] = {}
    links: dict[str, dict[str, Any]] = {}
    for smsc, status, error, n, first in session.execute(_OUTCOMES, {"cid": campaign_id}).all():
        messages += n
        if first is not None:
            first_delivered.append(first)
        failed = status in FAILED_STATUSES
        reason = error or status
        if status == MessageStatus.DELIVERED.value:
            delivered += n
        if failed:
            failures[reason] = failures.get(reason, 0) + n
        if smsc:  # messages no link took (still queued, cancelled before sending) belong to no link
            link = links.setdefault(smsc, {"messages": 0, "delivered": 0, "failed": 0, "failures": {}})
            link["messages"] += n
            if status == MessageStatus.DELIVERED.value:
                link["delivered"] += n
            if failed:
                link["failed"] += n
                link["failures"][reason] = link["failures"].get(reason, 0) + n
    by_link = {name: LinkFigures(**figures) for name, figures in sorted(links.items())}
    failures = dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0])))  # the commonest reason first
    return _Outcomes(messages, delivered, failures, by_link, min(first_delivered, default=None))


def campaign_timeline(session: Session, campaign: Campaign) -> Timeline:
    """The campaign's timing report as it stands now (a step not reached yet is None)."""
    outcomes = _outcomes(session, campaign.id)
    messages = outcomes.messages
    reached: dict[str, datetime | None] = {name: None for name, _share in MILESTONES}
    if messages and outcomes.delivered and not campaign.snapshot_pending:
        ranks = milestone_ranks(messages)
        row = session.execute(
            _DELIVERED_AT,
            {"cid": campaign.id, "n50": ranks["delivered_50_at"], "n90": ranks["delivered_90_at"], "n100": messages},
        ).one()
        reached = dict(zip(reached, row, strict=True))
    first_submit = first_receipt = None
    if messages:
        first = outcomes.first_delivered_at
        until = first + RECORDING_SLACK if first else OPEN_END
        first_submit, first_receipt = session.execute(
            _FIRST_SUBMIT_AND_RECEIPT, {"cid": campaign.id, "until": until}
        ).one()
    approval = None
    if campaign.approved_at is not None:
        approver = session.get(User, campaign.approver_id) if campaign.approver_id is not None else None
        approval = Approval(
            user_id=campaign.approver_id,
            email=approver.email if approver else None,
            override=campaign.override_reason is not None,
        )
    return Timeline(
        campaign_id=campaign.id,
        title=campaign.title,
        kind=campaign.kind,
        status=campaign.status,
        created_at=campaign.created_at,
        submitted_at=campaign.submitted_at,
        approved_at=campaign.approved_at,
        approval=approval,
        sent_at=campaign.sent_at,
        first_submit_at=first_submit,
        first_receipt_at=first_receipt,
        delivered_50_at=reached["delivered_50_at"],
        delivered_90_at=reached["delivered_90_at"],
        delivered_100_at=reached["delivered_100_at"],
        messages=messages,
        delivered=outcomes.delivered,
        failures=outcomes.failures,
        by_link=outcomes.by_link,
        cost=campaign_costs(session, [campaign.id])[campaign.id],
    )


# ------------------------------------------------------------------------------------------- a month's list
@dataclass(frozen=True)
class Spread:
    """The median and the worst (longest) of one duration over a month's alerts; None when none had it."""

    median: float | None
    worst: float | None
    worst_campaign_id: int | None


@dataclass(frozen=True)
class MonthTimelines:
    timelines: list[Timeline]
    to_approve: Spread
    to_first_submit: Spread
    to_90: Spread


MONTH_MEASURES = ("to_approve", "to_first_submit", "to_90")


def _spread(timelines: Sequence[Timeline], measure: str) -> Spread:
    values = [(getattr(t, measure), t.campaign_id) for t in timelines if getattr(t, measure) is not None]
    if not values:
        return Spread(None, None, None)
    worst, worst_id = max(values, key=lambda v: (v[0], -v[1]))
    return Spread(round(statistics.median(v for v, _id in values), 3), worst, worst_id)


def month_timelines(session: Session, start: datetime, end: datetime, exercises: bool = False) -> MonthTimelines:
    """The timing report of every campaign whose sending began in [start, end) (billing.reports.month_bounds
    gives a month's), with the median and the worst time to approve, to the first submit and to 90 % delivered:
    the real ones, or (`exercises`) the exercises and tests, never the two together."""
    ids = session.scalars(_MONTH_CAMPAIGNS, {"start": start, "end": end, "exercises": exercises}).all()
    campaigns = {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(ids)))} if ids else {}
    timelines = [campaign_timeline(session, campaigns[cid]) for cid in ids]
    return MonthTimelines(timelines, *(_spread(timelines, measure) for measure in MONTH_MEASURES))
