"""Residents' reports to the city's one number (issue 15): `ZGŁOŚ <what and where>` (also ZGLOS, ZGŁOSZENIE, RAPORT,
UWAGA; REPORT in English; ЗВЕРНЕННЯ, ПОВІДОМЛЕННЯ, УВАГА in Ukrainian) becomes a report in the crisis staff's inbox.

Intake (`file_reports`, called by the keyword handler for the REPORT commands of a batch of MO):
- the text is everything after the keyword, from the stored MO (long and UCS-2 MO arrive joined: the gateway's
  MoAssembler), up to MAX_TEXT characters;
- the place: an address the gazetteer finds in the free text with confidence (a word window ending in a house
  number, found exactly or by one clear typo-tolerant match), else the sender's registered place (an active
  subscriber's first place; a place subscribed by zone code gives the zone only), else none; the zone is the
  smallest live zone holding the point;
- limits: `[subscribers] report_phone_per_hour` per phone and `report_city_per_hour` for the whole city, counted
  together in Redis (a report refused by one takes nothing from the other). A refused report is not stored (its
  MO stays in inbound_message) and gets one "limit reached" SMS per phone and hour, then silence: pumping reports
  beyond the limit costs nothing. Without Redis a report is taken uncounted (and logged) rather than lost;
- the reply: the report's number, in the sender's language (Polish and English folded to GSM-7, Ukrainian in
  Cyrillic), never anything about anybody else.

Inbox (the views call these): `list_reports`, `get_report`, `update_report` (status, assignee, internal note)
and `add_reply` (an SMS to the reporter, sent by subscribers.jobs.send_report_reply). Every change is audited.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from geoalchemy2.shape import to_shape
from redis import Redis
from redis.exceptions import RedisError
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from smsc_gateway.encoding import segment
from subscribers.exceptions import InvalidReportChange, ReportNotFound
from subscribers.gazetteer import Geocoder, GeocodeResult, GeocodeStatus
from subscribers.keywords import Command
from subscribers.models import (
    ReportStatus,
    ResidentReport,
    ResidentReportNote,
    Subscriber,
    SubscriberStatus,
)
from subscribers.phones import mask_phone, masked_phone
from syrena_core.accounts import Role, User
from syrena_core.audit import record
from syrena_core.config import SubscriberSettings
from syrena_core.db import utcnow
from syrena_core.text import check_characters
from zones.models import Zone
from zones.service import ascii_fold

log = logging.getLogger("syrena.subscribers.reports")

MAX_TEXT = 2000  # characters of a report kept: a 13-part GSM-7 SMS, 30 UCS-2 parts; nobody types more by phone
MAX_NOTE = 2000
# A free-text address is taken only when the gazetteer is this sure of it (1.0: the street as registered; a typo
# or a Polish case ending, "Głogowskiej 77", scores about 0.5-0.7; "przy 7" matches nothing near that).
CONFIDENT_SCORE = 0.5
# Words before a house number tried as the street ("Św. Marcin 12", "Aleje Marcinkowskiego 3"), and how many
# house numbers of one text are tried at most (a report is a sentence, not a list).
STREET_WORDS = 3
MAX_NUMBERS = 4
_TOKEN = re.compile(r"[^\s,;:!?()\"]+")
_HOUSE = re.compile(r"^\d{1,4}[a-zA-Z]?(?:[/-]\d{1,4}[a-zA-Z]?)?\.?$")
_WORD = re.compile(r"[^\W\d_]{3,}")

REDIS_PREFIX = "syrena:reports"
WINDOW = 3600  # seconds: both limits are "per hour", in fixed windows

# KEYS[1] the phone's counter, KEYS[2] the city's; ARGV: their limits, then the window's expiry. Returns 0 when
# both had room (both counted), 1 when the phone's is full, 2 when the city's is (nothing counted). One script, so
# two workers cannot both take the last report of an hour.
_TAKE = """
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return 2 end
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 1 end
redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('INCR', KEYS[2]) redis.call('EXPIRE', KEYS[2], ARGV[3])
return 0
"""

# Polish and English are folded to GSM-7 (one diacritic would make the SMS UCS-2, twice the price per character);
# Ukrainian is Cyrillic, UCS-2 whatever we do. Each fits one part.
TEXTS = {
    "pl": {
        "received": "Syrena: przyjeto zgloszenie nr {number}. Dziekujemy. W naglym zagrozeniu dzwon 112.",
        "empty": "Syrena: napisz, co sie dzieje i gdzie, np. ZGLOS zalana piwnica, Glogowska 10.",
        "phone": "Syrena: z tego numeru bylo juz {limit} zgloszen w tej godzinie. Kolejne przyjmiemy za {minutes} min. "
        "W naglym zagrozeniu dzwon 112.",
        "city": "Syrena: linia zgloszen jest przeciazona, zgloszenia nie przyjeto. Sprobuj za {minutes} min. "
        "W naglym zagrozeniu dzwon 112.",
    },
    "en": {
        "received": "Syrena: report no. {number} received. Thank you. In an emergency call 112.",
        "empty": "Syrena: say what is happening and where, e.g. REPORT flooded cellar, Glogowska 10.",
        "phone": "Syrena: this number sent {limit} reports this hour. The next is accepted in {minutes} min. "
        "In an emergency call 112.",
        "city": "Syrena: the report line is overloaded, your report was not taken. Try again in {minutes} min. "
        "In an emergency call 112.",
    },
    "uk": {
        "received": "Syrena: звернення № {number} прийнято. Дякуємо. У разі небезпеки дзвоніть 112.",
        "empty": "Syrena: напишіть, що сталося і де, напр. ЗВЕРНЕННЯ затоплений підвал, Głogowska 10.",
        "phone": "Syrena: з цього номера вже {limit} звернень за годину. Наступне - через {minutes} хв. "
        "У разі небезпеки дзвоніть 112.",
        "city": "Syrena: лінія звернень перевантажена, звернення не прийнято. Спробуйте через {minutes} хв. "
        "У разі небезпеки дзвоніть 112.",
    },
}


def reply_text(language: str, key: str, **values: Any) -> str:
    language = language if language in TEXTS else "pl"
    rendered = TEXTS[language][key].format(**values)
    return rendered if language == "uk" else ascii_fold(rendered)


# ------------------------------------------------------------------ limits


class ReportLimits:
    """The per-phone and city-wide hourly limits on reports, in Redis (shared by every worker)."""

    def __init__(self, redis: Redis, settings: SubscriberSettings):
        self.redis, self.settings = redis, settings
        self._take = redis.register_script(_TAKE)

    def take(self, phone: str, now: float | None = None) -> tuple[str, int] | None:
        """Count one report of `phone`; None when taken, else which limit is full ("phone" or "city") and the
        seconds until its window ends (nothing counted then)."""
        now = time.time() if now is None else now
        window = int(now) // WINDOW
        try:
            full = int(
                self._take(
                    keys=[f"{REDIS_PREFIX}:phone:{phone}:{window}", f"{REDIS_PREFIX}:city:{window}"],
                    args=[self.settings.report_phone_per_hour, self.settings.report_city_per_hour, WINDOW + 60],
                )
            )
        except RedisError:
            # Without its counters nobody can tell whether a limit is reached: in a crisis a lost report costs more
            # than an SMS, so the report is taken (and the outage logged) rather than lost.
            log.warning("report limits unavailable (Redis): the report from %s is taken uncounted", mask_phone(phone))
            return None
        if full == 0:
            return None
        return ("phone" if full == 1 else "city"), max(1, math.ceil(WINDOW - now % WINDOW))

    def first_refusal(self, phone: str) -> bool:
        """True once per phone and hour: whether this refusal is answered (the later ones are not, so that
        pumping reports past a limit costs the city nothing)."""
        return bool(self.redis.set(f"{REDIS_PREFIX}:refused:{phone}", "1", nx=True, ex=WINDOW))


# ------------------------------------------------------------------ place


def address_candidates(text: str) -> list[str]:
    """Street-and-number phrases a free text may hold, most specific last: for each house number (at most
    MAX_NUMBERS), the 1..STREET_WORDS words before it. "zalana piwnica, ul. Głogowska 77" → "ul. Głogowska 77",
    "Głogowska 77", "piwnica ul. Głogowska 77"… (the comma ends a phrase: it never spans two)."""
    found: list[str] = []
    numbers = 0
    for clause in re.split(r"[,;\n]", text):
        tokens = _TOKEN.findall(clause)
        for i, token in enumerate(tokens):
            if i == 0 or not _HOUSE.match(token):
                continue
            numbers += 1
            if numbers > MAX_NUMBERS:
                return found
            house = token.rstrip(".")
            for n in range(1, STREET_WORDS + 1):
                words = tokens[max(0, i - n) : i]
                if len(words) < n or any(_HOUSE.match(w) for w in words) or not any(_WORD.search(w) for w in words):
                    break
                found.append(" ".join([*words, house]))
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Place:
    source: str  # "text", "registered" or "none"
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    zone_id: int | None = None


NO_PLACE = Place("none")


def place_in_text(candidates: Sequence[str], geocoded: dict[str, GeocodeResult]) -> Place | None:
    """The address the gazetteer is sure of among the candidates (the surest; the first of equals), or None."""
    best = None
    for candidate in candidates:
        result = geocoded.get(candidate)
        match = result.found if result is not None and result.status == GeocodeStatus.FOUND else None
        if match is not None and match.score >= CONFIDENT_SCORE and (best is None or match.score > best.score):
            best = match
    if best is None:
        return None
    return Place("text", best.label[:200], best.lat, best.lon)


def registered_place(subscriber: Subscriber | None) -> Place | None:
    """An active subscriber's first place with a point; else the first zone subscribed by its code."""
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE.value:
        return None
    for location in subscriber.locations:
        if location.geom is not None:
            point = cast(Point, to_shape(location.geom))
            return Place("registered", (location.address or location.label)[:200], point.y, point.x)
    for location in subscriber.locations:
        if location.zone_id is not None:
            return Place("registered", location.label[:200], zone_id=location.zone_id)
    return None


# The live zone a report belongs to: the smallest holding the point (a district inside a wider warning area is
# the more useful answer for whoever goes there); one statement per located report.
_ZONE_AT = text("""
SELECT id FROM zone
WHERE archived_at IS NULL AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
ORDER BY ST_Area(geom), id LIMIT 1
""")


def zone_of(session: Session, place: Place) -> int | None:
    if place.lat is not None and place.lon is not None:
        return session.scalar(_ZONE_AT, {"lat": place.lat, "lon": place.lon})
    if place.zone_id is not None:
        live = session.scalar(select(Zone.id).where(Zone.id == place.zone_id, Zone.archived_at.is_(None)))
        return live
    return None


# ------------------------------------------------------------------ intake


@dataclass(frozen=True)
class Incoming:
    """A REPORT command of the batch: the stored MO's id and full text, its sender, the parsed command."""

    inbound_id: int
    phone: str
    full_text: str
    command: Command
    received_at: datetime | None = None


def report_text(full_text: str) -> str:
    """The MO without its keyword (the first word), trimmed to MAX_TEXT; line breaks kept."""
    rest = re.split(r"\s+", (full_text or "").replace("\x00", " ").strip(), maxsplit=1)
    body = rest[1] if len(rest) > 1 else ""
    return body.lstrip(":.,-–— ").strip()[:MAX_TEXT]


def file_reports(
    session: Session,
    items: Sequence[Incoming],
    subscribers: dict[str, Subscriber | None],
    geocoder: Geocoder,
    limits: ReportLimits,
) -> dict[int, str]:
    """Store the reports of a batch and say what to answer each, by inbound id ("" = no answer: a repeated
    refusal). `subscribers`: the senders' Subscriber (or None), as the keyword batch read them."""
    answers: dict[int, str] = {}
    accepted: list[tuple[Incoming, str, str]] = []
    for item in items:
        subscriber = subscribers.get(item.phone)
        language = item.command.language or (subscriber.language if subscriber is not None else None) or "pl"
        body = report_text(item.full_text)
        if not body:
            answers[item.inbound_id] = reply_text(language, "empty")
            continue
        refused = limits.take(item.phone)
        if refused is not None:
            which, retry_after = refused
            limit = _limit_of(limits.settings, which)
            answers[item.inbound_id] = (
                reply_text(language, which, limit=limit, minutes=math.ceil(retry_after / 60))
                if limits.first_refusal(item.phone)
                else ""
            )
            continue
        accepted.append((item, language, body))
    if not accepted:
        return answers
    candidates = {item.inbound_id: address_candidates(body) for item, _language, body in accepted}
    everything = [c for found in candidates.values() for c in found]
    geocoded = geocoder.geocode_many(session, everything) if everything else {}
    reports = []
    for item, language, body in accepted:
        subscriber = subscribers.get(item.phone)
        place = place_in_text(candidates[item.inbound_id], geocoded) or registered_place(subscriber) or NO_PLACE
        report = ResidentReport(
            phone=item.phone,
            subscriber_id=subscriber.id if subscriber is not None else None,
            text=body,
            language=language if language in TEXTS else "pl",
            status=ReportStatus.NEW.value,
            address=place.address,
            location=f"SRID=4326;POINT({place.lon} {place.lat})" if place.lat is not None else None,
            location_source=place.source,
            zone_id=zone_of(session, place),
            inbound_ids=[item.inbound_id],
            received_at=item.received_at or utcnow(),
            updated_at=utcnow(),
        )
        session.add(report)
        reports.append((item, language, report))
    session.flush()
    for item, language, report in reports:
        record(
            session,
            "report.create",
            None,
            "resident_report",
            report.id,
            {"source": "sms", "inbound_id": item.inbound_id, "location_source": report.location_source},
        )
        answers[item.inbound_id] = reply_text(language, "received", number=report.id)
    return answers


def _limit_of(settings: SubscriberSettings, which: str) -> int:
    return settings.report_phone_per_hour if which == "phone" else settings.report_city_per_hour


# ------------------------------------------------------------------ inbox

STATUSES = tuple(s.value for s in ReportStatus)
# Who may be assigned a report: those who may work on it.
ASSIGNABLE_ROLES = (Role.ADMIN.value, Role.OPERATOR.value)


def check_status(value: Any, field: str = "status") -> str | None:
    """None for no filter/change; a known status; else InvalidReportChange naming the field."""
    if value is None or value == "":
        return None
    if value not in STATUSES:
        raise InvalidReportChange(f"{field} must be one of {', '.join(STATUSES)}", field)
    return str(value)


def list_reports(
    session: Session,
    status: str | None = None,
    zone_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[ResidentReport]]:
    """Reports newest first, filtered; (how many match, the page)."""
    query = select(ResidentReport)
    if status:
        query = query.where(ResidentReport.status == check_status(status))
    if zone_id is not None:
        query = query.where(ResidentReport.zone_id == zone_id)
    if since is not None:
        query = query.where(ResidentReport.received_at >= since)
    if until is not None:
        query = query.where(ResidentReport.received_at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ResidentReport.received_at.desc(), ResidentReport.id.desc()).limit(limit).offset(offset)
    ).all()
    return total, list(rows)


def status_counts(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(select(ResidentReport.status, func.count()).group_by(ResidentReport.status)):
        counts[status] = count
    return counts


def get_report(session: Session, report_id: Any, lock: bool = False) -> ResidentReport:
    if not isinstance(report_id, int) or isinstance(report_id, bool) or not 0 < report_id < 2**31:
        raise ReportNotFound(f"no report {report_id}")
    query = select(ResidentReport).where(ResidentReport.id == report_id).options(selectinload(ResidentReport.notes))
    report = session.scalar(query.with_for_update(of=ResidentReport) if lock else query)
    if report is None:
        raise ReportNotFound(f"no report {report_id}: it may have been erased")
    return report


def assignable_users(session: Session) -> list[User]:
    return list(
        session.scalars(select(User).where(User.active.is_(True), User.role.in_(ASSIGNABLE_ROLES)).order_by(User.email))
    )


_UNSET: Any = object()


def _check_assignee(session: Session, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise InvalidReportChange("assignee_id must be a user's id (or null to unassign)", "assignee_id")
    user = session.get(User, value)
    if user is None or not user.active or user.role not in ASSIGNABLE_ROLES:
        raise InvalidReportChange(
            f"assignee_id {value} is not an active operator or administrator: pick one of them", "assignee_id"
        )
    return value


def _check_text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidReportChange(f"{field} is empty: write something", field)
    value = value.strip()
    if len(value) > limit:
        raise InvalidReportChange(f"{field} has {len(value)} characters: at most {limit}", field)
    try:
        check_characters(value, field)
    except ValueError as e:
        raise InvalidReportChange(str(e), field) from None
    return value


def update_report(
    session: Session,
    report_id: int,
    actor: User,
    status: Any = _UNSET,
    assignee_id: Any = _UNSET,
    note: Any = _UNSET,
) -> ResidentReport:
    """Change a report's status and/or assignee and/or add an internal note; all checked before anything
    changes, then audited (the changed fields' old and new values; a note by its id)."""
    new_status = check_status(status) if status is not _UNSET else None
    if status is not _UNSET and new_status is None:
        raise InvalidReportChange(f"status must be one of {', '.join(STATUSES)}", "status")
    new_assignee = _check_assignee(session, assignee_id) if assignee_id is not _UNSET else None
    note_text = _check_text(note, "note", MAX_NOTE) if note is not _UNSET and note is not None else None
    report = get_report(session, report_id, lock=True)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if new_status is not None and new_status != report.status:
        before["status"], after["status"] = report.status, new_status
        report.status = new_status
    if assignee_id is not _UNSET and new_assignee != report.assignee_id:
        before["assignee_id"], after["assignee_id"] = report.assignee_id, new_assignee
        report.assignee_id = new_assignee
    if after:
        report.updated_at = utcnow()
        record(session, "report.update", actor, "resident_report", report.id, before=before, after=after)
    if note_text is not None:
        added = ResidentReportNote(report_id=report.id, author_id=actor.id, kind="note", body=note_text)
        report.notes.append(added)
        report.updated_at = utcnow()
        session.flush()
        record(session, "report.note", actor, "resident_report", report.id, {"note_id": added.id})
    return report


def check_reply(body: Any, max_parts: int) -> str:
    """The reply's text, or InvalidReportChange("body"): empty, unsafe characters, or more SMS parts than
    `max_parts` ([campaigns] max_parts, as for every other SMS)."""
    body = _check_text(body, "body", 153 * max(1, max_parts))
    parts = segment(body).parts
    if parts > max_parts:
        raise InvalidReportChange(f"body needs {parts} SMS parts; at most {max_parts} are allowed", "body")
    return body


def add_reply(session: Session, report_id: int, actor: User, body: Any, max_parts: int) -> ResidentReportNote:
    """Record an SMS reply to the reporter (queued: subscribers.jobs sends it); a new report is in progress from
    then on. Audited. The caller commits and enqueues the sending (subscribers.jobs.submit_report_reply)."""
    text_ = check_reply(body, max_parts)
    report = get_report(session, report_id, lock=True)
    reply = ResidentReportNote(report_id=report.id, author_id=actor.id, kind="reply", body=text_, sms_status="queued")
    report.notes.append(reply)
    changed: dict[str, Any] = {}
    if report.status == ReportStatus.NEW.value:
        changed = {"status": ReportStatus.IN_PROGRESS.value}
        report.status = ReportStatus.IN_PROGRESS.value
    report.updated_at = utcnow()
    session.flush()
    record(
        session,
        "report.reply",
        actor,
        "resident_report",
        report.id,
        {"note_id": reply.id, "parts": segment(text_).parts},
        before={"status": ReportStatus.NEW.value} if changed else None,
        after=changed or None,
    )
    return reply


# ------------------------------------------------------------------ what staff see


def sees_phone(role: str) -> bool:
    """Operators and admins see the reporter's number and registered place; approvers (read-only) see the number
    masked and only a place the resident named in the report."""
    return role in ASSIGNABLE_ROLES


def shown_place(report: ResidentReport, full: bool) -> tuple[str | None, float | None, float | None]:
    """(address, lat, lon) of a report as a reader may see it: a registered place is the resident's home."""
    if report.location_source == "registered" and not full:
        return None, None, None
    if report.location is None:
        return report.address, None, None
    point = cast(Point, to_shape(report.location))
    return report.address, point.y, point.x


def zone_names(session: Session, zone_ids: Sequence[int | None]) -> dict[int, str]:
    ids = sorted({z for z in zone_ids if z is not None})
    if not ids:
        return {}
    return dict(session.execute(select(Zone.id, Zone.name).where(Zone.id.in_(ids))).all())


def user_emails(session: Session, user_ids: Sequence[int | None]) -> dict[int, str]:
    ids = sorted({u for u in user_ids if u is not None})
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def report_dict(
    report: ResidentReport,
    full: bool,
    zones: dict[int, str],
    users: dict[int, str],
    with_notes: bool = False,
) -> dict[str, Any]:
    address, lat, lon = shown_place(report, full)
    out: dict[str, Any] = {
        "id": report.id,
        "status": report.status,
        "text": report.text,
        "phone": report.phone if full else masked_phone(report.phone),
        "language": report.language,
        "address": address,
        "lat": lat,
        "lon": lon,
        "location_source": report.location_source if address or lat is not None else "none",
        "zone_id": report.zone_id,
        "zone": zones.get(report.zone_id) if report.zone_id is not None else None,
        "assignee_id": report.assignee_id,
        "assignee": users.get(report.assignee_id) if report.assignee_id is not None else None,
        "received_at": report.received_at.isoformat(),
        "updated_at": report.updated_at.isoformat(),
    }
    if with_notes:
        out["notes"] = [
            {
                "id": n.id,
                "kind": n.kind,
                "body": n.body,
                "author_id": n.author_id,
                "author": users.get(n.author_id) if n.author_id is not None else None,
                "created_at": n.created_at.isoformat(),
                "sms_status": n.sms_status,
                "sent_at": n.sent_at.isoformat() if n.sent_at else None,
            }
            for n in report.notes
        ]
    return out


def people_of(reports: Sequence[ResidentReport]) -> list[int | None]:
    """The users a list of reports names (assignees and note authors), for user_emails."""
    return [r.assignee_id for r in reports] + [n.author_id for r in reports for n in r.notes]
