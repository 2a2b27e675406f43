"""Composing, previewing, approving and starting campaigns; their progress.

The life of a campaign: draft → (submit) pending_approval → approved | rejected; approved → scheduled or
sending. An alert needs a second person's approval when `campaigns.require_approval` is on; an `extreme`
one may skip it by an audited emergency override. Info campaigns go only to their topic's subscribers and
never during quiet hours: a send then waits, as `scheduled`, for their end. Scheduled campaigns live in
the database and are started by `campaigns.workflow.start_due_campaigns`, which every worker calls on its
heartbeat. Everything here works in the caller's transaction; campaigns.workflow commits and enqueues
(through campaigns.dispatch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from billing.ledger import tariff_at
from billing.reports import campaign_costs
from campaigns import composition, exercises, fieldwork, questions, targeting, templates
from campaigns.delivery import complete_campaigns
from campaigns.exceptions import ApprovalForbidden, CampaignNotFound, CampaignStateError, InvalidCampaign, InvalidHazard
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Message, MessageStatus, Severity
from campaigns.schemas import CAP_CATEGORIES, CERTAINTIES, FIELDS, LANGUAGES, URGENCIES, CampaignInput, FollowUpInput  # noqa: F401 - the UI's
from syrena_core.accounts import Role, User
from syrena_core.audit import record
from syrena_core.config import BillingSettings, CampaignSettings, ZoneSettings
from syrena_core.db import utcnow
from syrena_core.text import check_characters
from zones import reach
from zones.exceptions import ZoneInUse, ZoneNotFound
from zones.service import get_zones

EDITABLE = (CampaignStatus.DRAFT.value, CampaignStatus.REJECTED.value)
SENT_STATUSES = (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value, CampaignStatus.COMPLETED.value)
MIN_REASON = 5


def _choice(value: Any, enum_type, what: str) -> str:
    try:
        return enum_type(value).value
    except ValueError:
        raise InvalidCampaign(f"{what} must be one of {', '.join(e.value for e in enum_type)}") from None


def longest_text(settings: CampaignSettings) -> int:
    """Characters that could fit in max_parts SMS parts at best (GSM 7-bit: 160 alone, 153 per part joined)."""
    return 160 if settings.max_parts <= 1 else 153 * min(settings.max_parts, 255)


def check_body(
    body: Any, settings: CampaignSettings, what: str = "the message text", flash: bool = False
) -> composition.TextAnalysis:
    if not isinstance(body, str) or not body.strip():
        raise InvalidCampaign(f"{what} is empty")
    # Before any encoding: the encoder's work grows with the text, and past 255 parts smpplib gives up.
    longest = longest_text(settings)
    if len(body) > longest:
        raise InvalidCampaign(
            f"{what} has {len(body)} characters: it needs at least {-(-len(body) // 153)} SMS "
            f"parts; at most {settings.max_parts} are allowed ({longest} characters)"
        )
    # What is sent is also published (Atom, CAP, exports): no control characters, no GSM escape.
    check_characters(body, what, InvalidCampaign)
    analysis = composition.analyse(body, flash=flash)
    if analysis.parts > settings.max_parts:
        raise InvalidCampaign(
            f"{what} needs {analysis.parts} SMS parts ({analysis.encoding}); at most {settings.max_parts} are allowed"
        )
    return analysis


def _variants(variants: dict[str, str | None], settings: CampaignSettings) -> dict[str, str]:
    """Each language's text (its language checked by schemas.CampaignInput) checked like the body."""
    out = {}
    for language, body in variants.items():
        if body is None or (isinstance(body, str) and not body.strip()):
            continue  # an empty variant: those residents get the Polish text
        check_body(body, settings, f"the {language} text")
        out[language] = body
    return out


# What an approver approves: the text, the target and the severity. Whoever changes any of these after the
# draft was created becomes one of its writers, and no writer may approve it.
CONTENT_FIELDS = (
    "kind",
    "severity",
    "title",
    "body",
    "template",
    "variants",
    "zone_ids",
    "area",
    "topic",
    "event",
    "urgency",
    "certainty",
    "flash",
    "sender_id",
    "question",
    "cap_status",
    "test_group_id",
    "confirm_real_target",
)


def _content(campaign: Campaign) -> dict[str, Any]:
    values = {f: getattr(campaign, f, None) for f in CONTENT_FIELDS if f not in ("zone_ids", "area")}
    values["variants"] = dict(campaign.variants or {})
    values["zone_ids"] = [z.id for z in campaign.zones]
    values["area"] = campaign.area_spec or None
    return values


def _record_edit(campaign: Campaign, actor: User | None, fields: list[str]) -> None:
    if not fields:
        return  # saved without a change of what is approved: not a writer
    campaign.edits = [
        *(campaign.edits or []),
        {
            "user_id": actor.id if actor else None,
            "email": actor.email if actor else None,
            "fields": fields,
            "at": utcnow().isoformat(),
        },
    ]


def _template_values(zones, title: str | None, now: datetime, settings: CampaignSettings) -> dict[str, str]:
    return composition.standard_values([z.name for z in zones], title, now, settings.timezone)


def _apply(
    session: Session,
    campaign: Campaign,
    data: dict[str, Any],
    settings: CampaignSettings,
    zone_limits: ZoneSettings,
    now: datetime,
    partial: bool,
) -> None:
    """Check `data` and set it on the campaign; nothing is set when anything is wrong. The fields' own rules are
    schemas.CampaignInput's (the API's document is generated from it); here what needs settings, zones or time."""
    data = exercises.normalise_input(data)
    merged = (
        {f: getattr(campaign, f, None) for f in FIELDS if f not in ("zone_ids", "area", "hazard")} if partial else {}
    )
    merged.update(data)
    fields = CampaignInput.check(merged)
    kind, severity, title, topic = fields.kind, fields.severity, fields.title, fields.topic
    department, urgency, certainty, category = fields.department, fields.urgency, fields.certainty, fields.category
    event, sender_id, validity, flash = fields.event, fields.sender_id, fields.validity_minutes, fields.flash
    scheduled_for = fields.scheduled_for
    if scheduled_for is not None and scheduled_for <= now and (not partial or "scheduled_for" in data):
        raise InvalidCampaign("the schedule lies in the past")
    expires_at = fields.expires_at
    if expires_at is not None and expires_at <= now and (not partial or "expires_at" in data):
        raise InvalidCampaign("the expiry lies in the past")

    if partial and "zone_ids" not in data:
        zones = list(campaign.zones)
    else:
        try:
            zones = get_zones(session, fields.zone_ids)
        except ZoneNotFound as e:
            raise InvalidCampaign(str(e)) from None
    specs = (
        campaign.area_spec or []
        if partial and "area" not in data
        else targeting.parse_areas(data.get("area"), zone_limits)
    )
    hazard = (
        hazard_of(campaign)
        if partial and "hazard" not in data
        else targeting.parse_hazard(data.get("hazard"), zone_limits)
    )
    if not zones and not specs:
        if hazard is not None:
            raise InvalidHazard(
                "a hazard point needs a target: choose a zone or draw an area first "
                "(the recipients nearest the hazard are sent first)"
            )
        raise InvalidCampaign("choose at least one target zone or draw an area")

    template = fields.template
    if partial and "body" in data and "template" not in data:
        template = None  # the text was edited by hand: the old template no longer describes it
    body = fields.body
    if template and (not partial or "template" in data or "zone_ids" in data):
        body = composition.render_template(template, _template_values(zones, title, now, settings))
    # An exercise's texts carry their prefix, counted in parts and cost like the rest (campaigns.exercises).
    cap_status = fields.cap_status
    exercises.check_target(session, cap_status, fields.test_group_id, fields.confirm_real_target)
    body = exercises.with_prefix(body, cap_status, "pl")
    analysis = check_body(body, settings, flash=flash)
    variants = _variants(
        {lang: exercises.with_prefix(value, cap_status, lang) for lang, value in fields.variants.items()}, settings
    )
    question = questions.validate_question(fields.question, variants)
    if question is not None:
        analysis = _check_with_answer_lines(body, variants, question, settings, flash)

    campaign.kind, campaign.severity, campaign.title, campaign.body = kind, severity, title, body
    campaign.department, campaign.topic, campaign.urgency, campaign.certainty = department, topic, urgency, certainty
    campaign.category, campaign.event, campaign.sender_id = category, event, sender_id
    campaign.validity_minutes, campaign.flash, campaign.template = validity, flash, template
    campaign.scheduled_for, campaign.expires_at, campaign.variants = scheduled_for, expires_at, variants
    campaign.question = question
    campaign.encoding, campaign.parts_per_message = analysis.encoding, analysis.parts
    campaign.cap_status, campaign.test_group_id = cap_status, fields.test_group_id
    campaign.confirm_real_target = fields.confirm_real_target
    campaign.zones = zones
    campaign.area_spec = specs or None
    area = targeting.area_union(session, specs)
    campaign.area = from_shape(area, srid=4326) if area is not None else None
    campaign.hazard = from_shape(Point(hazard["lon"], hazard["lat"]), srid=4326) if hazard else None
    focus = targeting.hazard_focus(specs, hazard)
    campaign.hazard_focus = from_shape(focus, srid=4326) if focus is not None else None


def _check_with_answer_lines(
    body: str, variants: dict[str, str], question: dict[str, Any], settings: CampaignSettings, flash: bool
) -> composition.TextAnalysis:
    """Each language's text as it is sent, with the question's answer lines (questions.sms_text), checked against
    max_parts like the text alone; the Polish one's analysis (the campaign's encoding and parts per message)."""
    analysis = None
    for language, text_ in {"pl": body, **variants}.items():
        what = f"the {language} text with the answer lines"
        try:
            checked = check_body(questions.sms_text(text_, question, language), settings, what, flash)
        except InvalidCampaign as e:
            raise questions.InvalidQuestion(
                "question.answers", f"{e}: shorten the text or the answers' labels, or ask fewer answers"
            ) from None
        analysis = analysis or checked
    assert analysis is not None
    return analysis


def hazard_of(campaign: Campaign) -> dict[str, float] | None:
    """The operator's hazard point as the API shows it, {"lat", "lon"}, or None."""
    if campaign.hazard is None:
        return None
    point = cast(Point, to_shape(campaign.hazard))  # the column holds points (_apply)
    return {"lat": point.y, "lon": point.x}


def input_json(campaign: Campaign) -> dict[str, Any]:
    """What a client set on the campaign (schemas.FIELDS), as the API shows it and the composer loads it back."""
    return {
        "kind": campaign.kind,
        "severity": campaign.severity,
        "title": campaign.title,
        "department": campaign.department,
        "topic": campaign.topic,
        "urgency": campaign.urgency,
        "certainty": campaign.certainty,
        "category": campaign.category,
        "event": campaign.event,
        "sender_id": campaign.sender_id,
        "validity_minutes": campaign.validity_minutes,
        "flash": campaign.flash,
        "scheduled_for": campaign.scheduled_for.isoformat() if campaign.scheduled_for else None,
        "expires_at": campaign.expires_at.isoformat() if campaign.expires_at else None,
        "zone_ids": [z.id for z in campaign.zones],
        "area": campaign.area_spec,
        "hazard": hazard_of(campaign),
        "template": campaign.template,
        "body": campaign.body,
        "variants": campaign.variants or {},
        "question": campaign.question,
        "cap_status": campaign.cap_status or "actual",
        "test_group_id": campaign.test_group_id,
        "confirm_real_target": bool(campaign.confirm_real_target),
        "test_of_id": campaign.test_of_id,
    }


def create_campaign(
    session: Session,
    author: User | None,
    kind: Any,
    severity: Any,
    body: Any,
    zone_ids: Any,
    title: Any = None,
    department: Any = None,
    *,
    settings: CampaignSettings | None = None,
    zone_limits: ZoneSettings | None = None,
    now: datetime | None = None,
    **extra: Any,
) -> Campaign:
    """A draft; `extra` holds the optional fields of FIELDS (area, variants, topic, urgency, …)."""
    data = {
        "kind": kind,
        "severity": severity,
        "body": body,
        "zone_ids": zone_ids,
        "title": title,
        "department": department,
        **extra,
    }
    return create_draft(session, author, data, settings=settings, zone_limits=zone_limits, now=now)


def create_draft(
    session: Session,
    author: User | None,
    data: dict[str, Any],
    *,
    settings: CampaignSettings | None = None,
    zone_limits: ZoneSettings | None = None,
    now: datetime | None = None,
) -> Campaign:
    """A draft from a client's fields as they came (a JSON object): every key must be one of FIELDS. Never
    spread a client's keys into keyword arguments: "settings" or "now" would then be this function's own."""
    campaign = Campaign(author_id=author.id if author else None, status=CampaignStatus.DRAFT.value)
    settings, now = settings or CampaignSettings(), now or utcnow()
    data, filled = templates.from_request(session, data, now=now, timezone=settings.timezone)  # issue 16
    _apply(session, campaign, data, settings, zone_limits or ZoneSettings(), now, partial=False)
    _record_edit(campaign, author, sorted(_content(campaign)))
    session.add(campaign)
    session.flush()
    templates.link(session, campaign, filled, author)
    record(
        session,
        "campaign.create",
        author,
        "campaign",
        campaign.id,
        {
            "zones": [z.id for z in campaign.zones],
            "areas": len(campaign.area_spec or []),
            "kind": campaign.kind,
            "severity": campaign.severity,
        },
    )
    return campaign


def update_campaign(
    session: Session,
    campaign: Campaign,
    actor: User | None,
    data: dict[str, Any],
    settings: CampaignSettings,
    zone_limits: ZoneSettings | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Edit a draft (or a rejected campaign, which becomes a draft again)."""
    if campaign.status not in EDITABLE:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be edited")
    if campaign.msg_type != "Alert" and ("zone_ids" in data or "area" in data):
        raise InvalidCampaign("a follow-up goes to the original's recipients; its target cannot change")
    before = _content(campaign)
    now = now or utcnow()
    data, filled = templates.from_request(session, data, now=now, timezone=settings.timezone)  # issue 16
    _apply(session, campaign, data, settings, zone_limits or ZoneSettings(), now, partial=True)
    templates.link(session, campaign, filled, actor)
    after = _content(campaign)
    _record_edit(campaign, actor, sorted(k for k in after if after[k] != before[k]))
    campaign.status = CampaignStatus.DRAFT.value
    unfreeze_target(session, campaign)
    record(session, "campaign.update", actor, "campaign", campaign.id, {"fields": sorted(data)})
    return campaign


def delete_campaign(session: Session, campaign: Campaign, actor: User | None) -> None:
    if campaign.status not in EDITABLE:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be deleted (cancel it instead)")
    record(session, "campaign.delete", actor, "campaign", campaign.id, {"title": campaign.title})
    session.delete(campaign)


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"no campaign with id {campaign_id}")
    return campaign


def list_campaigns(
    session: Session,
    limit: int = 100,
    status: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[Campaign]:
    # A call-out's carrier (issue 20) is not a campaign anyone composed: /callouts lists call-outs.
    query = (
        select(Campaign)
        .where(Campaign.kind != CampaignKind.CALLOUT.value)
        .order_by(Campaign.created_at.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Campaign.status == _choice(status, CampaignStatus, "status"))
    if kind:
        query = query.where(Campaign.kind == _choice(kind, CampaignKind, "kind"))  # callout: none (above)
    if since:
        query = query.where(Campaign.created_at >= since)
    if until:
        query = query.where(Campaign.created_at < until)
    return session.scalars(query).all()


# ------------------------------------------------------------------------------------------- recipients
# Recipients: a location inside a target, or a whole zone subscribed by SMS code whose interior meets a
# target's (zones that merely touch along a border do not count). UNION deduplicates subscribers across
# overlapping zones and areas and several locations; the unique (campaign, subscriber) pair guards again.
# Info campaigns reach only their topic's subscribers; alerts everyone. Each recipient gets their language's
# variant when there is one (message.language), else the Polish body (NULL).
# The rule's predicates (a location inside, a subscribed zone meeting, an active subscriber) are zones.reach's,
# composed in (_RULE); this is how a campaign applies them (previews and the snapshot). A frozen campaign (issue 19,
# see freeze_target) passes its own copy of the zones (:frozen, its id; :zone_ids empty) and the subscribed zones
# listed when it was frozen (:code_zone_ids), so zone edits made after the approver saw it change nobody's
# warning; a draft (:frozen NULL, :code_zone_ids NULL) uses the zones as they are now.
# The subscribed zones (zoned) are found without testing the rule where its answer is known (the same rule, less
# work): only zones someone subscribed to by SMS code are tried (coded; the others add no one), and a target zone
# meets itself (a valid, non-empty polygon's interior meets its own interior; an invalid or empty one is tried
# like any other). Measured at 200,000 subscribers, city-wide (all 42 osiedla, bench/bench_templates.py's data):
# ST_Relate on each target against each zone whose box it touches (~290 full DE-9IM matrices of osiedle
# polygons) was 56 ms of the count's 420 ms under EXPLAIN ANALYZE, and 0 ms now; the count 330–367 ms before,
# 287–299 ms after (medians of 9, same data, interleaved). The rest is the points in the targets (~165 ms: 42
# GiST probes and ST_Covers on ~4,200 candidates each) and the subscribers' status and language (~100 ms).
# The whole preview (bench/bench_templates.py, docs/benchmarks.md 2026-12-07 04:25): 401 → 299 ms median at
# 200,000 subscribers, 200 → 148 ms at 100,000. tests/campaigns/test_recipient_count_paths.py pins it to the rule.
_RECIPIENTS = """
WITH targets AS (
    SELECT z.geom FROM zone z WHERE z.id = ANY(CAST(:zone_ids AS int[]))
    UNION ALL
    SELECT f.geom FROM campaign_target_zone f WHERE f.campaign_id = CAST(:frozen AS int)
    UNION ALL
    SELECT {area} WHERE {area} IS NOT NULL
){focus}, located AS (
    SELECT l.subscriber_id, {located_distance} AS d
    FROM targets t JOIN subscriber_location l ON {location_in}{near}
), coded AS MATERIALIZED (
    SELECT sz.id, sz.geom FROM zone sz
     WHERE CAST(:code_zone_ids AS int[]) IS NULL
       AND sz.id IN (SELECT cl.zone_id FROM subscriber_location cl WHERE cl.zone_id IS NOT NULL)
), zoned AS MATERIALIZED (
    SELECT sz.id, {zone_distance} AS d FROM coded sz{near}
     WHERE (sz.id = ANY(CAST(:zone_ids AS int[])) AND NOT ST_IsEmpty(sz.geom) AND ST_IsValid(sz.geom))
        OR EXISTS (SELECT 1 FROM targets t WHERE {zone_meets})
    UNION
    SELECT sz.id, {zone_distance} AS d FROM zone sz{near} WHERE sz.id = ANY(CAST(:code_zone_ids AS int[]))
), hits AS (
    SELECT subscriber_id, min(d) AS d FROM (
        SELECT subscriber_id, d FROM located
        UNION ALL
        SELECT l.subscriber_id, z.d FROM zoned z JOIN subscriber_location l ON l.zone_id = z.id) h
    GROUP BY subscriber_id
), recipients AS (
    SELECT s.id, s.phone, CASE WHEN s.language = ANY(CAST(:languages AS text[])) THEN s.language END AS language,
           h.d
    FROM subscriber s JOIN hits h ON h.subscriber_id = s.id
    WHERE {active} AND (CAST(:topic AS text) IS NULL OR CAST(:topic AS text) = ANY(s.topics))
)
"""
# Nearest the danger first (issue 14). Jobs claim messages in id order and chunks are id ranges, so the snapshot
# writes the rows in order of distance from the campaign's hazard focus (ids follow the INSERT's ORDER BY).
# Distances are planar on an equirectangular projection around the focus (longitudes scaled by cos(latitude)):
# within a city that orders like true metres, at a fraction of the geography type's cost. A subscriber matched
# through a subscribed zone (no point of their own) counts at that zone's distance (its nearest point), computed
# once per zone (MATERIALIZED), not once per subscriber. Without a stored focus (zones and drawn polygons with no
# hazard point, campaigns composed before migration 0014) distances are measured from a point inside the target.
# Measured at 200,000 recipients: the ordered INSERT…SELECT took 1.7–2.2 s against 1.1–1.6 s unordered (the
# SELECT alone 0.46 s against 0.34 s; the rest is the unique index filled in distance, not subscriber, order).
_FOCUS = """, focus AS MATERIALIZED (
    SELECT ST_Scale(g, k, 1) AS g, k FROM (
        SELECT g, cos(radians(ST_Y(ST_Centroid(g)))) AS k FROM (
            SELECT coalesce((SELECT c.hazard_focus FROM campaign c WHERE c.id = :cid),
                            (SELECT ST_PointOnSurface(ST_Union(geom)) FROM targets)) AS g) f) s
)"""
_ORDERED = {
    "focus": _FOCUS,
    "near": " CROSS JOIN focus n",
    "located_distance": "ST_Distance(ST_Scale(l.geom, n.k, 1), n.g)",
    "zone_distance": "ST_Distance(ST_Scale(sz.geom, n.k, 1), n.g)",
}
_UNORDERED = {"focus": "", "near": "", "located_distance": "0", "zone_distance": "0"}
_RULE = {
    "location_in": reach.location_in("t.geom", "l.geom"),
    "zone_meets": reach.zone_meets("t.geom", "sz.geom"),
    "active": reach.active("s"),
}
_STORED_AREA = "(SELECT c.area FROM campaign c WHERE c.id = :cid)"
_SNAPSHOT_RECIPIENTS = text(
    _RECIPIENTS.format(area=_STORED_AREA, **_ORDERED, **_RULE)
    + """
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, language)
SELECT :cid, r.id, r.phone, 'queued', 0, now(), r.language FROM recipients r ORDER BY r.d, r.id
ON CONFLICT (campaign_id, subscriber_id) DO NOTHING
"""
)
# The first `:first` recipients alone — the nearest ones: committed and enqueued at once, so that the first SMS
# leaves while the rest of a large target is still being written (finish_snapshot, which then writes the others,
# again nearest first, with higher ids).
_SNAPSHOT_FIRST_RECIPIENTS = text(
    _RECIPIENTS.format(area=_STORED_AREA, **_ORDERED, **_RULE)
    + """
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, language)
SELECT :cid, r.id, r.phone, 'queued', 0, now(), r.language FROM recipients r ORDER BY r.d, r.id LIMIT :first
ON CONFLICT (campaign_id, subscriber_id) DO NOTHING
"""
)
_COUNT_RECIPIENTS = text(
    _RECIPIENTS.format(area="ST_GeomFromWKB(CAST(:area AS bytea), 4326)", **_UNORDERED, **_RULE)
    + """
SELECT r.language, count(*) FROM recipients r GROUP BY r.language
"""
)
# The count's estimated cost (the planner guesses ~20 points per target zone; a city-wide one holds thousands)
# crosses the JIT threshold, and compiling (13 ms under EXPLAIN ANALYZE) saved nothing: city-wide at 200,000
# subscribers, medians of 9, 380 ms with JIT against 346–350 ms without (before the subscribed-zone change above),
# 272–280 ms against 259 ms (after). For the rest of the caller's transaction (SET LOCAL), as zones.reach does for
# the per-zone table.
_COUNT_SETTINGS = text("SET LOCAL jit = off")
# A follow-up (update, all-clear) goes to exactly whom the original was sent, in their language now.
_COPY_RECIPIENTS = text("""
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, language)
SELECT :cid, m.subscriber_id, m.phone, 'queued', 0, now(),
       CASE WHEN coalesce(s.language, m.language) = ANY(CAST(:languages AS text[]))
            THEN coalesce(s.language, m.language) END
FROM message m LEFT JOIN subscriber s ON s.id = m.subscriber_id
WHERE m.campaign_id = :original AND m.status <> 'cancelled'
ORDER BY m.id  -- in the original's order: nearest the danger first
ON CONFLICT (campaign_id, subscriber_id) DO NOTHING
""")
_COUNT_COPIED = text("""
SELECT CASE WHEN coalesce(s.language, m.language) = ANY(CAST(:languages AS text[]))
            THEN coalesce(s.language, m.language) END, count(*)
FROM message m LEFT JOIN subscriber s ON s.id = m.subscriber_id
WHERE m.campaign_id = :original AND m.status <> 'cancelled' GROUP BY 1
""")


def _params(campaign: Campaign) -> dict[str, Any]:
    """The target as _RECIPIENTS reads it: the frozen copy once there is one, else the zones as they are."""
    frozen = campaign.target_frozen_at is not None
    return {
        "cid": campaign.id,
        "zone_ids": [] if frozen else [z.id for z in campaign.zones],
        "frozen": campaign.id if frozen else None,
        "code_zone_ids": list(campaign.target_code_zone_ids or []) if frozen else None,
        "languages": sorted(campaign.variants or {}),
        "topic": campaign.topic,
    }


# ------------------------------------------------------------------------------------------- frozen target
# What the approver approves is what is sent (issue 19). The target zones are copied into campaign_target_zone
# as they are now; FOR SHARE waits for a zone edit in flight to commit (and makes a later one wait for this
# commit, after which refuse_zone_change sees the copy).
_FREEZE_ZONES = text("""
INSERT INTO campaign_target_zone (campaign_id, zone_id, name, geom)
SELECT :cid, z.id, z.name, z.geom FROM zone z WHERE z.id = ANY(CAST(:zone_ids AS int[])) FOR SHARE OF z
""")
# The zones whose SMS-code subscribers (no point of their own) the frozen target reaches, by the rule of
# _RECIPIENTS (a subscribed zone whose interior meets a target's): listed now, so that a later edit of a
# neighbouring zone cannot add or drop them either.
_CODE_ZONES = text(f"""
SELECT DISTINCT sz.id FROM (
    SELECT f.geom FROM campaign_target_zone f WHERE f.campaign_id = :cid
    UNION ALL
    SELECT c.area FROM campaign c WHERE c.id = :cid AND c.area IS NOT NULL) t
JOIN zone sz ON {reach.zone_meets("t.geom", "sz.geom")}
ORDER BY sz.id
""")
_UNFREEZE = text("DELETE FROM campaign_target_zone WHERE campaign_id = :cid")
# A follow-up (update, all-clear) goes to its original's recipients: it shows (CAP, maps) the original's frozen
# zones, not what they have become since.
_FREEZE_AS_ORIGINAL = text("""
INSERT INTO campaign_target_zone (campaign_id, zone_id, name, geom)
SELECT :cid, f.zone_id, f.name, f.geom FROM campaign_target_zone f WHERE f.campaign_id = :original
""")


def freeze_target(session: Session, campaign: Campaign) -> None:
    """Copy the target (zones' geometry, the subscribed zones it reaches) into the campaign: from now on the
    previews, the snapshot, CAP and the public map read the copy. Called at submit, and at send/schedule when
    no approval came first (approval off, the emergency override of a draft). A follow-up copies its
    original's recipients; its copy is the original's (what CAP and the maps show)."""
    session.flush()
    session.execute(_UNFREEZE, {"cid": campaign.id})
    original = campaign.reference
    if original is not None and original.target_frozen_at is not None:
        session.execute(_FREEZE_AS_ORIGINAL, {"cid": campaign.id, "original": original.id})
    else:
        session.execute(_FREEZE_ZONES, {"cid": campaign.id, "zone_ids": [z.id for z in campaign.zones]})
    campaign.target_code_zone_ids = list(session.scalars(_CODE_ZONES, {"cid": campaign.id}))
    campaign.target_frozen_at = utcnow()
    session.expire(campaign, ["frozen_zones"])


def unfreeze_target(session: Session, campaign: Campaign) -> None:
    """A draft again (edited after rejection): its target follows the zones until it is submitted again."""
    if campaign.target_frozen_at is None:
        return
    session.execute(_UNFREEZE, {"cid": campaign.id})
    campaign.target_frozen_at, campaign.target_code_zone_ids = None, []
    session.expire(campaign, ["frozen_zones"])


# A zone whose frozen copy belongs to a campaign still waiting (for approval, for its send time, or approved and
# about to be sent) and differs from the zone as it now stands.
_HOLDING_ZONE = text("""
SELECT c.id, c.title, c.status FROM campaign c
JOIN campaign_target_zone f ON f.campaign_id = c.id JOIN zone z ON z.id = f.zone_id
WHERE z.id = :zone_id AND c.status IN ('pending_approval', 'approved', 'scheduled')
  AND ST_AsEWKB(f.geom) IS DISTINCT FROM ST_AsEWKB(z.geom)
ORDER BY c.id
""")


def refuse_zone_change(session: Session, zone_id: int) -> None:
    """Called after a zone edit is flushed, before its commit: refuses (ZoneInUse, HTTP 409) a change of the
    geometry of a zone that an alert waiting for approval or for its send time targets — the approver approved
    its old shape. Names, codes, colours and descriptions may change (they change nobody's warning)."""
    waiting = session.execute(_HOLDING_ZONE, {"zone_id": zone_id}).all()
    if waiting:
        raise ZoneInUse(zone_id, [{"id": cid, "title": title, "status": status} for cid, title, status in waiting])


@dataclass
class Preview:
    recipients: int
    by_language: dict[str, int]  # "pl" holds everyone getting the Polish body
    texts: dict[str, dict[str, Any]]  # language → its analysis
    total_parts: int
    cost: Decimal
    currency: str
    price_per_part: Decimal
    warnings: list[str] = field(default_factory=list)
    transliteration: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "by_language": self.by_language,
            "texts": self.texts,
            "total_parts": self.total_parts,
            "cost": str(self.cost),
            "currency": self.currency,
            "price_per_part": str(self.price_per_part),
            "warnings": self.warnings,
            "transliteration": self.transliteration,
        }


def preview(session: Session, campaign: Campaign, billing: BillingSettings, now: datetime | None = None) -> Preview:
    """What sending would do now: recipients (deduplicated), parts, cost with the tariff in force."""
    params = _params(campaign)
    if campaign.test_group_id is not None:  # an exercise to a test group, or a "send test"
        size = exercises.group_size(session, campaign.test_group_id)
        languages = exercises.test_languages(campaign)
        rows: Any = [(lang, size) for lang in languages] if languages else [(None, size)]
    elif campaign.follow_up_to and campaign.reference_id is not None:
        rows = fieldwork.count_slice(session, campaign.follow_up_to, campaign.reference_id, params["languages"])
    elif campaign.reference_id is not None:
        rows = session.execute(_COUNT_COPIED, {"original": campaign.reference_id, "languages": params["languages"]})
    else:
        # From the drawn areas rather than the stored union: an unsaved campaign is previewed the same way.
        area = targeting.area_union(session, campaign.area_spec or [])
        session.execute(_COUNT_SETTINGS)
        rows = session.execute(_COUNT_RECIPIENTS, {**params, "area": area.wkb if area is not None else None})
    by_language = {"pl": 0}
    for language, n in rows:
        by_language[language or "pl"] = by_language.get(language or "pl", 0) + n
    # As sent: with the question's answer lines in each language (questions.sms_texts).
    texts = {
        language: composition.analyse(sms, campaign.flash).as_dict()
        for language, sms in questions.sms_texts(campaign).items()
    }
    total_parts = sum(n * texts.get(lang, texts["pl"])["parts"] for lang, n in by_language.items())
    tariff = tariff_at(session, now, billing)
    recipients = sum(by_language.values())
    for language, analysis in texts.items():  # each language's share: its recipients, its parts, its cost
        analysis["recipients"] = by_language.get(language, 0)
        analysis["cost"] = str(tariff.price_per_part * analysis["parts"] * analysis["recipients"])
    warnings = []
    if recipients == 0 and campaign.follow_up_to:
        warnings.append("nobody is in this slice of the original's recipients now: sending reaches nobody")
    elif recipients == 0:
        warnings.append("no active subscriber is in the target: sending reaches nobody")
    offer = composition.offer_transliteration(campaign.body)
    translit = None
    if offer.after.parts < offer.before.parts or offer.before.encoding != offer.after.encoding:
        translit = {
            "text": offer.text,
            "parts_before": offer.before.parts,
            "parts_after": offer.after.parts,
            "encoding_after": offer.after.encoding,
            "saving": str(offer.saving(by_language["pl"], tariff.price_per_part)),
        }
    return Preview(
        recipients,
        by_language,
        texts,
        total_parts,
        tariff.price_per_part * total_parts,
        tariff.currency,
        tariff.price_per_part,
        warnings,
        translit,
    )


# ------------------------------------------------------------------------------------------- approval
def needs_approval(campaign: Campaign, settings: CampaignSettings) -> bool:
    """Alerts always need the four-eyes step when `require_approval` is on; info campaigns too unless
    `require_approval_info` is off."""
    if not settings.require_approval:
        return False
    if settings.preapproved_templates_skip_approval and templates.skips_approval(campaign) is not None:
        return False  # a pre-approved template's unchanged text (issue 16)
    return campaign.kind == CampaignKind.ALERT.value or settings.require_approval_info


def submit(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    if campaign.status not in EDITABLE:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be submitted for approval")
    freeze_target(session, campaign)  # what the approver sees and approves is what will be sent
    campaign.status = CampaignStatus.PENDING_APPROVAL.value
    campaign.submitted_at = utcnow()
    campaign.rejection_reason = None
    record(session, "campaign.submit", actor, "campaign", campaign.id)
    return campaign


def editors(campaign: Campaign) -> set[int]:
    """Everyone who wrote the campaign's text, target or severity: its author and every later editor."""
    ids = {e["user_id"] for e in campaign.edits or [] if e.get("user_id") is not None and e.get("fields")}
    if campaign.author_id is not None:
        ids.add(campaign.author_id)
    return ids


def _check_approver(campaign: Campaign, actor: User | None) -> User:
    """The actor, if they may approve or reject `campaign`; else ApprovalForbidden saying why."""
    if actor is None or not actor.has_role(Role.APPROVER):
        raise ApprovalForbidden("only an approver may approve or reject a campaign")
    if actor.id in editors(campaign):
        own = sorted({f for e in campaign.edits or [] if e.get("user_id") == actor.id for f in e.get("fields", [])})
        what = f" (you changed: {', '.join(own)})" if own else " (you wrote it)"
        raise ApprovalForbidden(
            "the four-eyes rule: a campaign must be approved by someone who wrote none of its "
            f"text, target or severity{what}; ask another approver"
        )
    return actor


def _reason(reason: Any, what: str) -> str:
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise InvalidCampaign(f"{what} needs a reason of at least {MIN_REASON} characters")
    if len(reason) > 1000:
        raise InvalidCampaign("the reason is at most 1000 characters")
    check_characters(reason, "the reason", InvalidCampaign)
    return reason.strip()


def approve(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """Approve a pending campaign; the caller then sends it (`send`; campaigns.workflow.approve does both)."""
    actor = _check_approver(campaign, actor)
    if campaign.status != CampaignStatus.PENDING_APPROVAL.value:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be approved (submit it first)")
    campaign.status = CampaignStatus.APPROVED.value
    campaign.approver_id = actor.id
    campaign.approved_at = utcnow()
    record(session, "campaign.approve", actor, "campaign", campaign.id, {"author_id": campaign.author_id})
    return campaign


def reject(session: Session, campaign: Campaign, actor: User | None, reason: Any) -> Campaign:
    actor = _check_approver(campaign, actor)
    reason = _reason(reason, "rejecting")
    if campaign.status != CampaignStatus.PENDING_APPROVAL.value:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be rejected")
    campaign.status = CampaignStatus.REJECTED.value
    campaign.rejection_reason = reason
    campaign.approver_id = actor.id
    record(session, "campaign.reject", actor, "campaign", campaign.id, {"reason": reason})
    return campaign


def override(session: Session, campaign: Campaign, actor: User | None, reason: Any) -> Campaign:
    """The emergency override: an extreme alert approved without a second person, with a reason, audited.
    Never for info campaigns or all-clears (nothing there must beat the four-eyes rule). The caller, after the
    commit, texts every approver (`campaigns.overrides.notify_approvers`); each sees a banner until one
    acknowledges it."""
    if actor is None or not actor.has_role(Role.OPERATOR, Role.APPROVER):
        raise ApprovalForbidden("only operators and approvers may use the emergency override")
    if campaign.kind != CampaignKind.ALERT.value:
        raise InvalidCampaign(
            "the emergency override is only for extreme alerts; an info campaign waits for an approver (submit it)"
        )
    if campaign.msg_type == "Cancel":
        raise InvalidCampaign("the emergency override is not for an all-clear: submit it for approval")
    if campaign.severity != Severity.EXTREME.value:
        raise InvalidCampaign("the emergency override is only for extreme alerts")
    reason = _reason(reason, "the emergency override")
    if campaign.status not in (*EDITABLE, CampaignStatus.PENDING_APPROVAL.value):
        raise CampaignStateError(f"a {campaign.status} campaign cannot be overridden")
    campaign.status = CampaignStatus.APPROVED.value
    campaign.override_reason = reason
    campaign.override_acknowledged_at = campaign.override_acknowledged_by = None
    campaign.approver_id = actor.id
    campaign.approved_at = utcnow()
    record(
        session,
        "campaign.override",
        actor,
        "campaign",
        campaign.id,
        {"reason": reason, "author_id": campaign.author_id},
        note=reason,
    )
    return campaign


# ------------------------------------------------------------------------------------------- sending
def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, settings: CampaignSettings) -> datetime | None:
    """When quiet hours end if `now` lies in them (info campaigns wait till then), else None."""
    tz = ZoneInfo(settings.timezone)
    local = now.astimezone(tz)
    start, end = _clock(settings.quiet_hours_start), _clock(settings.quiet_hours_end)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside or start == end:
        return None
    day = local.date() + timedelta(days=1) if start > end and t >= start else local.date()
    return datetime.combine(day, end, tzinfo=tz).astimezone(now.tzinfo or ZoneInfo("UTC"))


def _when_to_send(campaign: Campaign, settings: CampaignSettings, now: datetime) -> datetime | None:
    """None: now; else the time it must wait for (its schedule, or the end of quiet hours)."""
    at = campaign.scheduled_for if campaign.scheduled_for and campaign.scheduled_for > now else None
    if campaign.kind == CampaignKind.INFO.value:
        end = quiet_until(at or now, settings)
        if end is not None:
            at = end
    return at


def start_sending(
    session: Session, campaign: Campaign, actor: User | None, require_approval: bool, first: int | None = None
) -> Campaign:
    """Snapshot the recipients as message rows and mark the campaign as sending.
    The caller commits, then enqueues (campaigns.dispatch.enqueue_started: jobs must see committed rows).
    With `first`, at most that many recipients are written; when there are more, `recipients` stays None
    and `dispatch.enqueue_started` writes the rest after the first ones are on their way.
    With `require_approval`, alerts must have been approved (info campaigns need no approval)."""
    approval = require_approval and campaign.kind == CampaignKind.ALERT.value
    allowed = [CampaignStatus.APPROVED.value, CampaignStatus.SCHEDULED.value]
    if not approval:
        allowed.append(CampaignStatus.DRAFT.value)
    if campaign.status not in allowed:
        hint = (
            " (it must be approved first)"
            if approval and campaign.status in EDITABLE + (CampaignStatus.PENDING_APPROVAL.value,)
            else ""
        )
        raise CampaignStateError(f"a {campaign.status} campaign cannot be sent{hint}")
    # Lock the row so two concurrent sends cannot both snapshot and enqueue.
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    session.refresh(campaign)
    if campaign.status not in allowed:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be sent")
    exercises.check_sendable(session, campaign)  # its test group may be gone since it was composed
    if campaign.target_frozen_at is None:
        freeze_target(session, campaign)  # a caller that skipped send(); finish_snapshot reads the same copy
    if campaign.test_group_id is not None:  # an exercise or test to staff phones, not to residents
        exercises.snapshot_group(session, campaign, exercises.test_languages(campaign))
    elif campaign.follow_up_to:
        fieldwork.snapshot_slice(session, campaign)  # a slice of the original's recipients (issue 15)
    elif campaign.reference_id is not None:
        session.execute(
            _COPY_RECIPIENTS,
            {"cid": campaign.id, "original": campaign.reference_id, "languages": sorted(campaign.variants or {})},
        )
    elif first is not None:
        session.execute(_SNAPSHOT_FIRST_RECIPIENTS, {**_params(campaign), "first": first})
    else:
        session.execute(_SNAPSHOT_RECIPIENTS, _params(campaign))
    written = session.execute(select(func.count()).where(Message.campaign_id == campaign.id)).scalar_one()
    # Fewer than `first`: that was everyone. Exactly `first`: there may be more (counted by finish_snapshot).
    campaign.snapshot_pending = (
        first is not None and campaign.reference_id is None and campaign.test_group_id is None and written >= first
    )
    campaign.recipients = None if campaign.snapshot_pending else written
    campaign.status = CampaignStatus.SENDING.value
    campaign.sent_at = utcnow()
    if campaign.question:  # replies count for this campaign until then (campaigns.replies)
        campaign.replies_until = campaign.sent_at + timedelta(minutes=campaign.question["reply_minutes"])
    if campaign.recipients == 0:
        campaign.status = CampaignStatus.COMPLETED.value
        campaign.completed_at = campaign.sent_at
    record(
        session,
        "campaign.send",
        actor,
        "campaign",
        campaign.id,
        {"recipients": campaign.recipients if campaign.recipients is not None else f"{written}+"},
    )
    return campaign


def finish_snapshot(session: Session, campaign_id: int) -> Campaign | None:
    """Write the rest of a campaign's recipients (those `start_sending(first=...)` left out); idempotent.
    Returns the campaign when it did, None when another process holds it or it was already complete.
    A campaign cancelled meanwhile gets no more messages."""
    campaign = session.scalars(
        select(Campaign).where(Campaign.id == campaign_id, Campaign.snapshot_pending).with_for_update(skip_locked=True)
    ).first()
    if campaign is None:
        return None
    if campaign.status in (CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value):
        session.execute(_SNAPSHOT_RECIPIENTS, _params(campaign))
    campaign.recipients = session.scalar(select(func.count()).where(Message.campaign_id == campaign.id))
    campaign.snapshot_pending = False
    # The first messages may all be settled already; their jobs could not complete a campaign still growing.
    complete_campaigns(session, [campaign.id])
    return campaign


def send(
    session: Session,
    campaign: Campaign,
    actor: User | None,
    settings: CampaignSettings,
    now: datetime | None = None,
    first: int | None = None,
) -> bool:
    """Send now, or schedule (its own time, or the end of quiet hours for info). True when sending started:
    the caller commits and then enqueues the chunks."""
    now = now or utcnow()
    if campaign.status in SENT_STATUSES or campaign.status == CampaignStatus.CANCELLED.value:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be sent again")
    if campaign.status == CampaignStatus.SCHEDULED.value:
        raise CampaignStateError("the campaign is already scheduled")
    if needs_approval(campaign, settings) and campaign.status != CampaignStatus.APPROVED.value:
        raise CampaignStateError(f"a {campaign.status} alert cannot be sent: it must be approved first")
    if campaign.status not in (CampaignStatus.DRAFT.value, CampaignStatus.APPROVED.value):
        raise CampaignStateError(f"a {campaign.status} campaign cannot be sent")
    if campaign.target_frozen_at is None:
        freeze_target(session, campaign)  # no approval came first (approval off, or an override of a draft)
    needed = needs_approval(campaign, settings)
    if campaign.status == CampaignStatus.DRAFT.value and settings.require_approval and not needed:
        templates.approve_as_preapproved(session, campaign, actor)  # audited as such, when that is why
    at = _when_to_send(campaign, settings, now)
    if at is not None:
        campaign.status = CampaignStatus.SCHEDULED.value
        campaign.scheduled_for = at
        record(session, "campaign.schedule", actor, "campaign", campaign.id, {"at": at.isoformat()})
        return False
    start_sending(session, campaign, actor, needed, first)
    return True


# ------------------------------------------------------------------------------------------- follow-ups
def follow_up(
    session: Session,
    original: Campaign,
    actor: User | None,
    msg_type: str,
    data: dict[str, Any],
    settings: CampaignSettings,
    now: datetime | None = None,
    to: Any = None,
) -> Campaign:
    """An update or an all-clear of a sent campaign: a draft to exactly the original's recipients. With `to`
    (issue 15: "answer:<key>", "no_reply" or "failed", checked by campaigns.fieldwork.parse_slice), an update to
    that slice of them only (campaign.follow_up_to), which is not published (it speaks to some residents)."""
    if msg_type not in ("Update", "Cancel"):
        raise InvalidCampaign("msg_type is Update or Cancel")
    if original.sent_at is None or original.status not in (*SENT_STATUSES, CampaignStatus.CANCELLED.value):
        raise CampaignStateError(f"a {original.status} campaign has not been sent: nothing to follow up")
    if to is not None and msg_type != "Update":
        raise InvalidCampaign("to: only an update goes to a slice of the recipients; an all-clear goes to all")
    follow_up_to = fieldwork.parse_slice(original, to) if to is not None else None
    FollowUpInput.check(data)
    base = {
        "kind": original.kind,
        "severity": original.severity,
        "title": original.title,
        "department": original.department,
        "topic": original.topic,
        "urgency": original.urgency,
        "certainty": original.certainty,
        "category": original.category,
        "event": original.event,
        "sender_id": original.sender_id,
        "validity_minutes": original.validity_minutes,
        "zone_ids": [z.id for z in original.zones],
        "area": [targeting.as_input(s) for s in original.area_spec or []] or None,
        "cap_status": original.cap_status,
        "test_group_id": original.test_group_id,
        "confirm_real_target": original.confirm_real_target,
    }
    if msg_type == "Cancel":
        base.update(severity=Severity.MINOR.value, urgency="past", certainty="observed")
    base.update(data)
    campaign = Campaign(
        author_id=actor.id if actor else None,
        status=CampaignStatus.DRAFT.value,
        msg_type=msg_type,
        reference_id=original.id,
        follow_up_to=follow_up_to,
    )
    _apply(session, campaign, base, settings, ZoneSettings(), now or utcnow(), partial=False)
    _record_edit(campaign, actor, sorted(_content(campaign)))
    session.add(campaign)
    session.flush()
    record(
        session,
        "campaign.all_clear" if msg_type == "Cancel" else "campaign.follow_up",
        actor,
        "campaign",
        campaign.id,
        {"original": original.id, "msg_type": msg_type, **({"to": follow_up_to} if follow_up_to else {})},
    )
    return campaign


@dataclass(frozen=True)
class Progress:
    counts: dict[str, int]  # every message status, zero where none
    cost: Decimal


def campaign_progress(session: Session, campaign_ids: Sequence[int]) -> dict[int, Progress]:
    """Message counts by status and cost of several campaigns, one grouped query each (lists show many);
    the cost is what the billing ledger charged."""
    counts = {cid: {s.value: 0 for s in MessageStatus} for cid in campaign_ids}
    costs = campaign_costs(session, campaign_ids)  # what the billing ledger charged, corrections included
    rows = session.execute(
        select(Message.campaign_id, Message.status, func.count())
        .where(Message.campaign_id.in_(list(campaign_ids)))
        .group_by(Message.campaign_id, Message.status)
    ).all()
    for cid, status, n in rows:
        counts[cid][status] = n
    return {cid: Progress(counts[cid], costs[cid]) for cid in campaign_ids}


def draft_preview(
    session: Session,
    author: User | None,
    data: dict[str, Any],
    settings: CampaignSettings,
    billing: BillingSettings,
    zone_limits: ZoneSettings | None = None,
    now: datetime | None = None,
) -> tuple[Campaign, Preview]:
    """Preview of what is being composed, before it is saved: nothing is written."""
    campaign = Campaign(
        author_id=author.id if author else None, status=CampaignStatus.DRAFT.value, msg_type="Alert", variants={}
    )
    data, filled = templates.from_request(session, data, now=now or utcnow(), timezone=settings.timezone)
    _apply(session, campaign, data, settings, zone_limits or ZoneSettings(), now or utcnow(), partial=False)
    result = preview(session, campaign, billing, now)
    if filled is not None:  # issue 16: say when a filled placeholder pushes a text over a part boundary
        result.warnings.extend(filled.warnings)
        for language, (before, _after, encoding, _) in filled.boundaries.items():
            if language in result.texts:
                result.texts[language] = {
                    **result.texts[language],
                    "parts_unfilled": before,
                    "encoding_unfilled": encoding,
                }
    return campaign, result


# An alert without an expiry counts as current this long after it was sent.
CURRENT_FOR = timedelta(days=2)


def current_alerts(session: Session, now: datetime | None = None, limit: int = 50) -> Sequence[Campaign]:
    """Sent alerts (and their updates) still in force: not expired, not called off by an all-clear."""
    now = now or utcnow()
    cancelled = select(Campaign.reference_id).where(
        Campaign.msg_type == "Cancel", Campaign.sent_at.is_not(None), Campaign.reference_id.is_not(None)
    )
    superseded = select(Campaign.reference_id).where(
        Campaign.msg_type == "Update",
        Campaign.sent_at.is_not(None),
        Campaign.reference_id.is_not(None),
        Campaign.follow_up_to.is_(None),  # a follow-up to a slice leaves the original in force
    )
    query = (
        select(Campaign)
        .where(
            Campaign.kind == CampaignKind.ALERT.value,
            Campaign.cap_status == exercises.CapStatus.ACTUAL.value,  # exercises and tests are never public
            Campaign.sent_at.is_not(None),
            Campaign.msg_type != "Cancel",
            Campaign.follow_up_to.is_(None),  # a follow-up to a slice speaks to some residents, not the public
            Campaign.id.not_in(cancelled),
            Campaign.id.not_in(superseded),
            func.coalesce(Campaign.expires_at, Campaign.sent_at + CURRENT_FOR) > now,
        )
        .order_by(Campaign.sent_at.desc())
        .limit(limit)
    )
    alerts = list(session.scalars(query))
    called_off = set(session.scalars(cancelled))  # an update of a called-off alert is over too
    return [c for c in alerts if c.reference_id not in called_off]


def published(session: Session, campaign_id: int) -> Campaign:
    """A campaign the public may see as CAP: a sent alert, update or all-clear."""
    campaign = session.get(Campaign, campaign_id)
    if (
        campaign is None
        or campaign.sent_at is None
        or campaign.kind != CampaignKind.ALERT.value
        or exercises.is_exercise(campaign)  # never public
        or campaign.follow_up_to is not None  # to a slice of the recipients: not published
    ):
        raise CampaignNotFound(f"no published alert {campaign_id}")
    return campaign
