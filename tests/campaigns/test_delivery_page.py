"""The live campaign page in headless Chromium (issue 6): counts, rate and timings update without a reload,
the final report appears when the campaign ends, and the control buttons pause, resume and cancel it."""

from __future__ import annotations

from sqlalchemy import text

from campaigns.dispatch import enqueue_queued
from campaigns.models import Campaign
from tests.factories import make_campaign
from tests.helpers import statuses


def _start(db, settings, count: int, kind: str) -> int:
    campaign_id, _phones = make_campaign(db, count, kind=kind)
    enqueue_queued(db, db.get(Campaign, campaign_id), settings.campaigns.chunk_size)
    return campaign_id


def test_the_page_follows_the_campaign_live_to_its_final_report(
    db, settings, page, login, make_user, worker, live_server
):
    email, _token = make_user("operator")
    login(page, email)
    campaign_id, _phones = make_campaign(db, 300, kind="alert")
    page.goto(f"/campaigns/{campaign_id}")
    page.evaluate("window.__notReloaded = true")
    assert page.locator("#final-report").is_hidden()
    assert page.locator('form[data-action="pause"]').is_visible()

    enqueue_queued(db, db.get(Campaign, campaign_id), settings.campaigns.chunk_size)
    page.locator('#message-counts [data-count="delivered"]').filter(has_text="300").wait_for(timeout=60_000)
    page.locator("#final-report").wait_for(state="visible", timeout=20_000)

    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#campaign-status").get_attribute("data-status") == "completed"
    report = page.locator("#final-report")
    assert report.locator('[data-field="delivered"]').inner_text() == "300"
    assert report.locator('[data-field="delivery_rate"]').inner_text().startswith("100")
    assert "s" in report.locator('[data-field="time_to_95"]').inner_text()
    assert report.locator('[data-field="cost"]').inner_text().startswith("54")  # 300 × 0,18 zł
    for action in ("pause", "resume", "cancel", "resend-failed"):
        assert page.locator(f'form[data-action="{action}"]').is_hidden()


def test_pause_resume_and_cancel_from_the_page(db, settings, page, login, make_user, worker, simulator, wait):
    email, _token = make_user("operator")
    login(page, email)
    campaign_id = _start(db, settings, 6000, kind="info")
    page.goto(f"/campaigns/{campaign_id}")
    wait(lambda: len(simulator.messages()) >= 200, 60, "the campaign to be sending")

    page.locator("#pause-button").click()
    page.locator(".flash-success").wait_for()
    assert page.locator("#campaign-status").get_attribute("data-status") == "paused"
    assert page.locator('form[data-action="resume"]').is_visible()
    assert page.locator('form[data-action="pause"]').is_hidden()
    wait(lambda: not statuses(db, campaign_id).get("submitting"), 30, "the worker to let go")
    assert statuses(db, campaign_id).get("queued", 0) > 0

    page.locator("#resume-button").click()
    page.locator(".flash-success").wait_for()
    assert page.locator("#campaign-status").get_attribute("data-status") == "sending"

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#cancel-button").click()
    page.locator(".flash-success").wait_for()
    assert page.locator("#campaign-status").get_attribute("data-status") == "cancelled"
    wait(
        lambda: not statuses(db, campaign_id).get("queued") and not statuses(db, campaign_id).get("submitting"),
        30,
        "nothing left to send",
    )
    page.locator("#final-report").wait_for(state="visible")
    assert (
        int(page.locator('#final-report [data-field="cancelled"]').inner_text().replace("\xa0", "").replace(" ", ""))
        > 0
    )
    actions = (
        db.execute(
            text("SELECT action FROM audit_log WHERE object_type = 'campaign' AND object_id = :c ORDER BY id"),
            {"c": str(campaign_id)},
        )
        .scalars()
        .all()
    )
    assert actions == ["campaign.pause", "campaign.resume", "campaign.cancel"]


def test_finance_sees_the_page_but_no_control_buttons(db, page, login, make_user, live_server):
    email, _token = make_user("finance")
    login(page, email)
    campaign_id, _phones = make_campaign(db, 3)
    page.goto(f"/campaigns/{campaign_id}")
    assert page.locator("#campaign-progress").is_visible()
    assert page.locator(".campaign-controls").count() == 0
