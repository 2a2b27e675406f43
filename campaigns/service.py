"""Composing and sending campaigns; their progress."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from campaigns.exceptions import CampaignNotFound, CampaignStateError, InvalidCampaign
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Message, MessageStatus, Severity
from smsc_gateway.encoding import encode_sms
from syrena_core.accounts import User, record
from syrena_core.db import utcnow
from zones.exceptions import ZoneNotFound
from zones.service import get_zones

# 10 parts: a GSM text of 1530 characters, a UCS-2 one of 670.
MAX_PARTS = 10


@dataclass(frozen=True)
class Chunk:
    """The messages one RQ job sends: a range of ids within one campaign."""
    campaign_id: int
    first_id: int
    last_id: int


def _choice(value: Any, enum_type, what: str) -> str:
    try:
        return enum_type(value).value
    except ValueError:
        raise InvalidCampaign(f"{what} must be one of {', '.join(e.value for e in enum_type)}") from None


def _zone_ids(raw: Any) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        raise InvalidCampaign("zone_ids must be a list of zone ids")
    return list(dict.fromkeys(raw))


def create_campaign(session: Session, author: User | None, kind: Any, severity: Any, body: Any,
                    zone_ids: Any, title: Any = None, department: Any = None) -> Campaign:
    kind = _choice(kind, CampaignKind, "kind")
    severity = _choice(severity, Severity, "severity")
    if not isinstance(body, str) or not body.strip():
        raise InvalidCampaign("the message text is empty")
    if title is not None and (not isinstance(title, str) or len(title) > 120):
        raise InvalidCampaign("the title is text of at most 120 characters")
    if department is not None and (not isinstance(department, str) or len(department.strip()) > 80):
        raise InvalidCampaign("the department (cost centre) is text of at most 80 characters")
    department = (department or "").strip() or None
    encoded = encode_sms(body)
    if len(encoded.parts) > MAX_PARTS:
        raise InvalidCampaign(f"the text needs {len(encoded.parts)} SMS parts; at most {MAX_PARTS}")
    ids = _zone_ids(zone_ids)
    if not ids:
        raise InvalidCampaign("choose at least one target zone")
    try:
        zones = get_zones(session, ids)
    except ZoneNotFound as e:
        raise InvalidCampaign(str(e)) from None
    campaign = Campaign(kind=kind, severity=severity, body=body, title=title, zones=zones,
                        author_id=author.id if author else None, encoding=encoded.encoding,
                        parts_per_message=len(encoded.parts), department=department)
    session.add(campaign)
    session.flush()
    record(session, "campaign.create", author, "campaign", campaign.id, {"zones": ids, "kind": kind})
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"no campaign with id {campaign_id}")
    return campaign


def list_campaigns(session: Session, limit: int = 100) -> Sequence[Campaign]:
    return session.scalars(select(Campaign).order_by(Campaign.created_at.desc()).limit(limit)).all()


# Recipients: a location inside a target, or a whole zone subscribed by SMS code whose interior meets a
# target's (zones that merely touch along a border do not count). Deduplicated by the unique
# (campaign, subscriber) pair, so a resident with two locations in the targets gets one message.
_SNAPSHOT_RECIPIENTS = text("""
WITH targets AS (
    SELECT z.geom FROM zone z JOIN campaign_zone cz ON cz.zone_id = z.id WHERE cz.campaign_id = :cid
    UNION ALL
    SELECT c.area FROM campaign c WHERE c.id = :cid AND c.area IS NOT NULL
), hits AS (
    SELECT l.subscriber_id FROM targets t JOIN subscriber_location l ON ST_Covers(t.geom, l.geom)
    UNION
    SELECT l.subscriber_id FROM targets t
      JOIN zone sz ON ST_Intersects(t.geom, sz.geom) AND ST_Relate(t.geom, sz.geom, 'T********')
      JOIN subscriber_location l ON l.zone_id = sz.id
)
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at)
SELECT :cid, s.id, s.phone, 'queued', 0, now()
FROM subscriber s JOIN hits h ON h.subscriber_id = s.id
WHERE s.status = 'active'
ON CONFLICT (campaign_id, subscriber_id) DO NOTHING
""")


def start_sending(session: Session, campaign: Campaign, actor: User | None, require_approval: bool) -> Campaign:
    """Snapshot the recipients as message rows and mark the campaign as sending.
    The caller commits, then enqueues `pending_chunks` (jobs must see committed rows)."""
    allowed = (CampaignStatus.APPROVED.value,) if require_approval else (
        CampaignStatus.DRAFT.value, CampaignStatus.APPROVED.value)
    if campaign.status not in allowed:
        hint = " (it must be approved first)" if require_approval and campaign.status == "draft" else ""
        raise CampaignStateError(f"a {campaign.status} campaign cannot be sent{hint}")
    # Lock the row so two concurrent sends cannot both snapshot and enqueue.
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    session.refresh(campaign)
    if campaign.status not in allowed:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be sent")
    session.execute(_SNAPSHOT_RECIPIENTS, {"cid": campaign.id})
    campaign.recipients = session.scalar(select(func.count()).where(Message.campaign_id == campaign.id))
    campaign.status = CampaignStatus.SENDING.value
    campaign.sent_at = utcnow()
    if campaign.recipients == 0:
        campaign.status = CampaignStatus.COMPLETED.value
        campaign.completed_at = campaign.sent_at
    record(session, "campaign.send", actor, "campaign", campaign.id, {"recipients": campaign.recipients})
    return campaign


def pending_chunks(session: Session, campaign_id: int, chunk_size: int) -> list[Chunk]:
    """Ranges of the campaign's queued messages, `chunk_size` at most each; also what resuming re-enqueues."""
    rows = session.execute(text("""
        SELECT min(id), max(id) FROM (
            SELECT id, (row_number() OVER (ORDER BY id) - 1) / :size AS n
            FROM message WHERE campaign_id = :cid AND status = 'queued') q
        GROUP BY n ORDER BY n"""), {"cid": campaign_id, "size": chunk_size}).all()
    return [Chunk(campaign_id, first, last) for first, last in rows]


@dataclass(frozen=True)
class Progress:
    counts: dict[str, int]  # every message status, zero where none
    cost: Decimal


def campaign_progress(session: Session, campaign_ids: Sequence[int]) -> dict[int, Progress]:
    """Message counts by status and cost of several campaigns in one grouped query (lists show many)."""
    counts = {cid: {s.value: 0 for s in MessageStatus} for cid in campaign_ids}
    costs = {cid: Decimal(0) for cid in campaign_ids}
    rows = session.execute(select(Message.campaign_id, Message.status, func.count(), func.sum(Message.cost))
                           .where(Message.campaign_id.in_(list(campaign_ids)))
                           .group_by(Message.campaign_id, Message.status)).all()
    for cid, status, n, cost in rows:
        counts[cid][status] = n
        costs[cid] += cost or 0
    return {cid: Progress(counts[cid], costs[cid]) for cid in campaign_ids}
