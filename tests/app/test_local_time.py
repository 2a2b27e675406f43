"""Times shown to people are Warsaw's ([app] timezone), with CET/CEST; times typed into the composer are Warsaw's
too, whatever the browser's own zone; the nights the clocks change are handled as the README says."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.factories import ZONE_A, create_zone, make_campaign
from tests.harness import ROOT

WINTER = datetime(2026, 12, 6, 22, 15, 7, tzinfo=UTC)  # 23:15 CET (+01:00)
SUMMER = datetime(2026, 7, 1, 10, 0, 42, tzinfo=UTC)  # 12:00 CEST (+02:00)
FAR = datetime(2030, 1, 1, tzinfo=UTC)
# The browser sits in another zone: what it shows must not depend on where the PC thinks it is.
ELSEWHERE = "America/New_York"


def _stamp(db, campaign_id: int, **times: datetime) -> None:
    assigns = ", ".join(f"{name} = :{name}" for name in times)
    db.execute(text(f"UPDATE campaign SET {assigns} WHERE id = :id"), {**times, "id": campaign_id})
    db.commit()


@pytest.mark.browser
def test_staff_pages_show_stored_utc_times_in_warsaw_time_in_winter_and_summer(db, make_user, new_context, login):
    winter, _ = make_campaign(db, status="completed")
    summer, _ = make_campaign(db, status="completed")
    _stamp(db, winter, created_at=WINTER, sent_at=WINTER, completed_at=WINTER)
    _stamp(db, summer, created_at=SUMMER, sent_at=SUMMER, completed_at=SUMMER)
    email, _token = make_user("operator")
    page = new_context(timezone_id=ELSEWHERE).new_page()
    login(page, email)

    page.goto("/campaigns/")
    winter_time = page.locator(f"tr[data-campaign='{winter}'] time")
    expect(winter_time).to_have_text("2026-12-06 23:15 CET")
    expect(winter_time).to_have_attribute("datetime", "2026-12-06T23:15:07+01:00")  # machine-readable, offset
    summer_time = page.locator(f"tr[data-campaign='{summer}'] time")
    expect(summer_time).to_have_text("2026-07-01 12:00 CEST")
    expect(summer_time).to_have_attribute("datetime", "2026-07-01T12:00:42+02:00")
    expect(page.locator("main")).not_to_contain_text("UTC")

    # The list's filters are Warsaw time: 23:15 CET is after 23:00 Warsaw (22:00 UTC), not after 23:00 UTC.
    page.goto("/campaigns/?since=2026-12-06T23:00&until=2026-12-07")
    expect(page.locator(f"tr[data-campaign='{winter}']")).to_have_count(1)
    page.goto("/campaigns/?since=2026-12-06T23:30&until=2026-12-07")
    expect(page.locator(f"tr[data-campaign='{winter}']")).to_have_count(0)
    response = page.goto("/campaigns/?since=0001-01-01&until=2027-03-28T02:30")  # no such times: no 500
    assert response.status == 200

    page.goto(f"/campaigns/{summer}")
    expect(page.locator("main")).to_contain_text("2026-07-01 12:00:42 CEST")
    expect(page.locator("main")).not_to_contain_text("10:00:42")


def test_the_public_alerts_page_shows_local_time(db, live_server):
    alert, _ = make_campaign(db, status="completed")
    _stamp(db, alert, created_at=SUMMER, sent_at=SUMMER, expires_at=FAR)
    with urllib.request.urlopen(live_server + "/alerts", timeout=10) as r:
        html = r.read().decode()
    assert '<time datetime="2026-07-01T12:00:42+02:00">2026-07-01 12:00 CEST</time>' in html


def _composer(page, zone_name: str):
    page.goto("/campaigns/new")
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    page.locator("#body").fill("Próbny alarm: zaplanowany.")
    page.get_by_label(zone_name).check()
    page.get_by_text("Szczegóły CAP i doręczenia").click()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("2027-01-15T08:30", "2027-01-15T07:30:00+00:00", "2027-01-15 08:30 CET"),  # winter: UTC+1
        ("2027-06-15T08:30", "2027-06-15T06:30:00+00:00", "2027-06-15 08:30 CEST"),  # summer: UTC+2
        # The night the clocks go back (03:00 CEST → 02:00 CET): 02:30 happens twice; the first one is meant.
        ("2026-10-25T02:30", "2026-10-25T00:30:00+00:00", "2026-10-25 02:30 CEST"),
        ("2027-10-31T02:30", "2027-10-31T00:30:00+00:00", "2027-10-31 02:30 CEST"),
    ],
)
def test_send_later_is_typed_in_warsaw_time_and_stored_in_utc(
    app, api, make_user, new_context, login, typed, stored, shown
):
    app.config["SYRENA_CLOCK"] = lambda: datetime(2026, 9, 1, tzinfo=UTC)  # 2026-10-25 still lies ahead
    create_zone(api, "Wilda", ZONE_A)
    email, _token = make_user("operator")
    page = new_context(timezone_id=ELSEWHERE).new_page()
    login(page, email)
    _composer(page, "Wilda")
    page.locator("#scheduled_for").fill(typed)
    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    campaign_id = int(page.url.rsplit("/", 2)[-2])

    status, campaign = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert status == 200, campaign
    assert datetime.fromisoformat(campaign["scheduled_for"]) == datetime.fromisoformat(stored)
    expect(page.locator("main")).to_contain_text(shown)

    page.goto(f"/campaigns/{campaign_id}/edit")  # the composer loads the schedule back as it was typed
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    expect(page.locator("#scheduled_for")).to_have_value(typed)


@pytest.fixture(autouse=True)
def _real_clock(app):
    yield
    app.config.pop("SYRENA_CLOCK", None)


@pytest.mark.browser
def test_a_send_at_a_time_skipped_in_spring_is_refused_with_a_readable_message(api, make_user, new_context, login):
    create_zone(api, "Wilda", ZONE_A)
    email, _token = make_user("operator")
    page = new_context(timezone_id=ELSEWHERE).new_page()
    login(page, email)
    _composer(page, "Wilda")
    page.locator("#scheduled_for").fill("2027-03-28T02:30")  # 02:00 CET → 03:00 CEST: 02:30 never happens
    page.locator("#save-button").click()
    expect(page.locator("#compose-error")).to_contain_text("2027-03-28 02:30")
    expect(page.locator("#compose-error")).to_contain_text("03:00")
    expect(page).to_have_url(re.compile(r"/campaigns/new$"))  # nothing saved
    status, listed = api.get("/api/v1/campaigns")
    assert status == 200 and listed == []


def test_no_template_shows_a_time_in_utc():
    """Every template shows times through `localtime` (the old `utc` filter is gone)."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in Path(ROOT, "app", "templates").rglob("*.html")
        if re.search(r"\|\s*utc\b|\bUTC\b", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.browser
def test_the_audit_log_filters_by_warsaw_days_and_shows_warsaw_times(db, make_user, new_context, login):
    # 22:30 UTC on 5 December is 23:30 CET, still the 5th in Poznań; 23:30 UTC is already 00:30 on the 6th.
    for at, object_id in (
        (datetime(2026, 12, 5, 22, 30, tzinfo=UTC), "late-5th"),
        (datetime(2026, 12, 5, 23, 30, tzinfo=UTC), "early-6th"),
    ):
        db.execute(
            text("INSERT INTO audit_log (at, action, object_type, object_id) VALUES (:at, 'zone.test', 'zone', :o)"),
            {"at": at, "o": object_id},
        )
    db.commit()
    email, _token = make_user("admin")
    page = new_context(timezone_id=ELSEWHERE).new_page()
    login(page, email)
    page.goto("/admin/audit/?action=zone.test&since=2026-12-06&until=2026-12-07")
    table = page.locator("#audit tbody")
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("early-6th")
    expect(table).to_contain_text("2026-12-06 00:30 CET")


def _times(value, where=""):
    """Every string in an API answer that is a date and time (not a bare date), with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _times(item, f"{where}[{n}]")
    elif isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d", value):
        yield where, value


def test_every_time_the_api_returns_carries_its_offset(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, campaign = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": "Próbny alarm.",
            "zone_ids": [zone],
            "scheduled_for": "2030-01-01T08:00:00+01:00",
            "expires_at": "2030-01-01T12:00:00+01:00",
        },
    )
    assert status == 201, campaign
    answers = [
        api.get(path)[1]
        for path in (
            f"/api/v1/campaigns/{campaign['id']}",
            "/api/v1/campaigns",
            "/api/v1/audit",
            f"/api/v1/zones/{zone}",
            "/api/v1/billing/tariffs",
        )
    ]
    found = list(_times(answers))
    assert any(where.endswith("scheduled_for") for where, _ in found)
    assert [(where, value) for where, value in found if datetime.fromisoformat(value).tzinfo is None] == []


@pytest.mark.browser
def test_scripts_write_times_in_warsaw_time_whatever_the_browsers_zone(make_user, new_context, login):
    email, _token = make_user("operator")
    page = new_context(timezone_id=ELSEWHERE).new_page()
    login(page, email)
    page.goto("/admin/status")
    show = "([value, seconds]) => window.syrenaLocalTime(value, seconds)"
    assert page.evaluate(show, ["2026-07-01T10:00:42+00:00", True]) == "2026-07-01 12:00:42 CEST"
    assert page.evaluate(show, ["2026-12-06T22:15:07+00:00", False]) == "2026-12-06 23:15 CET"
    # The panel's own refresh writes its time so too (not New York's, not bare ISO).
    expect(page.locator("#status-updated")).to_have_text(
        re.compile(r": \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T$"), timeout=15_000
    )
