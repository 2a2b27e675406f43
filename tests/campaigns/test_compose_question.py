"""The composer's question (issue 15) in headless Chromium, by keyboard alone: the two usual answers offered,
the preview showing the SMS with its answer lines and counting them in parts and cost; saved, edited, removed."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.app.test_accessibility import axe_violations
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone
from tests.helpers import save_to_review


def test_a_question_added_by_keyboard_is_previewed_counted_and_saved(api, make_user, new_context, login):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000021", IN_A)
    email, _ = make_user("operator")
    page = new_context(bypass_csp=True).new_page()  # axe-core is injected as a script below
    login(page, email)
    page.goto("/campaigns/new")
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    page.locator("#body").fill("Powodz: zostan w domu.")
    page.locator(f'input[name="zone_ids"][value="{zone}"]').check()
    expect(page.locator("#preview-parts")).to_have_text("1")

    page.locator("#question-field summary").focus()
    page.keyboard.press("Enter")  # opens the details
    page.locator("#question-on").focus()
    page.keyboard.press("Space")
    expect(page.locator("#answer-1-pl")).to_have_value("jestem bezpieczny")
    expect(page.locator("#answer-2-help")).to_be_checked()
    page.locator("#answer-3-pl").focus()
    page.keyboard.type("jestem poza domem")
    sms = page.locator("#preview-sms-text")
    expect(sms).to_have_text(
        "Powodz: zostan w domu.\nOdpowiedz 1 – jestem bezpieczny, 2 – potrzebuję pomocy, 3 – jestem poza domem"
    )
    expect(page.locator("#preview-parts")).to_have_text("2")  # "ę": UCS-2, 101 characters
    expect(page.locator("#preview-cost")).to_have_text(re.compile(r"^0\.36"))
    assert axe_violations(page) == []  # with the question's fields open and the SMS previewed

    # A label missing in a language the campaign has a text in: the error names the field.
    page.locator("details:has(#variant-en) > summary").click()
    page.locator("#variant-en").fill("Flood: stay home.")
    page.locator("#answer-3-en").fill("")
    expect(page.locator("#compose-error")).to_contain_text("question.answers[2].label.en")
    page.locator("#answer-3-en").fill("I am away")

    campaign_id = save_to_review(page)
    # The approver's page shows the SMS as it will be sent, answer lines included.
    expect(page.locator("#review-sms-en")).to_have_text(
        "Flood: stay home.\nReply 1 - I am safe, 2 - I need help, 3 - I am away"
    )
    expect(page.locator("#review-reply-window")).to_contain_text("12")
    _status, saved = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert [a["label"]["pl"] for a in saved["question"]["answers"]] == [
        "jestem bezpieczny",
        "potrzebuję pomocy",
        "jestem poza domem",
    ]
    assert [a["needs_help"] for a in saved["question"]["answers"]] == [False, True, False]
    assert saved["question"]["reply_minutes"] == 720

    page.goto(f"/campaigns/{campaign_id}/edit")
    expect(page.locator("#question-on")).to_be_checked()
    expect(page.locator("#answer-3-en")).to_have_value("I am away")
    page.locator("#question-on").uncheck()
    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    assert api.get(f"/api/v1/campaigns/{campaign_id}")[1]["question"] is None
