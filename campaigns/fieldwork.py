"""Issue 15, after the send: a follow-up to a slice of a campaign's recipients, and the field worklist.

A **slice** of a sent campaign (`campaign.follow_up_to` of the follow-up, `reference_id` the original):
  - "answer:<key>": the phones whose latest recognised answer (campaign_respondent.answer) is that key;
  - "no_reply": the original's delivered messages whose phone has no respondent row (the tally's "no_reply");
  - "failed": the original's messages that failed, expired or were refused by the SMSC (a refusal is stored as
    "failed" by campaigns.delivery).
Only subscribers still active get the follow-up (STOP wins over a slice); each gets it in their language now,
as the update and the all-clear do. The follow-up itself is composed, previewed, approved and sent like any
follow-up (campaigns.service.follow_up, preview, start_sending call the functions here for the slice).

The **worklist** ("failed deliveries become field work"): for one campaign, the registered addresses of the
recipients whose SMS failed, expired or was refused, and of those who answered an answer marked needs_help,
grouped by target zone (the frozen copy), then street and house number, with counts. It works for any campaign
(without a question the needs-help part is empty); the PDF for the field teams, CSV and GeoJSON for GIS.

Nothing here imports campaigns.service (which calls it); no Flask.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from billing.exports import cell_text, pdf_document
from campaigns.exceptions import InvalidCampaign
from campaigns.models import Campaign
from campaigns.questions import NO_REPLY  # the tally's bucket, one name for the slice and the count
from subscribers.gazetteer import parse_address
from syrena_core.text import spreadsheet_text
from zones import reach
from zones.service import ascii_fold

# Message statuses that mean "the SMS did not get through": the SMSC's refusal is recorded as failed
# (campaigns.delivery._MARK_REFUSED), a receipt UNDELIV/REJECTD/… as failed, EXPIRED as expired.
UNDELIVERED = ("failed", "expired")
FAILED = "failed"
ANSWER = "answer:"


# ------------------------------------------------------------------------------------------- the slice
def needs_help_keys(question: dict | None) -> list[str]:
    """The keys of the answers that ask for help (none without a question)."""
    answers = (question or {}).get("answers") or []
    return [str(a.get("key")) for a in answers if isinstance(a, dict) and a.get("needs_help")]


def answer_keys(question: dict | None) -> list[str]:
    answers = (question or {}).get("answers") or []
    return [str(a.get("key")) for a in answers if isinstance(a, dict) and a.get("key") is not None]


def parse_slice(original: Campaign, raw: Any) -> str:
    """`to` of a follow-up to a slice, checked against the original: "answer:<key>" (a key of its question),
    "no_reply" (it asked a question) or "failed". InvalidCampaign (422) names `to` and says what fits."""
    keys = answer_keys(original.question)
    offered = [*(f"{ANSWER}{k}" for k in keys), *([NO_REPLY] if keys else []), FAILED]
    if raw is None or raw == "":
        raise InvalidCampaign(f"to is required: one of {', '.join(offered)}")
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidCampaign(f"to must be one of {', '.join(offered)}")
    value = raw.strip()
    if value.startswith(ANSWER) or value == NO_REPLY:
        if not keys:
            raise InvalidCampaign(
                f"to: campaign {original.id} asked no question, so nobody answered it; "
                "only a follow-up to those whose SMS failed (to: failed) is possible"
            )
        if value.startswith(ANSWER) and value[len(ANSWER) :] not in keys:
            raise InvalidCampaign(
                f"to: campaign {original.id}'s question has no answer {value[len(ANSWER) :]!r}; "
                f"its answers are {', '.join(keys)} (to: {', '.join(offered)})"
            )
        return value
    if value == FAILED:
        return value
    raise InvalidCampaign(f"to must be one of {', '.join(offered)}")


# Who is in each slice, among the original's messages (m) of subscribers (s) still active: one predicate per
# slice, composed into the snapshot and the preview's count below (the same rule for both). A phone is matched
# to its respondent row by the message's phone, as the tally counts (campaign_respondent is keyed by phone).
# A respondent is looked up as one probe of campaign_respondent's primary key (campaign, phone) per message, its
# answer compared outside the lookup ("OFFSET 0" keeps the subquery from being turned into a join). message has
# no index on phone: a planner that starts from the respondents (it did while their statistics were not yet
# analysed, as right after a reply storm) scanned the campaign's messages once per respondent, and one that
# looked answers up by ix_campaign_respondent_answer walked all of a key's respondents per message — measured
# at 20,000 messages and 2,857 answers: 36 s and 13 s, against 0.1 s with the primary-key probe.
RESPONDENT_ANSWER = (
    "(SELECT r.answer FROM campaign_respondent r WHERE r.campaign_id = m.campaign_id AND r.phone = m.phone OFFSET 0)"
)
_IN_SLICE = {
    FAILED: f"m.status IN {UNDELIVERED!r}",
    NO_REPLY: "m.status = 'delivered' AND NOT EXISTS (SELECT 1 FROM campaign_respondent r "
    "WHERE r.campaign_id = m.campaign_id AND r.phone = m.phone OFFSET 0)",
    ANSWER: f"{RESPONDENT_ANSWER} = :answer",
}
_SLICE_MEMBERS = """
SELECT m.id, m.subscriber_id, m.phone,
       CASE WHEN coalesce(s.language, m.language) = ANY(CAST(:languages AS text[]))
            THEN coalesce(s.language, m.language) END AS language
FROM message m JOIN subscriber s ON s.id = m.subscriber_id
WHERE m.campaign_id = :original AND {active} AND {in_slice}
"""
# Written in the original's order (nearest the danger first), like the update's copy (service._COPY_RECIPIENTS).
_SNAPSHOT_SLICE = {
    kind: text(
        "INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, language)\n"
        "SELECT :cid, v.subscriber_id, v.phone, 'queued', 0, now(), v.language FROM ("
        + _SLICE_MEMBERS.format(active=reach.active("s"), in_slice=predicate)
        + ") v ORDER BY v.id\nON CONFLICT (campaign_id, subscriber_id) DO NOTHING"
    )
    for kind, predicate in _IN_SLICE.items()
}
_COUNT_SLICE = {
    kind: text(
        "SELECT v.language, count(*) FROM ("
        + _SLICE_MEMBERS.format(active=reach.active("s"), in_slice=predicate)
        + ") v GROUP BY v.language"
    )
    for kind, predicate in _IN_SLICE.items()
}


def _slice_params(follow_up_to: str, original_id: int, languages: Sequence[str]) -> tuple[str, dict[str, Any]]:
    kind = ANSWER if follow_up_to.startswith(ANSWER) else follow_up_to
    params = {"original": original_id, "languages": sorted(languages), "answer": follow_up_to[len(ANSWER) :]}
    return kind, params


def snapshot_slice(session: Session, campaign: Campaign) -> None:
    """Write the follow-up's messages: one per member of its slice of the original (campaign.reference_id)."""
    assert campaign.follow_up_to and campaign.reference_id is not None, "a follow-up to a slice"
    kind, params = _slice_params(campaign.follow_up_to, campaign.reference_id, list(campaign.variants or {}))
    session.execute(_SNAPSHOT_SLICE[kind], {**params, "cid": campaign.id})


def count_slice(
    session: Session, follow_up_to: str, original_id: int, languages: Sequence[str]
) -> list[tuple[str | None, int]]:
    """(language or None for Polish, recipients) of a slice as it stands now: what the preview counts."""
    kind, params = _slice_params(follow_up_to, original_id, languages)
    return [(language, n) for language, n in session.execute(_COUNT_SLICE[kind], params)]


def slice_sizes(session: Session, original: Campaign) -> dict[str, int]:
    """How many active subscribers each slice of `original` holds now (the campaign page's follow-up form)."""
    keys = answer_keys(original.question)
    slices = [*(f"{ANSWER}{k}" for k in keys), *([NO_REPLY] if keys else []), FAILED]
    return {s: sum(n for _, n in count_slice(session, s, original.id, [])) for s in slices}


# ------------------------------------------------------------------------------------------- the worklist
# The people of the worklist: failed/expired/refused messages, and respondents whose answer needs help (their
# message found by phone, as the tally does), once per subscriber with both reasons; then their registered
# places that lie in the campaign's target — a point inside a target zone (the frozen copy once frozen; the
# lowest zone id when zones overlap, so nobody is visited twice) or inside the drawn area, or a whole zone
# subscribed by SMS code that the target reached (target_code_zone_ids; no address). A place without an address
# text gets the nearest address point within NEAREST_ADDRESS_M metres (a pin dropped on the web form).
NEAREST_ADDRESS_M = 50
_PEOPLE = f"""
SELECT subscriber_id, min(phone) AS phone, bool_or(failed) AS failed, bool_or(needs_help) AS needs_help FROM (
    SELECT m.subscriber_id, m.phone, true AS failed, false AS needs_help FROM message m
     WHERE m.campaign_id = :cid AND m.status IN {UNDELIVERED!r} AND m.subscriber_id IS NOT NULL
    UNION ALL
    SELECT m.subscriber_id, m.phone, false, true FROM message m
     WHERE m.campaign_id = :cid AND m.subscriber_id IS NOT NULL AND cardinality(CAST(:help_keys AS text[])) > 0
       AND {RESPONDENT_ANSWER} = ANY(CAST(:help_keys AS text[]))
) p GROUP BY subscriber_id
"""
# The nearest address point by the GiST index's distance order (<->), then kept only when within the distance:
# filtering inside the ordered scan would walk every point of the city for a pin far from any address.
_WORKLIST = text(f"""
WITH per_person AS ({_PEOPLE}), targets AS (
    SELECT f.zone_id, f.name, f.geom FROM campaign_target_zone f WHERE f.campaign_id = CAST(:frozen AS int)
    UNION ALL
    SELECT z.id, z.name, z.geom FROM zone z WHERE z.id = ANY(CAST(:zone_ids AS int[]))
)
SELECT p.subscriber_id, p.phone, p.failed, p.needs_help, l.id AS location_id, l.address,
       ST_Y(l.geom) AS lat, ST_X(l.geom) AS lon,
       tz.zone_id, tz.name AS zone_name, cz.id AS code_zone_id, cz.name AS code_zone_name,
       near.street AS near_street, near.house_number AS near_number,
       ST_Y(near.geom) AS near_lat, ST_X(near.geom) AS near_lon
FROM per_person p
JOIN subscriber_location l ON l.subscriber_id = p.subscriber_id
LEFT JOIN LATERAL (
    SELECT t.zone_id, t.name FROM targets t
     WHERE l.geom IS NOT NULL AND {reach.location_in("t.geom", "l.geom")} ORDER BY t.zone_id LIMIT 1
) tz ON true
LEFT JOIN zone cz ON cz.id = l.zone_id AND l.geom IS NULL AND cz.id = ANY(CAST(:code_zone_ids AS int[]))
LEFT JOIN LATERAL (
    SELECT n.* FROM (
        SELECT a.street, a.house_number, a.geom FROM address_point a
         WHERE l.address IS NULL AND l.geom IS NOT NULL ORDER BY a.geom <-> l.geom LIMIT 1) n
     WHERE ST_DWithin(CAST(n.geom AS geography), CAST(l.geom AS geography), {NEAREST_ADDRESS_M})
) near ON true
WHERE tz.zone_id IS NOT NULL OR cz.id IS NOT NULL
   OR (l.geom IS NOT NULL AND {reach.location_in("(SELECT c.area FROM campaign c WHERE c.id = :cid)", "l.geom")})
ORDER BY p.subscriber_id, l.id
""")
# Everyone of the worklist, whatever their places: who has none in the target is listed without an address.
_WORKLIST_PEOPLE = text(_PEOPLE)
# An address text as the gazetteer knows it (street and number as the register writes them): the parsed keys of
# each text (n), its house-number variants in order of preference (rank).
_REGISTERED_ADDRESSES = text("""
SELECT DISTINCT ON (q.n) q.n, a.street, a.house_number
FROM unnest(CAST(:ns AS int[]), CAST(:streets AS text[]), CAST(:houses AS text[]), CAST(:ranks AS int[]))
     AS q(n, street, house, rank)
JOIN address_point a ON a.street_key = q.street AND a.house_key = q.house
ORDER BY q.n, q.rank, a.id
""")


@dataclass
class Address:
    """One address of a zone's worklist: how many recipients registered there failed / need help."""

    street: str | None  # None: a resident without an address (subscribed to a zone by SMS code)
    number: str
    failed: int = 0
    needs_help: int = 0
    phones: list[str] = field(default_factory=list)
    lat: float | None = None
    lon: float | None = None


@dataclass
class WorklistZone:
    zone_id: int | None  # None: the drawn area, or no registered place in the target
    name: str | None
    addresses: list[Address]

    @property
    def failed(self) -> int:
        return sum(a.failed for a in self.addresses)

    @property
    def needs_help(self) -> int:
        return sum(a.needs_help for a in self.addresses)


@dataclass
class Worklist:
    campaign_id: int
    title: str | None
    sent_at: datetime | None
    generated_at: datetime
    asked: bool  # the campaign asked a question (else the needs-help counts are empty by nature)
    zones: list[WorklistZone]
    failed_people: int  # recipients (not addresses) whose SMS did not get through
    needs_help_people: int

    @property
    def addresses(self) -> int:
        return sum(len(z.addresses) for z in self.zones)


_NUMBER_AT_END = re.compile(r"^(?P<street>.*?\D)\s*(?P<number>\d+\s?[A-Za-z]?(?:\s?[/-]\s?\d+[A-Za-z]?)?)$")
_POSTCODE = re.compile(r"\b\d{2}-\d{3}\b")


def split_address(typed: str) -> tuple[str, str]:
    """An address text as people typed it, split into street and house number for display when the gazetteer
    does not know it: 'ul. Głogowska 10/2, 60-111 Poznań' → ('ul. Głogowska', '10/2'); no number → ('…', '')."""
    head = typed.split(",")[0].strip() if "," in typed else _POSTCODE.sub("", typed).strip()
    match = _NUMBER_AT_END.match(head)
    if match is None:
        return head, ""
    return match["street"].strip(" ,"), re.sub(r"\s+", "", match["number"])


def _registered(session: Session, texts: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Address texts → (street, number) as the gazetteer writes them, for those it knows (one statement)."""
    ns, streets, houses, ranks = [], [], [], []
    for n, typed in enumerate(texts):
        parsed = parse_address(typed)
        if not parsed.street or parsed.house is None:
            continue
        # "10/2" is a flat in house 10 in most registers; a building may be numbered "14/16" itself.
        for rank, house in enumerate(dict.fromkeys([parsed.house, re.split(r"[/-]", parsed.house)[0]])):
            ns.append(n)
            streets.append(parsed.street)
            houses.append(house)
            ranks.append(rank)
    if not ns:
        return {}
    rows = session.execute(_REGISTERED_ADDRESSES, {"ns": ns, "streets": streets, "houses": houses, "ranks": ranks})
    return {texts[n]: (street, number) for n, street, number in rows}


def _fold(value: str) -> str:
    return ascii_fold(value).casefold()


def house_order(number: str) -> tuple[int, str]:
    """Natural order of house numbers: 2 < 10 < 10a < 10/2 < 12."""
    match = re.match(r"\d+", number)
    return (int(match.group()) if match else math.inf, number.casefold())  # type: ignore[return-value]


def build_worklist(session: Session, campaign: Campaign, now: datetime) -> Worklist:
    """The campaign's worklist as it stands now (receipts and replies still coming change it)."""
    frozen = campaign.target_frozen_at is not None
    help_keys = needs_help_keys(campaign.question)
    params = {
        "cid": campaign.id,
        "help_keys": help_keys,
        "frozen": campaign.id if frozen else None,
        "zone_ids": [] if frozen else [z.id for z in campaign.zones],
        "code_zone_ids": list(campaign.target_code_zone_ids or []),
    }
    rows = session.execute(_WORKLIST, params).all()
    people = session.execute(_WORKLIST_PEOPLE, {"cid": campaign.id, "help_keys": help_keys}).all()
    known = _registered(session, sorted({r.address for r in rows if r.address}))

    # zone → (street, number) → Address; each recipient counted once per address and zone
    zones: dict[tuple[int | None, str | None], dict[tuple[str | None, str], Address]] = defaultdict(dict)
    counted: set[tuple[Any, ...]] = set()
    placed: set[int] = set()

    def add(zone: tuple[int | None, str | None], street: str | None, number: str, row: Any, lat: Any, lon: Any):
        key = (street, number)
        address = zones[zone].get(key)
        if address is None:
            address = zones[zone][key] = Address(street, number, lat=lat, lon=lon)
        if (zone, key, row.subscriber_id) in counted:
            return
        counted.add((zone, key, row.subscriber_id))
        address.failed += int(bool(row.failed))
        address.needs_help += int(bool(row.needs_help))
        address.phones.append(row.phone)
        placed.add(row.subscriber_id)

    for row in rows:
        if row.zone_id is not None:
            zone = (row.zone_id, row.zone_name)
        elif row.code_zone_id is not None:
            zone = (row.code_zone_id, row.code_zone_name)
        else:
            zone = (None, None)  # inside the drawn area only
        if row.lat is None:  # a zone subscribed by SMS code: no address to visit
            add(zone, None, "", row, None, None)
        elif row.address:
            street, number = known.get(row.address) or split_address(row.address)
            add(zone, street, number, row, row.lat, row.lon)
        elif row.near_street is not None:
            add(zone, row.near_street, row.near_number, row, row.near_lat, row.near_lon)
        else:
            add(zone, None, "", row, row.lat, row.lon)
    for subscriber_id, phone, failed, needs_help in people:
        if subscriber_id not in placed:  # no registered place in the target (moved since the send)
            add((None, None), None, "", _Row(subscriber_id, phone, failed, needs_help), None, None)

    ordered = sorted(zones.items(), key=lambda item: (item[0][1] is None, _fold(item[0][1] or ""), item[0][0] or 0))
    return Worklist(
        campaign_id=campaign.id,
        title=campaign.title,
        sent_at=campaign.sent_at,
        generated_at=now,
        asked=bool(answer_keys(campaign.question)),
        zones=[
            WorklistZone(
                zone_id,
                name,
                sorted(
                    addresses.values(),
                    key=lambda a: (a.street is None, _fold(a.street or ""), house_order(a.number)),
                ),
            )
            for (zone_id, name), addresses in ordered
        ],
        failed_people=sum(1 for p in people if p[2]),
        needs_help_people=sum(1 for p in people if p[3]),
    )


@dataclass(frozen=True)
class _Row:
    subscriber_id: int
    phone: str
    failed: bool
    needs_help: bool


# ------------------------------------------------------------------------------------------- the exports
DEFAULT_LABELS: dict[str, str] = {
    "title": "Field worklist",
    "campaign": "Campaign",
    "sent": "Sent",
    "generated": "Generated",
    "zone": "Zone",
    "street": "Street",
    "number": "No.",
    "failed": "SMS failed",
    "needs_help": "Needs help",
    "total": "Total",
    "no_zone": "Drawn area / no target zone",
    "no_address": "No address (subscribed by SMS code)",
    "no_question": "The campaign asked no question: only failed deliveries are listed.",
    "empty": "Nobody to visit: every SMS was delivered and nobody asked for help.",
    "summary": "Recipients whose SMS failed: {failed}; who asked for help: {needs_help}.",
}


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {**DEFAULT_LABELS, **(labels or {})}


def worklist_csv(worklist: Worklist, labels: Mapping[str, str] | None = None) -> str:
    """One line per address: zone, street, number, counts and the phones (personal data: staff only)."""
    words = _labels(labels)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["zone_id", "zone", "street", "house_number", "failed", "needs_help", "phones", "lat", "lon"])
    for zone in worklist.zones:
        for a in zone.addresses:
            values = [
                "" if zone.zone_id is None else zone.zone_id,
                cell_text(zone.name or words["no_zone"]),
                cell_text(a.street or words["no_address"]),
                cell_text(a.number),
                a.failed,
                a.needs_help,
                _Phones(" ".join(a.phones)),
                "" if a.lat is None else round(a.lat, 6),
                "" if a.lon is None else round(a.lon, 6),
            ]
            # Streets and zone names are anyone's text: none may become a live formula in a spreadsheet. Phones
            # are E.164 (subscribers.service.normalise_phone: "+" and digits), stored by us: written as they are.
            writer.writerow([spreadsheet_text(v) if type(v) is str else v for v in values])
    return out.getvalue()


class _Phones(str):
    """A CSV cell of E.164 phones: no formula can hide in "+" and digits."""


def worklist_geojson(worklist: Worklist) -> dict[str, Any]:
    """RFC 7946 FeatureCollection: a Point per address (null geometry for residents without one)."""
    features = []
    for zone in worklist.zones:
        for a in zone.addresses:
            features.append(
                {
                    "type": "Feature",
                    "geometry": None
                    if a.lat is None or a.lon is None
                    else {"type": "Point", "coordinates": [round(a.lon, 7), round(a.lat, 7)]},
                    "properties": {
                        "zone_id": zone.zone_id,
                        "zone": zone.name,
                        "street": a.street,
                        "house_number": a.number,
                        "failed": a.failed,
                        "needs_help": a.needs_help,
                        "phones": list(a.phones),
                    },
                }
            )
    return {
        "type": "FeatureCollection",
        "features": features,
        # Foreign members (RFC 7946 §6.1): what the list is of.
        "campaign_id": worklist.campaign_id,
        "generated_at": worklist.generated_at.isoformat(),
        "question_asked": worklist.asked,
    }


def worklist_pdf(worklist: Worklist, timezone: str, labels: Mapping[str, str] | None = None) -> bytes:
    """The printable list for the field teams (A4): per zone, street → house numbers with the counts of failed
    SMS and of calls for help. No phone numbers on paper (paper gets lost); the CSV has them."""
    words = _labels(labels)
    local = ZoneInfo(timezone)
    title = f"{words['title']} — {words['campaign']} #{worklist.campaign_id}"
    pdf = pdf_document(f"Syrena — {title}")
    pdf.add_page()
    pdf.set_font("Source", "B", 16)
    pdf.multi_cell(0, 8, cell_text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Source", "", 10)
    if worklist.title:
        pdf.multi_cell(0, 6, cell_text(worklist.title), new_x="LMARGIN", new_y="NEXT")
    stamp = f"{words['generated']}: {worklist.generated_at.astimezone(local):%Y-%m-%d %H:%M} {timezone}"
    if worklist.sent_at is not None:
        stamp = f"{words['sent']}: {worklist.sent_at.astimezone(local):%Y-%m-%d %H:%M} · {stamp}"
    pdf.cell(0, 6, stamp, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        words["summary"].format(failed=worklist.failed_people, needs_help=worklist.needs_help_people),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if not worklist.asked:
        pdf.cell(0, 6, words["no_question"], new_x="LMARGIN", new_y="NEXT")
    if not worklist.zones:
        pdf.ln(4)
        pdf.cell(0, 8, words["empty"], new_x="LMARGIN", new_y="NEXT")
    widths = (95, 25, 30, 30)

    def header() -> None:
        pdf.set_font("Source", "B", 10)
        for label, width, align in zip(
            (words["street"], words["number"], words["failed"], words["needs_help"]), widths, "LLRR", strict=True
        ):
            pdf.cell(width, 7, label, border="B", align=align)
        pdf.ln()
        pdf.set_font("Source", "", 10)

    for zone in worklist.zones:
        pdf.ln(4)
        if pdf.will_page_break(30):
            pdf.add_page()
        pdf.set_font("Source", "B", 13)
        heading = zone.name or words["no_zone"]
        pdf.cell(0, 8, f"{words['zone']}: {cell_text(heading)}", new_x="LMARGIN", new_y="NEXT")
        header()
        previous: str | None = ""
        for a in zone.addresses:
            if pdf.will_page_break(7):
                pdf.add_page()
                header()
                previous = ""  # the street again at the top of a new page
            street = a.street or words["no_address"]
            shown = cell_text(street) if street != previous else ""
            previous = street
            pdf.cell(widths[0], 7, shown[:60])
            pdf.cell(widths[1], 7, cell_text(a.number)[:12])
            pdf.cell(widths[2], 7, str(a.failed or ""), align="R")
            pdf.cell(widths[3], 7, str(a.needs_help or ""), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Source", "B", 10)
        pdf.cell(widths[0] + widths[1], 7, words["total"], border="T")
        pdf.cell(widths[2], 7, str(zone.failed), align="R", border="T")
        pdf.cell(widths[3], 7, str(zone.needs_help), align="R", border="T", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
