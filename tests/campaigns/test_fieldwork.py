"""After the send (issue 15): who a follow-up to a slice reaches, and the field worklist's grouping."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from campaigns import fieldwork
from campaigns import service as campaigns
from campaigns.exceptions import InvalidCampaign
from campaigns.models import Campaign
from subscribers.gazetteer import WGS84, AddressRow, import_address_points
from syrena_core.config import BillingSettings, CampaignSettings
from syrena_core.db import utcnow
from tests.factories import IN_A, IN_B, ZONE_A, ZONE_B, create_subscriber, create_zone

QUESTION = {
    "answers": [
        {"key": "1", "label": {"pl": "jestem bezpieczny", "en": "I am safe"}, "needs_help": False},
        {"key": "2", "label": {"pl": "potrzebuję pomocy", "en": "I need help"}, "needs_help": True},
    ],
    "reply_minutes": 720,
}


def sent_campaign(db, api, zone_ids: list[int], messages: dict[int, str], question: dict | None = QUESTION) -> Campaign:
    """A campaign to `zone_ids`, its target frozen, sent: one message per subscriber id in `messages` with that
    status, written straight in (the send path itself is tests/campaigns/test_fieldwork_api.py's)."""
    status, body = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Powodz", "zone_ids": zone_ids}
    )
    assert status == 201, body
    campaign = db.get(Campaign, body["id"])
    campaigns.freeze_target(db, campaign)
    campaign.status, campaign.sent_at, campaign.question = "completed", utcnow(), question
    for subscriber_id, message_status in messages.items():
        db.execute(
            text(
                "INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at) "
                "SELECT :cid, s.id, s.phone, :status, 1, now() FROM subscriber s WHERE s.id = :sid"
            ),
            {"cid": campaign.id, "sid": subscriber_id, "status": message_status},
        )
    db.commit()
    return campaign


def answered(db, campaign_id: int, phone: str, answer: str | None) -> None:
    """A respondent row as the reply path (campaigns.replies, another branch) leaves it."""
    db.execute(
        text(
            "INSERT INTO campaign_respondent (campaign_id, phone, answer, answered_at, last_text, last_reply_at, "
            "replies) VALUES (:cid, :phone, :answer, now(), :text, now(), 1)"
        ),
        {"cid": campaign_id, "phone": phone, "answer": answer, "text": answer or "co?"},
    )
    db.commit()


def unsubscribe(db, subscriber_id: int) -> None:
    db.execute(text("UPDATE subscriber SET status = 'unsubscribed' WHERE id = :id"), {"id": subscriber_id})
    db.commit()


PHONES = {
    "safe": "+48601100001",
    "help": "+48601100002",
    "help_stopped": "+48601100003",
    "gibberish": "+48601100004",
    "silent": "+48601100005",
    "failed": "+48601100006",
    "expired": "+48601100007",
    "pending": "+48601100008",
}


@pytest.fixture
def everyone(api, db):
    """One subscriber per kind of recipient, in zone A; the campaign sent to them, the replies in."""
    zone = create_zone(api, "Wilda", ZONE_A)
    ids = {who: create_subscriber(api, phone, IN_A) for who, phone in PHONES.items()}
    status = {"failed": "failed", "expired": "expired", "pending": "submitted"}
    campaign = sent_campaign(db, api, [zone], {ids[w]: status.get(w, "delivered") for w in PHONES})
    answered(db, campaign.id, PHONES["safe"], "1")
    answered(db, campaign.id, PHONES["help"], "2")
    answered(db, campaign.id, PHONES["help_stopped"], "2")
    answered(db, campaign.id, PHONES["gibberish"], None)
    unsubscribe(db, ids["help_stopped"])  # STOP wins over a slice
    return campaign, ids


def _slice(db, campaign: Campaign, to: str) -> set[str]:
    counted = sum(n for _, n in fieldwork.count_slice(db, to, campaign.id, []))
    draft = campaigns.follow_up(
        db, campaign, None, "Update", {"body": "Czy potrzebujesz pomocy?"}, CampaignSettings(), to=to
    )
    assert campaigns.preview(db, draft, BillingSettings()).recipients == counted
    campaigns.start_sending(db, draft, None, require_approval=False)
    phones = set(db.scalars(text("SELECT phone FROM message WHERE campaign_id = :cid"), {"cid": draft.id}))
    db.rollback()
    assert len(phones) == counted
    return phones


def test_a_slice_reaches_exactly_its_recipients_still_subscribed(db, everyone):
    campaign, _ids = everyone
    db.refresh(campaign)
    assert _slice(db, campaign, "answer:1") == {PHONES["safe"]}
    assert _slice(db, campaign, "answer:2") == {PHONES["help"]}  # the one who sent STOP since gets nothing
    assert _slice(db, campaign, "no_reply") == {PHONES["silent"]}  # delivered, no reply at all
    assert _slice(db, campaign, "failed") == {PHONES["failed"], PHONES["expired"]}


def test_the_slice_sizes_offered_on_the_campaign_page(db, everyone):
    campaign, _ids = everyone
    assert fieldwork.slice_sizes(db, campaign) == {"answer:1": 1, "answer:2": 1, "no_reply": 1, "failed": 2}


def test_a_follow_up_to_a_slice_is_a_draft_linked_to_the_original_and_never_published(db, everyone):
    campaign, _ids = everyone
    draft = campaigns.follow_up(
        db, campaign, None, "Update", {"body": "Pomoc jedzie"}, CampaignSettings(), to="answer:2"
    )
    assert (draft.status, draft.msg_type, draft.reference_id, draft.follow_up_to) == (
        "draft",
        "Update",
        campaign.id,
        "answer:2",
    )
    campaigns.start_sending(db, draft, None, require_approval=False)
    db.flush()
    current = campaigns.current_alerts(db)
    assert campaign in current  # the original is still the alert in force
    assert draft not in current
    with pytest.raises(Exception, match="no published alert"):
        campaigns.published(db, draft.id)
    db.rollback()


@pytest.mark.parametrize(
    ("question", "to", "message"),
    [
        (None, "answer:1", "to: campaign .* asked no question"),
        (None, "no_reply", "to: campaign .* asked no question"),
        (QUESTION, "answer:7", "to: .*has no answer '7'; its answers are 1, 2"),
        (QUESTION, "everyone", "to must be one of answer:1, answer:2, no_reply, failed"),
        (QUESTION, "", "to is required"),
        (QUESTION, 5, "to must be one of answer:1, answer:2, no_reply, failed"),
    ],
)
def test_a_slice_the_campaign_does_not_have_is_refused_naming_to(db, api, question, to, message):
    zone = create_zone(api, "Wilda", ZONE_A)
    campaign = sent_campaign(db, api, [zone], {}, question)
    with pytest.raises(InvalidCampaign, match=message):
        campaigns.follow_up(db, campaign, None, "Update", {"body": "x"}, CampaignSettings(), to=to)
    assert fieldwork.parse_slice(campaign, "failed") == "failed"  # always possible


# ------------------------------------------------------------------------------------------- the worklist
def _gazetteer(db, *rows: tuple[str, str, float, float]) -> None:
    import_address_points(db, [AddressRow(s, n, None, "Poznań", lon, lat, WGS84) for s, n, lat, lon in rows])
    db.commit()


@pytest.fixture
def streets(api, db):
    """Two zones; recipients at registered addresses, typed in many ways; some failed, some asked for help."""
    _gazetteer(
        db,
        ("Głogowska", "10", 52.391, 16.911),
        ("Głogowska", "2", 52.392, 16.912),
        ("Głogowska", "12", 52.393, 16.913),
        ("Wierzbięcice", "3", 52.394, 16.914),
        ("Rataje", "7", 52.390, 16.950),
    )
    wilda = create_zone(api, "Wilda", ZONE_A)
    rataje = create_zone(api, "Rataje", ZONE_B)
    places = {
        "+48601200001": {"lat": 52.391, "lon": 16.911, "address": "ul. Głogowska 10, 60-111 Poznań"},
        "+48601200002": {"lat": 52.391, "lon": 16.911, "address": "glogowska 10/4"},
        "+48601200003": {"lat": 52.392, "lon": 16.912, "address": "Głogowska 2"},
        "+48601200004": {"lat": 52.393, "lon": 16.913, "address": "Głogowska 12"},
        "+48601200005": {"lat": 52.3941, "lon": 16.9141},  # a pin on the web form, no text: the nearest address
        "+48601200006": {"lat": 52.3835, "lon": 16.925, "address": "Nieznana 5a"},  # not in the gazetteer
        "+48601200007": {"lat": 52.390, "lon": 16.950, "address": "Rataje 7"},
        "+48601200008": {"lat": 52.395, "lon": 16.915, "address": "Głogowska 40"},  # delivered, safe: not listed
    }
    ids = {phone: create_subscriber(api, phone, place) for phone, place in places.items()}
    statuses = {
        "+48601200001": "failed",
        "+48601200002": "expired",
        "+48601200003": "failed",
        "+48601200004": "delivered",
        "+48601200005": "failed",
        "+48601200006": "failed",
        "+48601200007": "delivered",
        "+48601200008": "delivered",
    }
    campaign = sent_campaign(db, api, [wilda, rataje], {ids[p]: s for p, s in statuses.items()})
    answered(db, campaign.id, "+48601200004", "2")
    answered(db, campaign.id, "+48601200007", "2")
    answered(db, campaign.id, "+48601200008", "1")
    answered(db, campaign.id, "+48601200003", "2")  # failed at first, got a later copy and asked for help
    return campaign


def _rows(worklist) -> list[tuple]:
    return [(z.name, a.street, a.number, a.failed, a.needs_help) for z in worklist.zones for a in z.addresses]


def test_the_worklist_groups_addresses_by_zone_street_and_number_with_counts(db, streets):
    worklist = fieldwork.build_worklist(db, streets, utcnow())
    assert _rows(worklist) == [
        ("Rataje", "Rataje", "7", 0, 1),
        ("Wilda", "Głogowska", "2", 1, 1),
        ("Wilda", "Głogowska", "10", 2, 0),  # "ul. Głogowska 10, …" and "glogowska 10/4": one house
        ("Wilda", "Głogowska", "12", 0, 1),
        ("Wilda", "Nieznana", "5a", 1, 0),  # unknown to the gazetteer: split as typed
        ("Wilda", "Wierzbięcice", "3", 1, 0),  # the pin's nearest address
    ]
    assert (worklist.failed_people, worklist.needs_help_people, worklist.asked) == (5, 3, True)
    assert worklist.zones[1].failed == 5


def test_the_worklist_of_a_campaign_without_a_question_lists_the_failed_only(db, api):
    zone = create_zone(api, "Wilda", ZONE_A)
    a = create_subscriber(api, "+48601300001", dict(IN_A, address="Głogowska 10"))
    b = create_subscriber(api, "+48601300002", dict(IN_A, address="Głogowska 12"))
    create_subscriber(api, "+48601300003", IN_B)
    campaign = sent_campaign(db, api, [zone], {a: "failed", b: "delivered"}, question=None)
    worklist = fieldwork.build_worklist(db, campaign, utcnow())
    assert _rows(worklist) == [("Wilda", "Głogowska", "10", 1, 0)]
    assert worklist.asked is False


def test_a_recipient_subscribed_by_zone_code_is_listed_without_an_address(db, api):
    zone = create_zone(api, "Wilda", ZONE_A)
    sid = create_subscriber(api, "+48601300011", IN_A)
    db.execute(
        text("UPDATE subscriber_location SET geom = NULL, zone_id = :z WHERE subscriber_id = :s"), {"z": zone, "s": sid}
    )
    db.commit()
    campaign = sent_campaign(db, api, [zone], {sid: "failed"})
    worklist = fieldwork.build_worklist(db, campaign, utcnow())
    assert _rows(worklist) == [("Wilda", None, "", 1, 0)]
    feature = fieldwork.worklist_geojson(worklist)["features"][0]
    assert feature["geometry"] is None and feature["properties"]["phones"] == ["+48601300011"]


def test_the_printed_worklist_shows_zones_streets_numbers_and_counts(db, streets):
    worklist = fieldwork.build_worklist(db, streets, utcnow())
    pdf = fieldwork.worklist_pdf(worklist, "Europe/Warsaw")
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    assert page.mediabox.width == pytest.approx(595.28, abs=1)  # A4
    words = " ".join(p.extract_text() for p in reader.pages)
    assert f"Campaign #{streets.id}" in words
    assert "Zone: Wilda" in words and "Zone: Rataje" in words
    assert words.index("Zone: Rataje") < words.index("Zone: Wilda")  # zones in alphabetical order
    assert "Głogowska 2 1 1" in words  # street, number, failed, needs help
    assert "10 2" in words and "Wierzbięcice 3 1" in words and "Nieznana 5a 1" in words
    assert "+48601200001" not in words  # no phone numbers on paper


def test_split_address_for_display():
    assert fieldwork.split_address("ul. Głogowska 10/2, 60-111 Poznań") == ("ul. Głogowska", "10/2")
    assert fieldwork.split_address("Os. Bolesława Chrobrego 12 B") == ("Os. Bolesława Chrobrego", "12B")
    assert fieldwork.split_address("Stary Rynek") == ("Stary Rynek", "")
    assert fieldwork.split_address("3 Maja 5") == ("3 Maja", "5")


def test_an_empty_slice_is_a_draft_whose_preview_says_it_reaches_nobody(db, api):
    zone = create_zone(api, "Wilda", ZONE_A)
    sid = create_subscriber(api, "+48601300021", IN_A)
    campaign = sent_campaign(db, api, [zone], {sid: "delivered"})
    draft = campaigns.follow_up(db, campaign, None, "Update", {"body": "x"}, CampaignSettings(), to="answer:1")
    result = campaigns.preview(db, draft, BillingSettings())
    assert result.recipients == 0
    assert result.warnings == ["nobody is in this slice of the original's recipients now: sending reaches nobody"]
