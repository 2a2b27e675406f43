"""What the tests (and the benchmarks) build their data from — the one place for each: two neighbouring zones in
Poznań and points in and around them, zones and subscribers made through the API, and campaigns with their
messages written straight into the database (the gateway only sees messages: no zones, no snapshot)."""

from __future__ import annotations

from sqlalchemy import text

from campaigns.models import Campaign, Message
from subscribers.models import Subscriber

ZONE_A = {
    "type": "Polygon",
    "coordinates": [[[16.90, 52.38], [16.93, 52.38], [16.93, 52.40], [16.90, 52.40], [16.90, 52.38]]],
}
ZONE_B = {
    "type": "Polygon",
    "coordinates": [[[16.94, 52.38], [16.97, 52.38], [16.97, 52.40], [16.94, 52.40], [16.94, 52.38]]],
}
IN_A = {"lat": 52.39, "lon": 16.91}
IN_A_2 = {"lat": 52.385, "lon": 16.92}
IN_B = {"lat": 52.39, "lon": 16.95}
OUTSIDE = {"lat": 52.42, "lon": 16.91}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[16.90, 52.40], [16.95, 52.45], [16.95, 52.40], [16.90, 52.45], [16.90, 52.40]]],
}
OUT_OF_RANGE = {"type": "Polygon", "coordinates": [[[200, 52.40], [201, 52.40], [201, 52.45], [200, 52.40]]]}


def feature(name: str, geometry: dict) -> dict:
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


def create_zone(api, name: str, geometry: dict) -> int:
    status, body = api.post("/api/v1/zones", feature(name, geometry))
    assert status == 201, body
    return body["id"]


def create_subscriber(api, phone: str, *locations: dict) -> int:
    status, body = api.post(
        "/api/v1/subscribers",
        {
            "phone": phone,
            "verified": True,
            "locations": [dict(loc, label=f"place {n}") for n, loc in enumerate(locations)],
        },
    )
    assert status == 201, body
    return body["id"]


# ---------------------------------------------------------------- campaigns with their messages, straight in SQL
TEXT = "Alarm: awaria wodociagu, nie pij wody z kranu do odwolania."  # GSM 03.38, one part

# A campaign already past its snapshot; sent_at is `ago` seconds back (NULL when ago is NULL: never stamped);
# parts_per_message NULL unless given (the snapshot sets it; delivery does not need it).
_INSERT_CAMPAIGN = text("""
    INSERT INTO campaign (kind, severity, body, status, created_at, sent_at, parts_per_message)
    VALUES (:kind, :severity, :body, :status, now(), now() - make_interval(secs => :ago),
            :parts) RETURNING id""")
# Messages to `prefix` + 7 digits (1..n), ids in that order; generate_series, not a bound list: 100,000 rows
# for a benchmark are one statement of a few bytes.
_INSERT_NUMBERED_MESSAGES = text("""
    INSERT INTO message (campaign_id, phone, status, attempts, queued_at, possible_duplicate)
    SELECT :cid, :prefix || lpad(n::text, 7, '0'), :status, :attempts, now(), false FROM generate_series(1, :n) n""")
# Messages to the phones given, ids in their order (a phone may come twice).
_INSERT_LISTED_MESSAGES = text("""
    INSERT INTO message (campaign_id, phone, status, attempts, queued_at, possible_duplicate)
    SELECT :cid, p, :status, :attempts, now(), false FROM unnest(CAST(:phones AS text[])) WITH ORDINALITY AS t(p, o)
    ORDER BY o""")


def make_campaign(
    db,
    count: int = 0,
    kind: str = "alert",
    *,
    prefix: str = "+4869",
    phones: list[str] | None = None,
    body: str = TEXT,
    severity: str = "severe",
    status: str = "sending",
    sent_ago: float | None = 0.0,
    parts_per_message: int | None = None,
    message_status: str = "queued",
    commit: bool = True,
) -> tuple[int, list[str]]:
    """A campaign in `status` (default `sending`, sent just now) with a message in `message_status` (default
    queued, never tried) to each of `count` phones `prefix` + 7 digits — or to each of `phones` — written
    straight into the database, committed. Returns (campaign id, phones in message id order)."""
    campaign_id = db.execute(
        _INSERT_CAMPAIGN,
        {
            "kind": kind,
            "severity": severity,
            "body": body,
            "status": status,
            "ago": sent_ago,
            "parts": parts_per_message,
        },
    ).scalar()
    attempts = 0 if message_status == "queued" else 1
    if phones is None:
        phones = [f"{prefix}{n:07d}" for n in range(1, count + 1)]
        db.execute(
            _INSERT_NUMBERED_MESSAGES,
            {"cid": campaign_id, "prefix": prefix, "n": count, "status": message_status, "attempts": attempts},
        )
    else:
        db.execute(
            _INSERT_LISTED_MESSAGES,
            {"cid": campaign_id, "phones": phones, "status": message_status, "attempts": attempts},
        )
    if commit:
        db.commit()
    return campaign_id, phones


def sending_campaign(db, *phones: str, **fields) -> tuple[Campaign, list[Message]]:
    """A `sending` campaign (kind alert, severity severe, body "x" unless `fields` say otherwise) with one
    message per phone, each `submitting` (handed to the SMSC, no answer yet, never counted as an attempt) to a
    subscriber of its own, made through the ORM and committed: what a test of the SMSC's answers and receipts
    settling them starts from. Returns the campaign and its messages, in the phones' order."""
    campaign = Campaign(**{"kind": "alert", "severity": "severe", "body": "x", **fields, "status": "sending"})
    db.add(campaign)
    db.flush()
    messages = []
    for phone in phones:
        subscriber = Subscriber(phone=phone, source="import", status="active")
        db.add(subscriber)
        db.flush()
        message = Message(campaign_id=campaign.id, subscriber_id=subscriber.id, phone=phone, status="submitting")
        db.add(message)
        messages.append(message)
    db.commit()
    return campaign, messages


def message_ids(db, campaign_id: int) -> list[int]:
    """The campaign's message ids in the order make_campaign wrote them (its phones' order)."""
    return db.scalars(text("SELECT id FROM message WHERE campaign_id = :c ORDER BY id"), {"c": campaign_id}).all()


# A completed campaign's messages, all delivered, one part each, as a city's database holds them after a few
# campaigns: the planner's statistics of a table like this hid statements that went through every message.
_INSERT_DELIVERED_CAMPAIGN = text("""
    INSERT INTO campaign (kind, severity, body, status, created_at)
    VALUES ('alert', 'severe', :body, 'completed', now()) RETURNING id""")
_INSERT_DELIVERED_MESSAGES = text("""
    INSERT INTO message (campaign_id, phone, status, attempts, queued_at, submitted_at, finished_at, parts,
                         encoding, smsc, possible_duplicate)
    SELECT :c, :prefix || lpad(n::text, 7, '0'), 'delivered', 1, now(), now(), now(), 1, 'gsm7', :smsc, false
    FROM generate_series(1, :n) n""")
# Their parts, with the SMSC's ids 'old-<message id>'; receipt_at only when the receipts are wanted too.
_INSERT_DELIVERED_PARTS = text("""
    INSERT INTO message_part (message_id, part_no, smsc, smsc_message_id, status, receipt_at)
    SELECT id, 1, :smsc, 'old-' || id, 'delivered', CASE WHEN :receipts THEN now() END
    FROM message WHERE campaign_id = :c""")
_INSERT_DELIVERED_RECEIPTS = text("""
    INSERT INTO delivery_receipt (smsc, smsc_message_id, state, received_at, matched_at)
    SELECT :smsc, 'old-' || id, 'DELIVRD', now(), now() FROM message WHERE campaign_id = :c""")


def delivered_history(
    db, count: int, *, prefix: str = "+4868", smsc: str = "primary", body: str = TEXT, receipts: bool = True
) -> int:
    """A completed campaign of `count` delivered one-part messages (phones `prefix` + 7 digits) with their
    parts and, with `receipts`, the receipts that settled them; not committed, not analyzed (the caller
    decides what the planner has seen). Returns the campaign id."""
    campaign_id = db.execute(_INSERT_DELIVERED_CAMPAIGN, {"body": body}).scalar()
    params = {"c": campaign_id, "n": count, "prefix": prefix, "smsc": smsc, "receipts": receipts}
    db.execute(_INSERT_DELIVERED_MESSAGES, params)
    db.execute(_INSERT_DELIVERED_PARTS, params)
    if receipts:
        db.execute(_INSERT_DELIVERED_RECEIPTS, params)
    return campaign_id


# A campaign's question (issue 15) as campaigns.questions stores it: safe or needs help, in three languages.
SAFE_OR_HELP = {
    "answers": [
        {"key": "1", "label": {"pl": "jestem bezpieczny", "en": "I am safe", "uk": "я в безпеці"}, "needs_help": False},
        {
            "key": "2",
            "label": {"pl": "potrzebuję pomocy", "en": "I need help", "uk": "потрібна допомога"},
            "needs_help": True,
        },
    ],
    "reply_minutes": 720,
}
