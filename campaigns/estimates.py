"""Time to warn (issue 14): when will the last resident of a campaign be warned?

The one estimate the preview, the approval page, the campaign page and the API show. SMSC contracts count
submit_sm per second, one per SMS part, so the estimate is in parts:

    seconds = (parts of this campaign still to send + parts queued ahead of it) / TPS of the links up now

- Links up now: what the gateway workers publish in Redis (syrena_core.ops_state), each distinct bound
  connection counted once however many workers hold a bind to it (they share its token bucket); the primaries,
  or the failover links when no primary is up. When no worker has a link up the configured primaries are
  assumed, and the estimate says so (`assumed`).
- Ahead: alerts already sending pre-empt everything else (an alert waits only for those sent before it); an
  info campaign also waits for the info campaigns sent before it.
- While sending, the campaign's own measured rate (messages/s over the last RATE_WINDOW seconds) also bounds
  it: a link that does less than its contract makes the estimate later, never earlier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from campaigns import composition, questions
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from syrena_core import ops_state
from syrena_core.config import SmscSettings
from syrena_core.db import utcnow

RATE_WINDOW = 10  # seconds over which a sending campaign's rate now is measured (as campaigns.delivery does)

# Unsent messages (queued, or claimed and not yet answered) of the campaigns now sending, by language: one
# grouped statement on ix_message_campaign_status.
_UNSENT = text("""
SELECT m.campaign_id, m.language, count(*) FROM message m
WHERE m.campaign_id = ANY(CAST(:ids AS int[])) AND m.status IN ('queued', 'submitting')
GROUP BY m.campaign_id, m.language
""")
_SENDING = text("""
SELECT id, kind, sent_at, body, variants, flash, question FROM campaign WHERE status = 'sending'
""")
_RATE = text("""
SELECT count(*) FROM message
WHERE campaign_id = :cid AND submitted_at > now() - make_interval(secs => :window)
""")


@dataclass(frozen=True)
class Links:
    tps: float  # parts per second, summed over the distinct links counted
    names: tuple[str, ...]
    role: str  # "primary", "failover", or "configured" (none up: the configured primaries)

    @property
    def assumed(self) -> bool:
        return self.role == "configured"


def links_up(workers: Iterable[dict[str, Any]], smsc: SmscSettings) -> Links:
    """The contracted TPS of the distinct links bound now, from the workers' published state."""
    configured = {c.name: c for c in smsc.all_connections()}
    bound: dict[str, tuple[str, float]] = {}
    for worker in workers:
        for bind in worker.get("binds") or []:
            name = bind.get("name")
            if not bind.get("bound") or not name:
                continue
            conf = configured.get(name)
            tps = bind.get("tps") or (conf.tps if conf else 0.0)
            role = bind.get("role") or (conf.role if conf else "primary")
            if tps and tps > 0:
                bound[name] = (role, float(tps))
    for role in ("primary", "failover"):
        up = sorted(name for name, (r, _) in bound.items() if r == role)
        if up:
            return Links(sum(bound[n][1] for n in up), tuple(up), role)
    primaries = [c for c in configured.values() if c.role == "primary"] or list(configured.values())
    return Links(sum(c.tps for c in primaries), tuple(c.name for c in primaries), "configured")


@dataclass(frozen=True)
class TimeToWarn:
    seconds: float  # until the last part is submitted (from now)
    parts: int  # this campaign's parts still to send
    parts_ahead: int  # parts of other campaigns queued ahead of it
    links: Links
    rate: float | None = None  # while sending: this campaign's messages per second now
    eta: datetime | None = None  # while sending: the expected last submit (UTC)
    warnings: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        """How the estimate was made (the API's `time_to_warn` object)."""
        return {
            "parts_to_send": self.parts,
            "parts_ahead": self.parts_ahead,
            "tps": self.links.tps,
            "links": list(self.links.names),
            "links_role": self.links.role,
            "links_assumed": self.links.assumed,
            "warnings": list(self.warnings),
        }


def _parts(campaign: dict[str, Any], language: str | None, cache: dict) -> int:
    """SMS parts of one message of `campaign` (a row of _SENDING, or _paused_unsent's) in `language`: as sent, with
    the question's answer lines (questions.sms_text)."""
    variants = campaign["variants"] or {}
    language = language if language in variants else None
    text_ = questions.sms_text(variants[language] if language else campaign["body"], campaign.get("question"), language)
    key = (text_, bool(campaign["flash"]))
    if key not in cache:
        cache[key] = composition.analyse(text_ or "", flash=bool(campaign["flash"])).parts
    return cache[key]


def _unsent_parts(session: Session, sending: Sequence[dict[str, Any]]) -> dict[int, tuple[int, int]]:
    """Campaign id → (unsent messages, their parts)."""
    if not sending:
        return {}
    by_id = {c["id"]: c for c in sending}
    cache: dict = {}
    out: dict[int, tuple[int, int]] = {}
    for cid, language, n in session.execute(_UNSENT, {"ids": list(by_id)}):
        messages, parts = out.get(cid, (0, 0))
        out[cid] = (messages + n, parts + n * _parts(by_id[cid], language, cache))
    return out


def _ahead(campaign: Campaign | None, kind: str, other: dict) -> bool:
    """Whether `other` (a sending campaign) goes before `campaign` (of `kind`; None or unsent: sent now)."""
    if campaign is not None and other["id"] == campaign.id:
        return False
    sent_at = campaign.sent_at if campaign is not None and campaign.status == CampaignStatus.SENDING.value else None
    earlier = sent_at is None or (other["sent_at"] is not None and other["sent_at"] < sent_at)
    if other["kind"] == CampaignKind.ALERT.value:
        return kind != CampaignKind.ALERT.value or earlier
    return kind != CampaignKind.ALERT.value and earlier


def time_to_warn(
    session: Session,
    campaign: Campaign,
    workers: Iterable[dict[str, Any]],
    smsc: SmscSettings,
    parts: int | None = None,
    now: datetime | None = None,
) -> TimeToWarn:
    """The estimate for `campaign`. Not yet sending: `parts` is what it would send (the preview's total_parts);
    sending: its unsent parts are counted, and `eta` and `rate` are set. Finished: nothing left (0 s)."""
    now = now or utcnow()
    links = links_up(workers, smsc)
    status = campaign.status
    if status in (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value):
        return TimeToWarn(0.0, 0, 0, links)
    sending = [dict(r._mapping) for r in session.execute(_SENDING)]
    unsent = _unsent_parts(session, sending)
    ahead = sum(unsent.get(c["id"], (0, 0))[1] for c in sending if _ahead(campaign, campaign.kind, c))
    warnings = []
    if links.assumed:
        warnings.append("no SMSC link is up now: estimated from the configured links' TPS")
    if status in (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value) and campaign.id is not None:
        messages, own = unsent.get(campaign.id, (0, 0))
        if status == CampaignStatus.PAUSED.value:
            messages, own = _paused_unsent(session, campaign)
        seconds = (own + ahead) / links.tps if links.tps else 0.0
        rate = session.execute(_RATE, {"cid": campaign.id, "window": RATE_WINDOW}).scalar_one() / RATE_WINDOW
        if rate and messages:
            seconds = max(seconds, messages / rate)  # the links may do less than their contract
        eta = now + timedelta(seconds=seconds) if status == CampaignStatus.SENDING.value else None
        return TimeToWarn(round(seconds, 1), own, ahead, links, round(rate, 1), eta, warnings)
    own = parts or 0
    seconds = (own + ahead) / links.tps if links.tps else 0.0
    return TimeToWarn(round(seconds, 1), own, ahead, links, warnings=warnings)


def _paused_unsent(session: Session, campaign: Campaign) -> tuple[int, int]:
    row = {
        "id": campaign.id,
        "kind": campaign.kind,
        "sent_at": campaign.sent_at,
        "body": campaign.body,
        "variants": campaign.variants,
        "flash": campaign.flash,
        "question": campaign.question,
    }
    return _unsent_parts(session, [row]).get(campaign.id, (0, 0))


def published_workers(redis_url: str) -> list[dict[str, Any]]:
    """The workers' published state; none when Redis cannot be read (the estimate then says it assumed)."""
    try:
        return ops_state.read_workers(redis_url)
    except Exception:
        return []


def estimate(
    session: Session,
    campaign: Campaign,
    redis_url: str,
    smsc: SmscSettings,
    parts: int | None = None,
    now: datetime | None = None,
) -> TimeToWarn:
    """`time_to_warn` with the links the workers publish now: what every page and the API call."""
    return time_to_warn(session, campaign, published_workers(redis_url), smsc, parts, now)
