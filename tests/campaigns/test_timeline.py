"""An alert's timing report (issue 16) on campaigns sent the real way: API → RQ → `flask worker` → SMPP →
simulator → receipts, with one number refused at submit_sm and one receipted UNDELIV."""

from __future__ import annotations

import io
import urllib.request
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from billing import reports
from campaigns.timeline import Spread, clock, milestone_ranks, month_timelines
from tests.campaigns.conftest import settled
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone
from tests.helpers import ApiClient

ESME_RINVDSTADR = 0x0B
OK_1, OK_2, REFUSED, UNDELIVERABLE = "+48601700001", "+48601700002", "+48601700003", "+48601700004"
STEPS = (
    "created_at",
    "submitted_at",
    "approved_at",
    "first_submit_at",
    "first_receipt_at",
    "delivered_50_at",
    "delivered_90_at",
    "delivered_100_at",
)


@pytest.fixture
def faulty_numbers(simulator):
    """The simulator refuses REFUSED's submit_sm (invalid destination) and receipts UNDELIVERABLE UNDELIV."""
    simulator.inject_faults(reject={REFUSED: ESME_RINVDSTADR}, undeliverable=[UNDELIVERABLE])
    yield
    simulator.inject_faults(reject={}, undeliverable=[])


def _draft(api: ApiClient, phones: tuple[str, ...]) -> int:
    zone = create_zone(api, "Wilda", ZONE_A)
    for phone in phones:
        create_subscriber(api, phone, IN_A)
    status, campaign = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "zone_ids": [zone], "body": "Alarm powodziowy: Warta wylewa."},
    )
    assert status == 201, campaign
    return campaign["id"]


def _at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None, f"{value} has no offset"
    return moment


def test_a_draft_has_only_its_creation_time(api):
    campaign_id = _draft(api, (OK_1,))
    status, timeline = api.get(f"/api/v1/campaigns/{campaign_id}/timeline")
    assert status == 200, timeline
    _at(timeline["created_at"])
    assert [timeline[k] for k in STEPS[1:]] == [None] * (len(STEPS) - 1)
    assert (timeline["approved_by"], timeline["failures"], timeline["by_link"]) == (None, {}, {})
    assert (timeline["cost"], timeline["messages"]) == ("0", 0)


@pytest.mark.usefixtures("approval_required", "faulty_numbers")
def test_an_approved_alert_reports_each_step_its_failures_and_its_ledger_cost(
    api, make_user, live_server, worker, simulator, wait, settings
):
    approver_email, token = make_user("approver")
    approver = ApiClient(live_server, token)
    campaign_id = _draft(api, (OK_1, OK_2, REFUSED, UNDELIVERABLE))
    assert api.post(f"/api/v1/campaigns/{campaign_id}/submit")[0] == 200
    _, pending = api.get(f"/api/v1/campaigns/{campaign_id}/timeline")
    assert pending["submitted_at"] is not None and pending["approved_at"] is None  # each key waits for its step
    status, approved = approver.post(f"/api/v1/campaigns/{campaign_id}/approve")
    assert status == 202, approved
    campaign = wait(settled(api, campaign_id), 60, "the campaign to complete")

    status, timeline = ApiClient(live_server, make_user("finance")[1]).get(f"/api/v1/campaigns/{campaign_id}/timeline")
    assert status == 200, timeline
    times = [_at(timeline[k]) for k in STEPS[:6]]
    assert times == sorted(times), timeline  # created → submitted → approved → first submit → receipt → 50 %
    assert timeline["approved_by"] == {"id": campaign["approver_id"], "email": approver_email, "override": False}
    # 2 of 4 delivered: 50 % reached; 90 % (4th) and 100 % never — a refused and an undelivered recipient.
    assert (timeline["messages"], timeline["delivered"]) == (4, 2)
    assert timeline["delivered_90_at"] is None and timeline["delivered_100_at"] is None
    # Failures by reason (the SMSC's refusal, the receipt's state:error) and by link (message.smsc).
    failures = {"ESME_RINVDSTADR": 1, "UNDELIV:001": 1}
    assert timeline["failures"] == failures
    assert timeline["by_link"] == {
        settings.smsc.name: {"messages": 4, "delivered": 2, "failed": 2, "failures": failures}
    }
    # The ledger's cost, as the campaign shows it: the refused message costs nothing (3 × 0.18 PLN).
    assert timeline["cost"] == campaign["cost"] and Decimal(timeline["cost"]) == Decimal("0.54")


def _download(api: ApiClient, path: str) -> bytes:
    request = urllib.request.Request(api.base + path, headers={"Authorization": f"Bearer {api.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/pdf"
        return response.read()


def test_every_message_delivered_reaches_100_percent_and_the_pdf_says_so(api, worker, wait):
    campaign_id = _draft(api, (OK_1, OK_2))
    assert api.post(f"/api/v1/campaigns/{campaign_id}/send")[0] == 202
    wait(settled(api, campaign_id), 60, "the campaign to complete")
    _, timeline = api.get(f"/api/v1/campaigns/{campaign_id}/timeline")
    assert timeline["approved_at"] is None and timeline["approved_by"] is None  # sent without approval
    assert timeline["delivered_100_at"] is not None
    assert _at(timeline["delivered_50_at"]) <= _at(timeline["delivered_90_at"]) == _at(timeline["delivered_100_at"])
    assert timeline["failures"] == {}

    reader = PdfReader(io.BytesIO(_download(api, f"/api/v1/campaigns/{campaign_id}/timeline.pdf")))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert f"#{campaign_id}" in text
    for words in ("Utworzona", "Pierwsza wiadomość SMS przekazana do SMSC", "100% dostarczonych", "Brak błędów"):
        assert words in text, (words, text)
    assert "601700001" not in text and "Warta" not in text  # no phone number, no message text


def test_the_timeline_is_for_staff_only_and_a_missing_campaign_is_404(api, live_server):
    campaign_id = _draft(api, (OK_1,))
    assert ApiClient(live_server, None).get(f"/api/v1/campaigns/{campaign_id}/timeline")[0] == 401
    status, body = api.get("/api/v1/campaigns/999999/timeline")
    assert status == 404 and body["error"]["code"] == "campaign_not_found"


def test_milestones_are_ranks_among_all_messages():
    assert milestone_ranks(4) == {"delivered_50_at": 2, "delivered_90_at": 4, "delivered_100_at": 4}
    assert milestone_ranks(100_000) == {
        "delivered_50_at": 50_000,
        "delivered_90_at": 90_000,
        "delivered_100_at": 100_000,
    }
    assert milestone_ranks(1)["delivered_50_at"] == 1


def test_durations_read_like_a_clock():
    assert [clock(s) for s in (0, 42, 61.4, 3600, 3725, -5)] == [
        "+0:00",
        "+0:42",
        "+1:01",
        "+1:00:00",
        "+1:02:05",
        "-0:05",
    ]


def draft_zones(api: ApiClient, campaign_id: int) -> list[int]:
    return api.get(f"/api/v1/campaigns/{campaign_id}")[1]["zone_ids"]


def test_a_month_lists_the_campaigns_sent_in_it_with_the_median_and_the_worst(api, db, settings, worker, wait):
    sent = _draft(api, (OK_1, OK_2))
    status, draft = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "minor", "zone_ids": draft_zones(api, sent), "body": "Szkic"}
    )
    assert status == 201, draft
    assert api.post(f"/api/v1/campaigns/{sent}/send")[0] == 202
    wait(settled(api, sent), 60, "the campaign to complete")
    this_month = reports.parse_month(f"{datetime.now(ZoneInfo(settings.billing.timezone)):%Y-%m}")

    month = month_timelines(db, *reports.month_bounds(this_month, settings.billing.timezone))
    assert [t.campaign_id for t in month.timelines] == [sent]  # a draft never sent has no timings
    (only,) = month.timelines
    assert only.to_90 is not None and only.to_first_submit is not None and only.to_approve is None
    assert (month.to_90.median, month.to_90.worst, month.to_90.worst_campaign_id) == (only.to_90, only.to_90, sent)
    assert month.to_approve == Spread(None, None, None)  # sent without approval
    next_month = reports.month_bounds(reports.next_month(this_month), settings.billing.timezone)
    assert month_timelines(db, *next_month).timelines == []
    bounds = reports.month_bounds(this_month, settings.billing.timezone)
    assert month_timelines(db, *bounds, exercises=True).timelines == []  # a real alert is no exercise
    db.execute(text("UPDATE campaign SET cap_status = 'exercise' WHERE id = :id"), {"id": sent})
    db.commit()
    assert month_timelines(db, *bounds).timelines == []  # an exercise is never among the real alerts' times...
    assert [t.campaign_id for t in month_timelines(db, *bounds, exercises=True).timelines] == [sent]  # ...but apart
