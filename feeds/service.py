"""Polling official warning sources and turning their alerts into drafts.

A poll reads the source (HTTP, conditional), then each alert the feed lists or embeds; the network work happens
outside any database transaction. Then, in one transaction, each new alert is kept (IncomingAlert) under a
savepoint of its own, so that one refused alert never loses the others:
- an Update or Cancel of an alert we know flags that alert's campaign (draft or sent) for the operator;
- a new alert whose area (polygons, circles, geocodes mapped in the configuration) reaches live zones becomes
  a draft campaign with those zones selected (campaigns.service.create_draft) — never sent by itself;
- anything else is kept with its state (outside the city, no area, not Actual) and shown, no draft.
Whatever goes wrong (down, slow, not XML, billion laughs, XXE, schema, too many points) is logged and written
on the source's status line (FeedStatus); a poll never raises for a source's fault.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from geoalchemy2.shape import from_shape
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.exceptions import InvalidCampaign
from campaigns.models import Campaign
from campaigns.service import create_draft
from feeds import cap
from feeds.drafts import draft_fields, templated
from feeds.exceptions import AreaOutside, FeedDown, FeedError, FeedSlow, FeedSourceUnknown, NotCap
from feeds.fetch import fetch
from feeds.models import AlertState, FeedStatus, IncomingAlert
from subscribers.service import zone_code_column
from syrena_core.audit import record
from syrena_core.config import FeedSource, Settings
from syrena_core.db import session_scope, utcnow
from zones.models import Zone

log = logging.getLogger("syrena.feeds")

ACTUAL = "Actual"
KNOWN_FOR = timedelta(days=30)  # a linked document kept this recently is not fetched again
FOLLOW_UP_TYPES = ("Update", "Cancel")

# The live zones an alert's area covers more than a boundary of (a shared border is not a warning for the
# zone next door). The && of ST_Intersects uses the GiST index on zone.geom; 42 real osiedla answer in ~1 ms.
_ZONES_HIT = text("""
SELECT z.id FROM zone z
WHERE z.archived_at IS NULL
  AND ST_Intersects(z.geom, ST_GeomFromWKB(:area, 4326))
  AND NOT ST_Touches(z.geom, ST_GeomFromWKB(:area, 4326))
ORDER BY z.id
""")
# The outline of zones named by geocodes only (no polygon in the alert): what the dashboard's map draws.
_ZONES_OUTLINE = text("SELECT ST_Multi(ST_Union(geom)) FROM zone WHERE id = ANY(:ids)")


@dataclass
class PollResult:
    source: str
    not_modified: bool = False
    new: int = 0
    drafts: list[int] = field(default_factory=list)
    problems: list[FeedError] = field(default_factory=list)
    error: FeedError | None = None  # the source itself could not be read

    def summary(self) -> str:
        if self.error is not None:
            return f"{self.source}: {self.error.kind}: {self.error}"
        if self.not_modified:
            return f"{self.source}: not modified"
        refused = f", {len(self.problems)} refused" if self.problems else ""
        return f"{self.source}: {self.new} new, {len(self.drafts)} drafts{refused}"


# ------------------------------------------------------------------------------------------------ polling
def poll_source(database_url: str, source: FeedSource, settings: Settings) -> PollResult:
    """Poll one source now (the RQ job and `flask feeds poll` call this)."""
    feeds = settings.feeds
    with session_scope(database_url) as session:
        status = _status(session, source.name)
        etag, last_modified = status.etag, status.last_modified
        # Feeds list their current warnings: what came in lately is what they can name (not years of history).
        recent = select(IncomingAlert.identifier).where(
            IncomingAlert.source == source.name, IncomingAlert.received_at > utcnow() - KNOWN_FOR
        )
        known = set(session.scalars(recent))
    result = PollResult(source.name)
    started = utcnow()
    alerts: list[cap.CapAlert] = []
    fetched = None
    try:
        fetched = fetch(source.url, feeds, etag, last_modified)
        if fetched.body is None:
            result.not_modified = True
        else:
            for entry in cap.read_document(cap.parse_xml(fetched.body), feeds.max_entries):
                if entry.alert is None and entry.identifier in known:
                    continue  # a document read before: not fetched again
                try:
                    alerts.append(cap.read_alert(_entry_alert(entry, source, settings)))
                except FeedError as e:
                    result.problems.append(e)
    except FeedError as e:
        result.error = e
    with session_scope(database_url) as session:
        for alert in alerts:
            try:
                with session.begin_nested():
                    row = ingest(session, source, alert, settings)
                if row is not None:
                    result.new += 1
                    if row.state == AlertState.DRAFTED.value and row.campaign_id:
                        result.drafts.append(row.campaign_id)
                    if row.state == AlertState.OUTSIDE.value:
                        result.problems.append(
                            AreaOutside(f"alert {row.identifier[:80]}: its area lies outside the city's zones")
                        )
            except IntegrityError:
                continue  # another poll of the same source kept it a moment ago
            except (FeedError, InvalidCampaign) as e:
                result.problems.append(e if isinstance(e, FeedError) else NotCap(f"no draft: {e}"))
        _write_status(session, source.name, result, fetched, started)
    for problem in ([result.error] if result.error else []) + result.problems:
        # Warnings far from the city are the feed's normal content: counted, not each a warning in the log.
        level = logging.INFO if isinstance(problem, AreaOutside) else logging.WARNING
        log.log(level, "feed %s: %s: %s", source.name, problem.kind, problem)
    log.info("feed poll %s", result.summary())
    return result


def _entry_alert(entry: cap.Entry, source: FeedSource, settings: Settings):
    if entry.alert is not None:
        return entry.alert
    url = urljoin(source.url, entry.url or "")
    # Only documents on the source's own server: a feed's content must not make the worker fetch from anywhere
    # else (an internal address, another service) — MeteoAlarm's entries link to its own host.
    if urlsplit(url).scheme not in ("http", "https") or urlsplit(url).netloc != urlsplit(source.url).netloc:
        raise NotCap(f"an entry links to {url[:80]!r}: only CAP documents on the source's own server are read")
    fetched = fetch(url, settings.feeds)
    entries = cap.read_document(cap.parse_xml(fetched.body or b""), 1)
    if not entries or entries[0].alert is None:
        raise NotCap(f"{url[:80]}: not a CAP alert")
    return entries[0].alert


def poll_named(database_url: str, settings: Settings, name: str | None = None) -> list[PollResult]:
    """Poll the named source (or every configured one) now."""
    sources = settings.feeds.sources
    if name is not None:
        source = settings.feeds.source(name)
        if source is None:
            known = ", ".join(s.name for s in sources) or "none configured"
            raise FeedSourceUnknown(f"no feed source named {name!r} in [[feeds.sources]] ({known})")
        sources = (source,)
    return [poll_source(database_url, s, settings) for s in sources]


def _status(session: Session, name: str) -> FeedStatus:
    status = session.get(FeedStatus, name)
    if status is None:
        status = FeedStatus(name=name)
        session.add(status)
    return status


def _write_status(session: Session, name: str, result: PollResult, fetched, started: datetime) -> None:
    status = _status(session, name)
    status.last_poll_at = started
    status.alerts_new = result.new
    status.documents_refused = len(result.problems)
    if fetched is not None:
        status.last_http_status = fetched.status
        status.last_duration_ms = fetched.duration_ms
        # A linked document that was down or slow is read again next time: the feed must not answer 304 then.
        transient = any(isinstance(p, (FeedDown, FeedSlow)) for p in result.problems)
        if fetched.body is not None and result.error is None and not transient:
            status.etag, status.last_modified = fetched.etag, fetched.last_modified
    problem = result.error or (result.problems[-1] if result.problems else None)
    if result.error is None:
        status.last_ok_at = started
    if problem is not None:
        status.last_error, status.last_error_kind, status.last_error_at = str(problem)[:500], problem.kind, started
    else:
        status.last_error = status.last_error_kind = None


# ------------------------------------------------------------------------------------------------ one alert
def ingest(session: Session, source: FeedSource, alert: cap.CapAlert, settings: Settings) -> IncomingAlert | None:
    """Keep a new alert and act on it (draft, follow-up flag, or nothing); None when it was kept before.
    Raises AreaTooComplex / NotCap for an area that cannot be read (nothing is kept then)."""
    exists = select(IncomingAlert.id).where(
        IncomingAlert.sender == alert.sender, IncomingAlert.identifier == alert.identifier
    )
    if session.scalar(exists) is not None:
        return None
    info = alert.info()
    row = IncomingAlert(
        source=source.name,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent,
        status=alert.status,
        msg_type=alert.msg_type,
        event=info.event if info else None,
        severity=info.severity if info else None,
        urgency=info.urgency if info else None,
        certainty=info.certainty if info else None,
        headline=info.headline if info else None,
        instruction=info.instruction if info else None,
        onset=info.onset if info else None,
        expires=info.expires if info else None,
        area_desc="; ".join(a.desc for a in alert.areas() if a.desc)[:2000] or None,
        references=alert.references_text,
        raw_xml=alert.raw,
        state=AlertState.IGNORED.value,
    )
    session.add(row)
    if alert.status != ACTUAL or alert.msg_type not in ("Alert", *FOLLOW_UP_TYPES):
        pass  # kept for the record: exercises, tests, acknowledgements are no warnings for the city
    elif alert.msg_type in FOLLOW_UP_TYPES and _follow_up(session, row, alert):
        pass
    else:
        _match(session, row, alert, source, settings)
    session.flush()
    if row.state == AlertState.DRAFTED.value:
        _draft(session, row, alert, settings)
    record(
        session,
        "feed_alert.receive",
        None,
        "feed_alert",
        row.id,
        {"source": source.name, "msg_type": row.msg_type, "state": row.state, "campaign_id": row.campaign_id},
    )
    return row


def _match(session: Session, row: IncomingAlert, alert: cap.CapAlert, source: FeedSource, settings: Settings) -> None:
    geometry = cap.area_geometry(alert, settings.feeds.max_points)
    codes = sorted({code for key in cap.geocode_keys(alert) for code in source.geocodes.get(key, ())})
    zone_ids: set[int] = set()
    if codes:
        code = zone_code_column()
        zone_ids |= set(session.scalars(select(Zone.id).where(code.in_(codes), Zone.archived_at.is_(None))))
    if geometry is not None:
        row.area = from_shape(geometry, srid=4326)
        zone_ids |= set(session.scalars(_ZONES_HIT, {"area": geometry.wkb}))
    elif zone_ids:
        row.area = session.scalar(_ZONES_OUTLINE, {"ids": sorted(zone_ids)})
    row.zone_ids = sorted(zone_ids)
    if zone_ids:
        row.state = AlertState.DRAFTED.value
    elif geometry is None and not codes:
        row.state = AlertState.NO_AREA.value
    else:
        row.state = AlertState.OUTSIDE.value


def _draft(session: Session, row: IncomingAlert, alert: cap.CapAlert, settings: Settings) -> None:
    fields = templated(session, row, draft_fields(row, settings.campaigns), settings.campaigns)
    campaign = create_draft(session, None, fields, settings=settings.campaigns, zone_limits=settings.zones)
    campaign.source_alert_id = row.id
    campaign.source_reference = f"{alert.sender},{alert.identifier},{alert.sent_text}"
    row.campaign_id = campaign.id


def _follow_up(session: Session, row: IncomingAlert, alert: cap.CapAlert) -> bool:
    """An Update/Cancel of an alert we kept: flag its campaign for the operator (nothing is sent)."""
    for sender, identifier, _sent in alert.references:
        original = session.scalar(
            select(IncomingAlert).where(IncomingAlert.sender == sender, IncomingAlert.identifier == identifier)
        )
        if original is None:
            continue
        row.follows_id, row.campaign_id, row.state = original.id, original.campaign_id, AlertState.FOLLOW_UP.value
        row.zone_ids, row.area = list(original.zone_ids), original.area  # what the campaign's target came from
        campaign = session.get(Campaign, original.campaign_id) if original.campaign_id else None
        if campaign is not None:
            campaign.source_follow_up = alert.msg_type
            record(
                session,
                "campaign.source_follow_up",
                None,
                "campaign",
                campaign.id,
                {"msg_type": alert.msg_type, "campaign_status": campaign.status},
            )
        return True
    return False


# ------------------------------------------------------------------------------------------------ reading
def list_alerts(session: Session, limit: int = 100, offset: int = 0) -> tuple[int, Sequence[IncomingAlert]]:
    total = session.scalar(select(func.count()).select_from(IncomingAlert)) or 0
    rows = session.scalars(
        select(IncomingAlert)
        .order_by(IncomingAlert.received_at.desc(), IncomingAlert.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, rows


def statuses(session: Session, settings: Settings) -> list[tuple[FeedSource, FeedStatus | None]]:
    """Each configured source with its last poll (None: never polled)."""
    rows = {s.name: s for s in session.scalars(select(FeedStatus))}
    return [(source, rows.get(source.name)) for source in settings.feeds.sources]


def warnings_to_review(session: Session, limit: int = 5) -> Sequence[tuple[IncomingAlert, Campaign]]:
    """Alerts whose draft still waits for a person, or whose campaign the source followed up: newest first, one
    per campaign (its latest word: an Update or Cancel before the alert it follows)."""
    query = (
        select(IncomingAlert, Campaign)
        .join(Campaign, Campaign.id == IncomingAlert.campaign_id)
        .where(
            (IncomingAlert.state == AlertState.DRAFTED.value) & (Campaign.status == "draft")
            | (IncomingAlert.state == AlertState.FOLLOW_UP.value) & (Campaign.source_follow_up.is_not(None))
        )
        .order_by(IncomingAlert.received_at.desc(), IncomingAlert.id.desc())
        .limit(limit * 3)
    )
    latest: dict[int, tuple[IncomingAlert, Campaign]] = {}
    for alert, campaign in session.execute(query).all():
        latest.setdefault(campaign.id, (alert, campaign))
    return list(latest.values())[:limit]


def source_alert(session: Session, campaign: Campaign) -> IncomingAlert | None:
    return session.get(IncomingAlert, campaign.source_alert_id) if campaign.source_alert_id else None


def alert_dict(alert: IncomingAlert) -> dict[str, Any]:
    """An incoming alert as the API shows it (times ISO 8601 with their offset, in UTC)."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": alert.id,
        "source": alert.source,
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": iso(alert.sent),
        "msg_type": alert.msg_type,
        "status": alert.status,
        "event": alert.event,
        "severity": alert.severity,
        "headline": alert.headline,
        "onset": iso(alert.onset),
        "expires": iso(alert.expires),
        "references": alert.references,
        "state": alert.state,
        "zone_ids": list(alert.zone_ids or []),
        "campaign_id": alert.campaign_id,
        "received_at": iso(alert.received_at),
    }
