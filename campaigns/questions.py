"""A campaign's question with numbered answers (issue 15): its rules, the answer lines sent with it, the tallies.

A question is `{"answers": [{"key": "1", "label": {"pl": "…", "en": "…"}, "needs_help": false}, …],
"reply_minutes": 720}` (campaign.question; the API's contract shape). This module is the one home of:

- what a valid question is (`validate_question`): 2–5 answers, keys "1"…"5" unique, a label in Polish AND in
  every language the campaign has a text (variant) for — that language's recipients read the answer lines in
  it, so a missing label would put Polish lines under an English text; labels in other languages are optional
  (the recognition of replies, campaigns.replies, uses every label given). Labels are unique per language (a
  reply naming a label must point at one answer). `reply_minutes` 15 min – 7 days, default 12 h.
- what is sent (`sms_text`): the language's text, a line break, then `answer_lines`. The preview, the cost,
  the time-to-warn estimate, the parts check against `[campaigns] max_parts` and the sending job all call it,
  so what is counted is what is sent. The public copies (CAP, Atom, the alerts page) carry the text alone:
  the answer lines are for the SMS recipients.
- the tallies and the list of replies (`tally`, `by_zone`, `replies`, `silent`): set-based SQL below.

Errors are `InvalidQuestion` (an InvalidCampaign: HTTP 422) whose message starts with the field it names,
e.g. `question.answers[2].label.pl: …`; `NoQuestion` (HTTP 409) for replies asked of a campaign without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from campaigns.exceptions import CampaignStateError, InvalidCampaign
from smsc_gateway.encoding import characters_outside_gsm
from subscribers.schemas import LANGUAGES
from syrena_core.audit import record
from syrena_core.text import check_characters
from zones import reach

MIN_ANSWERS, MAX_ANSWERS = 2, 5
KEYS = tuple(str(k) for k in range(1, MAX_ANSWERS + 1))
DEFAULT_REPLY_MINUTES = 12 * 60
MIN_REPLY_MINUTES = 15  # a shorter window closes before most recipients have read the SMS
MAX_REPLY_MINUTES = 7 * 24 * 60  # a week: later replies would be tied to a crisis long over
MAX_LABEL = 40  # characters: a label is read in an SMS line, and a reply may repeat it
QUESTION_FIELDS = ("answers", "reply_minutes")
ANSWER_FIELDS = ("key", "label", "needs_help")

# The word that introduces the answer lines, per language (the recipient's own, like the text above it).
REPLY_WORD = {"pl": "Odpowiedz", "en": "Reply", "uk": "Відповідайте", "de": "Antworten Sie"}
# "1 – label": the en dash only when the line is in UCS-2 anyway; in a GSM 7-bit line the hyphen, since the dash
# (outside GSM 03.38) alone would make the whole SMS UCS-2 — up to 2.3 times the parts.
DASH, GSM_DASH = "–", "-"


class InvalidQuestion(InvalidCampaign):
    """What is wrong with a question; `field` names it (question.answers[1].label.en)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.details = {"field": field}


class NoQuestion(CampaignStateError):
    """Replies, tallies or exports asked of a campaign that asked no question."""


def _bad(field: str, message: str) -> InvalidQuestion:
    return InvalidQuestion(field, message)


def _label(raw: Any, where: str, required: Iterable[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _bad(where, 'the label must be an object of language → text, e.g. {"pl": "jestem bezpieczny"}')
    out: dict[str, str] = {}
    for language, value in raw.items():
        field = f"{where}.{language}"
        if language not in LANGUAGES:
            raise _bad(field, f"the label's language must be one of {', '.join(LANGUAGES)}")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # an empty label is no label: required ones are caught below
        if not isinstance(value, str):
            raise _bad(field, "the label must be text")
        value = " ".join(value.split())
        if len(value) > MAX_LABEL:
            raise _bad(field, f"the label has {len(value)} characters; at most {MAX_LABEL}")
        check_characters(value, field, InvalidCampaign, line_breaks=False)
        out[language] = value
    for language in required:
        if language not in out:
            what = "Polish" if language == "pl" else f"'{language}' (the campaign has a text in that language)"
            raise _bad(f"{where}.{language}", f"the label is empty: every answer needs a label in {what}")
    return out


def _key(raw: Any, where: str) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or raw.strip() not in KEYS:
        raise _bad(where, f"the key must be one of {', '.join(KEYS)}")
    return raw.strip()


def _reply_minutes(raw: Any) -> int:
    if raw is None:
        return DEFAULT_REPLY_MINUTES
    if isinstance(raw, bool) or not isinstance(raw, int) or not MIN_REPLY_MINUTES <= raw <= MAX_REPLY_MINUTES:
        raise _bad(
            "question.reply_minutes",
            f"the reply window is a whole number of minutes from {MIN_REPLY_MINUTES} to {MAX_REPLY_MINUTES} "
            f"(default {DEFAULT_REPLY_MINUTES}: 12 hours)",
        )
    return raw


def validate_question(raw: Any, languages: Iterable[str] = ()) -> dict[str, Any] | None:
    """The question in its stored shape, or None for no question (null or absent); InvalidQuestion naming the
    field otherwise. `languages`: those the campaign has a text for besides Polish (its variants): each answer
    needs a label in each of them too."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("question", 'the question must be an object: {"answers": [...], "reply_minutes": 720}, or null')
    unknown = sorted(set(raw) - set(QUESTION_FIELDS))
    if unknown:
        raise _bad("question", f"unknown field(s): {', '.join(map(str, unknown))}")
    answers = raw.get("answers")
    if not isinstance(answers, list) or not MIN_ANSWERS <= len(answers) <= MAX_ANSWERS:
        count = f"{len(answers)} given" if isinstance(answers, list) else "none given"
        raise _bad("question.answers", f"a question has {MIN_ANSWERS} to {MAX_ANSWERS} answers ({count})")
    required = ["pl", *sorted(set(languages) - {"pl"})]
    out: list[dict[str, Any]] = []
    keys: set[str] = set()
    labels: dict[tuple[str, str], int] = {}
    for i, answer in enumerate(answers):
        where = f"question.answers[{i}]"
        if not isinstance(answer, dict):
            raise _bad(where, 'an answer is an object: {"key": "1", "label": {"pl": "…"}, "needs_help": false}')
        unknown = sorted(set(answer) - set(ANSWER_FIELDS))
        if unknown:
            raise _bad(where, f"unknown field(s): {', '.join(map(str, unknown))}")
        key = _key(answer.get("key", str(i + 1)), f"{where}.key")
        if key in keys:
            raise _bad(f"{where}.key", f"the key {key} is used by another answer: each answer needs its own")
        keys.add(key)
        label = _label(answer.get("label"), f"{where}.label", required)
        for language, value in label.items():
            same = labels.setdefault((language, value.casefold()), i)
            if same != i:
                raise _bad(f"{where}.label.{language}", f"answer {same + 1} has the same label: replies could not tell")
        needs_help = answer.get("needs_help", False)
        if needs_help is None:
            needs_help = False
        if not isinstance(needs_help, bool):
            raise _bad(f"{where}.needs_help", "needs_help must be true or false")
        out.append({"key": key, "label": label, "needs_help": needs_help})
    return {"answers": out, "reply_minutes": _reply_minutes(raw.get("reply_minutes"))}


def label_of(answer: dict[str, Any], language: str) -> str:
    """The answer's label in `language`, else its Polish one."""
    labels = answer.get("label") or {}
    return labels.get(language) or labels.get("pl") or ""


def answer_lines(question: dict[str, Any] | None, language: str) -> str:
    """The line appended to the text in `language`: "Odpowiedz 1 – jestem bezpieczny, 2 – potrzebuję pomocy"."""
    if not question or not question.get("answers"):
        return ""
    word = REPLY_WORD.get(language, REPLY_WORD["pl"])

    def build(dash: str) -> str:
        return f"{word} " + ", ".join(f"{a['key']} {dash} {label_of(a, language)}" for a in question["answers"])

    plain = build(GSM_DASH)
    return build(DASH) if characters_outside_gsm(plain) else plain


def sms_text(body: str, question: dict[str, Any] | None, language: str | None) -> str:
    """What a recipient of `language` (None: the Polish body) gets: the text, then the answer lines if any."""
    lines = answer_lines(question, language or "pl")
    return f"{body}\n{lines}" if lines and body else body


def sms_texts(campaign: Any) -> dict[str, str]:
    """Language ("pl": the body) → the text its recipients get."""
    question = getattr(campaign, "question", None)
    texts = {"pl": sms_text(campaign.body, question, "pl")}
    for language, body in (getattr(campaign, "variants", None) or {}).items():
        texts[language] = sms_text(body, question, language)
    return texts


def needs_help_keys(question: dict[str, Any] | None) -> list[str]:
    return [a["key"] for a in (question or {}).get("answers", []) if a.get("needs_help")]


def require_question(campaign: Any) -> dict[str, Any]:
    """The campaign's question, or NoQuestion (409) saying there is nothing to count or export."""
    if not campaign.question:
        raise NoQuestion(
            f"campaign {campaign.id} asked no question, so it has no replies to show or export; "
            "add a question to a campaign when composing it"
        )
    return campaign.question


# ------------------------------------------------------------------------------------------- tallies
UNRECOGNISED, NO_REPLY = "unrecognised", "no_reply"

# Respondents by answer (NULL: only unrecognised text so far): the respondent table holds one row per phone, so
# this reads at most one row per recipient through ix_campaign_respondent_answer. 7–25 ms at 30,000 respondents.
_TALLY = text("""
SELECT r.answer, count(*) FROM campaign_respondent r WHERE r.campaign_id = :cid GROUP BY r.answer
""")
# Delivered messages, and those of them whose phone has not replied: a hash anti-join on the respondents (a
# correlated NOT EXISTS probed the respondents' index once per message, and its cost estimate switched JIT on).
# Measured (EXPLAIN ANALYZE, 100,000 messages of which 95,000 delivered, 30,000 respondents): 70–80 ms
# (was 600–770 ms with NOT EXISTS); 160–175 ms on the shared test machine under load.
_DELIVERED = text("""
SELECT count(*) AS delivered, count(*) FILTER (WHERE r.phone IS NULL) AS no_reply
FROM message m LEFT JOIN campaign_respondent r ON r.campaign_id = m.campaign_id AND r.phone = m.phone
WHERE m.campaign_id = :cid AND m.status = 'delivered'
""")
# Per zone of the campaign's frozen target (campaign_target_zone, the shapes that were approved and sent): the
# campaign's messages whose subscriber has a registered place in that zone — a point inside it (the reach rule's
# LOCATION_IN), or a zone subscribed by SMS code whose interior meets it (ZONE_MEETS) — once per message and zone
# (a resident with two places in one zone counts once; with places in two zones, in both). Each message is then
# put in one bucket: its phone's answer, "unrecognised", or "no_reply" (delivered and silent); `delivered`
# counts the delivered ones for the shares. The join starts from the few target zones (the GiST index on
# subscriber_location.geom); only narrow integer rows are deduplicated and grouped (the zones' names are read
# apart, _TARGET_ZONES): carrying the names made PostgreSQL sort 110,000 wide rows on disk, twice.
# Measured (EXPLAIN ANALYZE, 100,000 recipients in 2 zones, 10 % with a second place, 30,000 respondents):
# 0.28–0.47 s (was 1.4–1.8 s with the names and UNION), 1.2–1.6 s on the shared machine under load; most of it is
# ST_Covers over the places and the deduplication. The page polls it no more often than every 5 s (more slowly
# when it answers slowly: campaign-replies.js).
_BY_ZONE = text(f"""
WITH placed AS (
    SELECT f.zone_id, l.subscriber_id FROM campaign_target_zone f
      JOIN subscriber_location l ON {reach.location_in("f.geom", "l.geom")}
     WHERE f.campaign_id = :cid
    UNION ALL
    SELECT f.zone_id, l.subscriber_id FROM campaign_target_zone f
      JOIN zone sz ON {reach.zone_meets("f.geom", "sz.geom")}
      JOIN subscriber_location l ON l.zone_id = sz.id
     WHERE f.campaign_id = :cid
), reached AS (
    SELECT DISTINCT p.zone_id, m.id, m.phone, m.status FROM placed p
      JOIN message m ON m.subscriber_id = p.subscriber_id AND m.campaign_id = :cid
)
SELECT x.zone_id,
       CASE WHEN r.phone IS NULL THEN 'no_reply' WHEN r.answer IS NULL THEN 'unrecognised' ELSE r.answer END,
       count(*) FILTER (WHERE r.phone IS NOT NULL OR x.status = 'delivered'),
       count(*) FILTER (WHERE x.status = 'delivered')
FROM reached x LEFT JOIN campaign_respondent r ON r.campaign_id = :cid AND r.phone = x.phone
GROUP BY 1, 2
""")
_TARGET_ZONES = text("SELECT zone_id, name FROM campaign_target_zone WHERE campaign_id = :cid ORDER BY name, zone_id")

# The replies with the respondent's registered places: one row per respondent and place (a resident registered at
# home and at work is shown at both; one without a place of their own, or no longer a subscriber, once with no
# place). A place subscribed by SMS code (a whole zone) shows the zone's name and its point on surface.
# `answer` is the answer counted (the latest recognised), `text` and `received_at` the latest reply.
# A page of 100 at 30,000 respondents: 55–85 ms (a top-N sort of the respondents); the count: 35–105 ms.
_PLACES = """
SELECT r.phone, r.answer, r.last_text, r.last_reply_at, r.answered_at,
       CASE WHEN l.geom IS NOT NULL THEN ST_Y(l.geom) ELSE ST_Y(ST_PointOnSurface(z.geom)) END AS lat,
       CASE WHEN l.geom IS NOT NULL THEN ST_X(l.geom) ELSE ST_X(ST_PointOnSurface(z.geom)) END AS lon,
       coalesce(l.address, z.name) AS address, l.id AS place_id
FROM campaign_respondent r
LEFT JOIN subscriber_location l ON l.subscriber_id = r.subscriber_id
LEFT JOIN zone z ON z.id = l.zone_id AND l.geom IS NULL
WHERE r.campaign_id = :cid
"""
_REPLIES = text(_PLACES + " ORDER BY r.last_reply_at DESC, r.phone, l.id LIMIT :limit OFFSET :offset")
_ALL_REPLIES = text(_PLACES + " ORDER BY r.last_reply_at DESC, r.phone, l.id")
_COUNT_REPLIES = text("""
SELECT count(*) FROM campaign_respondent r
LEFT JOIN subscriber_location l ON l.subscriber_id = r.subscriber_id
WHERE r.campaign_id = :cid
""")
# Delivered and silent: the grey dots (only points: a whole zone would put thousands of dots on one spot).
# 70,000 silent of 100,000: 0.2–0.3 s, read only when the map's grey dots are switched on (and by the export).
_SILENT = text("""
SELECT m.phone, ST_Y(l.geom) AS lat, ST_X(l.geom) AS lon, l.address, m.finished_at
FROM message m JOIN subscriber_location l ON l.subscriber_id = m.subscriber_id AND l.geom IS NOT NULL
WHERE m.campaign_id = :cid AND m.status = 'delivered'
  AND NOT EXISTS (SELECT 1 FROM campaign_respondent r WHERE r.campaign_id = m.campaign_id AND r.phone = m.phone)
ORDER BY m.id, l.id
""")


def _empty(question: dict[str, Any]) -> dict[str, int]:
    return {**{a["key"]: 0 for a in question["answers"]}, UNRECOGNISED: 0, NO_REPLY: 0}


def share(tally: dict[str, int], delivered: int) -> dict[str, float]:
    """Each bucket as a share of the delivered messages (0 when none was delivered), 3 decimals."""
    return {k: round(n / delivered, 3) if delivered else 0.0 for k, n in tally.items()}


def _question_of(session: Session, campaign_id: int) -> dict[str, Any]:
    question = session.execute(text("SELECT question FROM campaign WHERE id = :cid"), {"cid": campaign_id}).scalar()
    return question or {"answers": []}


def counts(session: Session, campaign_id: int, question: dict[str, Any] | None = None) -> tuple[dict[str, int], int]:
    """(the tally, the delivered messages)."""
    question = question or _question_of(session, campaign_id)
    out = _empty(question)
    for answer, n in session.execute(_TALLY, {"cid": campaign_id}):
        bucket = UNRECOGNISED if answer is None else answer
        out[bucket] = out.get(bucket, 0) + n
    delivered, no_reply = session.execute(_DELIVERED, {"cid": campaign_id}).one()
    out[NO_REPLY] = no_reply
    return out, delivered


def tally(session: Session, campaign_id: int) -> dict[str, int]:
    """The contract's `tally`: {"1": n, …, "unrecognised": n, "no_reply": n} (see the semantics in two-way.md:
    respondents by latest recognised answer; no_reply = delivered messages whose phone never replied)."""
    return counts(session, campaign_id)[0]


def by_zone(session: Session, campaign_id: int, question: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per frozen target zone: {"zone_id", "name", "tally", "delivered", "share"}; every target zone listed, those
    nobody was reached in with zeros. A campaign sent to a drawn area alone has no zones: an empty list."""
    question = question or _question_of(session, campaign_id)
    zones: dict[int, dict[str, Any]] = {
        zone_id: {"zone_id": zone_id, "name": name, "tally": _empty(question), "delivered": 0}
        for zone_id, name in session.execute(_TARGET_ZONES, {"cid": campaign_id})
    }
    for zone_id, bucket, n, delivered in session.execute(_BY_ZONE, {"cid": campaign_id}):
        zone = zones[zone_id]
        zone["tally"][bucket] = zone["tally"].get(bucket, 0) + n
        zone["delivered"] += delivered
    for zone in zones.values():
        zone["share"] = share(zone["tally"], zone["delivered"])
    return list(zones.values())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _reply(row: Any, question: dict[str, Any]) -> dict[str, Any]:
    help_keys = needs_help_keys(question)
    return {
        "phone": row.phone,
        "answer": row.answer,
        "needs_help": row.answer in help_keys,
        "text": row.last_text,
        "received_at": _iso(row.last_reply_at),
        "answered_at": _iso(row.answered_at),
        "lat": row.lat,
        "lon": row.lon,
        "address": row.address,
    }


def replies(
    session: Session, campaign_id: int, question: dict[str, Any], limit: int | None = None, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """(one page of the replies with their places, newest first; how many rows there are in all). No limit: all."""
    params = {"cid": campaign_id, "limit": limit, "offset": offset}
    rows = session.execute(_ALL_REPLIES if limit is None else _REPLIES, params)
    total = session.execute(_COUNT_REPLIES, {"cid": campaign_id}).scalar_one()
    return [_reply(r, question) for r in rows], total


def silent(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """The registered points of delivered-but-silent recipients (the map's grey dots)."""
    return [
        {"phone": r.phone, "lat": r.lat, "lon": r.lon, "address": r.address, "delivered_at": _iso(r.finished_at)}
        for r in session.execute(_SILENT, {"cid": campaign_id})
    ]


def kind_of(reply: dict[str, Any]) -> str:
    """The map's colour class: "needs_help" (red), "answered" (green: safe and other answers), "unrecognised"
    (free text only, green with a hollow dot), "silent" (grey)."""
    if reply.get("answer") is None:
        return UNRECOGNISED if "text" in reply else "silent"
    return "needs_help" if reply.get("needs_help") else "answered"


def geojson(
    session: Session, campaign_id: int, question: dict[str, Any], include_silent: bool = False
) -> dict[str, Any]:
    """RFC 7946 FeatureCollection: one Point per reply and registered place (places without a point left out),
    and with `include_silent` one per delivered-but-silent recipient's point."""
    features = []
    rows, _total = replies(session, campaign_id, question)
    for reply in rows:
        if reply["lat"] is None or reply["lon"] is None:
            continue
        properties = {k: v for k, v in reply.items() if k not in ("lat", "lon")}
        features.append(_point(reply["lon"], reply["lat"], {**properties, "kind": kind_of(reply)}))
    if include_silent:
        for row in silent(session, campaign_id):
            properties = {"phone": row["phone"], "address": row["address"], "delivered_at": row["delivered_at"]}
            features.append(_point(row["lon"], row["lat"], {**properties, "answer": None, "kind": "silent"}))
    return {"type": "FeatureCollection", "features": features}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


CSV_COLUMNS = ("phone", "answer", "label", "needs_help", "text", "received_at", "answered_at", "lat", "lon", "address")


def csv_rows(rows: list[dict[str, Any]], question: dict[str, Any]) -> list[list[Any]]:
    """The export's rows (CSV_COLUMNS); `label` the answer's Polish label."""
    labels = {a["key"]: label_of(a, "pl") for a in question["answers"]}
    return [
        [
            r["phone"],
            r["answer"] or "",
            labels.get(r["answer"] or "", ""),
            "yes" if r["needs_help"] else "",
            r["text"] or "",
            r["received_at"] or "",
            r["answered_at"] or "",
            "" if r["lat"] is None else r["lat"],
            "" if r["lon"] is None else r["lon"],
            r["address"] or "",
        ]
        for r in rows
    ]


def report(session: Session, campaign: Any, with_replies: bool, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The contract of GET /api/v1/campaigns/{id}/replies (and the campaign page's live poll): the tally, by
    zone, the shares of delivered, and — for those who may see phone numbers (`with_replies`) — one page of the
    replies. NoQuestion (409) for a campaign without a question."""
    question = require_question(campaign)
    counted, delivered = counts(session, campaign.id, question)
    out: dict[str, Any] = {
        "campaign_id": campaign.id,
        "question": question,
        "replies_until": _iso(campaign.replies_until),
        "delivered": delivered,
        "tally": counted,
        "share": share(counted, delivered),
        "by_zone": by_zone(session, campaign.id, question),
    }
    if with_replies:
        rows, total = replies(session, campaign.id, question, limit, offset)
        out.update(replies=rows, total=total, limit=limit, offset=offset)
    return out


def record_export(session: Session, actor: Any, campaign_id: int, what: str, rows: int) -> None:
    """Replies left the system (CSV, GeoJSON): personal data (phones, addresses), so every export is audited —
    who, which campaign, which format, how many rows. The caller commits."""
    record(
        session,
        "campaign.replies_export",
        actor,
        "campaign",
        campaign_id,
        {"format": what, "rows": rows, "personal_data": True},
    )
