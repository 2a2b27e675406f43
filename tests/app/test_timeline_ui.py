"""The timing report for people (issue 16), in headless Chromium: the campaign page's timeline, its PDF, and the
month's alert timings on the finance page — for a campaign sent through the real path (RQ, worker, SMPP)."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.campaigns.conftest import settled
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone

pytestmark = pytest.mark.browser
CLOCK = re.compile(r"^\+(\d+:)?\d+:\d\d$")  # "+0:42", "+1:02:05"
DURATION = re.compile(r"^(\d+:)?\d+:\d\d$")


@pytest.fixture
def sent_campaign(api, worker, wait) -> int:
    zone = create_zone(api, "Wilda", ZONE_A)
    for n in range(3):
        create_subscriber(api, f"+4860180000{n}", IN_A)
    status, campaign = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "zone_ids": [zone], "title": "Powódź", "body": "Warta wylewa."},
    )
    assert status == 201, campaign
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/send")[0] == 202
    wait(settled(api, campaign["id"]), 60, "the campaign to complete")
    return campaign["id"]


def test_the_campaign_page_lists_each_step_with_its_time_and_offers_the_pdf(page, login, make_user, sent_campaign):
    login(page, make_user("operator")[0])
    page.goto(f"/campaigns/{sent_campaign}")
    steps = page.locator("#timeline-steps tbody tr")
    expect(steps).to_have_count(9)
    expect(page.locator('[data-step="created_at"] td').nth(1)).to_have_text("+0:00")
    expect(page.locator('[data-step="submitted_at"] td').first).to_have_text("jeszcze nie")  # sent without approval
    for step in ("first_submit_at", "first_receipt_at", "delivered_100_at"):
        expect(page.locator(f'[data-step="{step}"] time')).to_be_visible()
        expect(page.locator(f'[data-step="{step}"] td').nth(2)).to_have_text(CLOCK)  # since sending began
    expect(page.locator("#timeline-failures tbody")).to_have_text("Brak błędów.")
    expect(page.locator("#timeline-links tbody tr")).to_have_count(1)

    response = page.request.get(page.locator("#timeline-pdf").get_attribute("href") or "")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.body())).pages[0].extract_text()
    assert "Raport czasów alarmu" in text and "Powódź" in text


def test_the_finance_page_lists_the_months_alerts_with_median_and_worst(page, login, make_user, sent_campaign):
    login(page, make_user("finance")[0])
    page.goto("/finance/")
    row = page.locator(f'#alert-times tr[data-campaign="{sent_campaign}"]')
    expect(row).to_contain_text("Powódź")
    expect(row.locator('[data-measure="to_approve"]')).to_have_text("—")  # sent without approval
    expect(row.locator('[data-measure="to_first_submit"]')).to_have_text(DURATION)
    expect(row.locator('[data-measure="to_90"]')).to_have_text(DURATION)
    expect(page.locator("#alert-times-median")).to_contain_text("Mediana")
    expect(page.locator("#alert-times-worst")).to_contain_text(f"#{sent_campaign}")
