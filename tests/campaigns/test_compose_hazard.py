"""The composer's "Choose a hazard" (issue 16) in headless Chromium: typing a hazard picks its template, which fills
the text of every language and the CAP fields; the preview shows each language's parts and cost and warns when a
filled value pushes a text over an SMS part boundary; the saved draft carries the filled texts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.campaigns.conftest import set_subscriber
from tests.factories import IN_A, IN_A_2, ZONE_A, create_subscriber, create_zone

pytestmark = pytest.mark.browser


def test_choosing_a_hazard_fills_every_language_and_the_preview_warns_of_a_part_boundary(
    api, db, make_user, new_context, login
):
    zone = create_zone(api, "Łazarz", ZONE_A)  # a Polish letter: the filled Polish text becomes UCS-2
    create_subscriber(api, "+48601000031", IN_A)
    set_subscriber(db, create_subscriber(api, "+48601000032", IN_A_2), language="uk")
    operator_email, _ = make_user("operator")
    page = new_context().new_page()
    login(page, operator_email)
    page.goto("/campaigns/new")
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    page.locator(f'input[name="zone_ids"][value="{zone}"]').check()

    chooser = page.get_by_label("Szablon zagrożenia (wpisz, aby wyszukać)")
    chooser.focus()
    chooser.press_sequentially("Powódź (flood)")  # typed, as with the keyboard alone
    expect(page.locator("#template-status")).to_contain_text("Powódź")
    expect(page.locator("#body")).to_have_value(re.compile(r"^UWAGA! Zagrozenie powodziowe: \{zones\}\."))
    expect(page.locator("#variant-en")).to_have_value(re.compile(r"^WARNING! Flood danger: \{zones\}\."))
    expect(page.locator("#variant-uk")).to_have_value(re.compile(r"^УВАГА! Загроза повені"))
    expect(page.locator("#event")).to_have_value("Powódź")
    expect(page.locator("#severity")).to_have_value("severe")
    expect(page.locator("#urgency")).to_have_value("expected")
    expect(page.locator("#compose-error")).to_contain_text("{until}")  # its value is still missing

    page.get_by_label("{until}").fill("18:00")
    expect(page.locator("#compose-error")).to_be_hidden()
    expect(page.locator("#preview-recipients")).to_have_text("2")
    rows = page.locator("#preview-languages tbody tr")
    expect(rows.filter(has_text="polski")).to_contain_text("UCS-2")
    expect(rows.filter(has_text="ukraiński")).to_contain_text("2")
    expect(page.locator("#preview-warnings")).to_contain_text("polski")
    expect(page.locator("#preview-warnings")).to_contain_text("granicę")

    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    expect(page.locator("main")).to_contain_text("Zagrozenie powodziowe: Łazarz. Woda moze rosnac do 18:00.")
    expect(page.locator("#template-origin")).to_contain_text("Utworzona z szablonu Powódź, wersja 1")
