"""Exercises and tests in headless Chromium (issue 16): an admin keeps a test group on the groups page (a bad phone
is named by its line); an operator composes an exercise, which reaches the real target only after the second
confirmation; the list, the dashboard and the campaign page show it striped with a text label; "send test" leaves
the draft."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import ZONE_A, create_zone
from tests.helpers import open_composer, save_to_review

pytestmark = pytest.mark.browser

PREFIX = "ĆWICZENIA – TO NIE JEST PRAWDZIWY ALARM"


def test_admin_keeps_a_test_group_with_names(make_user, new_context, login):
    # The test groups are the groups page's kind test (issue 20): the old address leads there.
    admin_email, _ = make_user("admin")
    page = new_context().new_page()
    login(page, admin_email)
    page.goto("/admin/test-groups")
    expect(page.locator("#groups-empty")).to_be_visible()
    expect(page.locator("#group-kind")).to_have_value("test")
    page.locator("#group-name").fill("Sztab")
    page.locator("#group-members").fill("Anna Nowak, +48601900001\nJan Kowalski, 12")
    page.locator("#group-form button[type=submit]").click()
    expect(page.locator(".flash-error")).to_contain_text("wiersz 2")  # the line with the bad phone
    expect(page.locator("#group-members")).to_have_value("Anna Nowak, +48601900001\nJan Kowalski, 12")
    page.locator("#group-members").fill("Anna Nowak, +48601900001\nJan Kowalski, 601 900 002")
    page.locator("#group-form button[type=submit]").click()
    row = page.locator("#groups tbody tr").first
    expect(row).to_have_attribute("data-kind", "test")
    expect(row.locator("td").nth(1)).to_have_text("2")
    row.get_by_role("link").first.click()
    expect(page.locator("#group-members")).to_have_value("Anna Nowak; +48601900001\nJan Kowalski; +48601900002")
    page.locator("#delete-group").click()
    expect(page.locator("#groups-empty")).to_be_visible()


def test_an_exercise_to_the_real_target_needs_the_second_confirmation_and_is_striped(
    api, make_user, new_context, login
):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, group = api.post("/api/v1/test-groups", {"name": "Sztab", "phones": ["+48601900001"]})
    assert status == 201, group
    operator_email, _ = make_user("operator")
    page = new_context().new_page()
    login(page, operator_email)
    open_composer(page, "Awaria wodociagu: nie pij wody z kranu.", zone)

    expect(page.locator("#exercise-target")).to_be_hidden()
    page.locator("#cap_status").select_option("exercise")
    expect(page.locator("#exercise-target")).to_be_visible()
    expect(page.locator("#real-target-confirm")).to_be_hidden()  # a test group is the first choice
    page.locator("#test_group_id").select_option("")  # the real target
    expect(page.locator("#real-target-confirm")).to_be_visible()
    expect(page.locator("#real-target-warning")).to_contain_text(PREFIX)
    page.locator("#save-button").click()
    expect(page.locator("#compose-error")).to_contain_text("confirm_real_target")  # refused without it

    page.locator("#confirm_real_target").check()
    campaign_id = save_to_review(page)
    expect(page.locator("#review-cap-status")).to_have_text("Ćwiczenia")
    expect(page.locator("#exercise-banner")).to_be_visible()
    expect(page.locator("#review-body")).to_have_text(re.compile("^" + PREFIX))
    expect(page.locator("#review-parts")).to_contain_text("ucs2")  # the prefix's Ć: counted in parts and cost

    for path, row in (
        ("/campaigns/", f'tr[data-campaign="{campaign_id}"]'),
        ("/", f'tr[data-campaign-id="{campaign_id}"]'),
    ):
        page.goto(path)
        expect(page.locator(row)).to_have_class(re.compile(r"\bexercise\b"))
        expect(page.locator(row).locator(".exercise-badge")).to_have_text("Ćwiczenia")
        stripe = page.locator(row).locator("td").first.evaluate("e => getComputedStyle(e).backgroundImage")
        assert "repeating-linear-gradient" in stripe

    # Back in the composer: loaded as it was saved, and a test group needs no confirmation.
    page.goto(f"/campaigns/{campaign_id}/edit")
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    expect(page.locator("#cap_status")).to_have_value("exercise")
    expect(page.locator("#confirm_real_target")).to_be_checked()
    page.locator("#test_group_id").select_option(str(group["id"]))
    expect(page.locator("#real-target-confirm")).to_be_hidden()
    page.locator("#save-button").click()
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}/review$"))
    expect(page.locator("#exercise-banner")).to_contain_text("Sztab")
    expect(page.locator("#review-recipients")).to_have_text("1")
    expect(page.locator("#review-body")).to_have_text(re.compile("^" + PREFIX + r"\nAwaria"))  # one prefix


def test_send_test_from_a_draft_leaves_it_a_draft(api, make_user, new_context, login, worker, simulator, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, group = api.post("/api/v1/test-groups", {"name": "Sztab", "phones": ["+48601900001"]})
    assert status == 201
    operator_email, _token = make_user("operator")
    status, draft = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Alarm testowy", "zone_ids": [zone]}
    )
    assert status == 201
    page = new_context().new_page()
    login(page, operator_email)
    page.goto(f"/campaigns/{draft['id']}/review")
    page.locator("#send-test-group").select_option(str(group["id"]))
    page.locator("#send-test").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    expect(page.locator("#campaign-cap-status")).to_have_text("Test")
    expect(page.locator("#exercise-banner")).to_contain_text(f"kampanii {draft['id']}")
    wait(lambda: [m for m in simulator.messages() if m["text"] == "Alarm testowy"], 60, "the test SMS")
    page.goto(f"/campaigns/{draft['id']}/review")
    expect(page.locator("#review-status")).to_have_attribute("data-status", "draft")
