"""The campaign page's "after the alert" panel in Chromium (issue 15): a follow-up to a slice leads to its draft
with the slice and its count shown, without JavaScript; the worklist downloads are for operators only."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.campaigns.test_fieldwork import QUESTION, answered, sent_campaign
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone


def _campaign(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    ids = [create_subscriber(api, f"+4860150000{n}", dict(IN_A, address=f"Głogowska {n}")) for n in range(1, 5)]
    campaign = sent_campaign(
        db, api, [zone], dict(zip(ids, ("delivered", "delivered", "delivered", "failed"), strict=True)), QUESTION
    )
    answered(db, campaign.id, "+48601500001", "1")
    answered(db, campaign.id, "+48601500002", "2")
    return campaign


def test_a_follow_up_to_those_who_asked_for_help_from_the_campaign_page(api, db, new_context, login, make_user):
    campaign = _campaign(api, db)
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("operator")[0])
    page.goto(f"/campaigns/{campaign.id}")

    form = page.locator("#follow-up-form")
    assert form.locator('[data-slice-size="answer:2"]').inner_text() == "(1 odbiorca)"
    assert form.locator('[data-slice-size="no_reply"]').inner_text() == "(1 odbiorca)"
    assert form.locator('[data-slice-size="failed"]').inner_text() == "(1 odbiorca)"
    form.get_by_label("osób, które odpowiedziały 2 (potrzebuję pomocy)").check()
    form.get_by_label("Treść kontynuacji").fill("Straż jest w drodze.")
    form.get_by_role("button", name="Utwórz kontynuację").click()

    page.wait_for_url("**/review")
    assert "osób, które odpowiedziały 2 (potrzebuję pomocy)" in page.locator("#review-slice").inner_text()
    assert page.locator("#review-recipients").inner_text() == "1"
    assert page.locator("#review-body").inner_text() == "Straż jest w drodze."
    draft_id, follow_up_to = db.execute(
        text("SELECT id, follow_up_to FROM campaign WHERE reference_id = :c"), {"c": campaign.id}
    ).one()
    assert follow_up_to == "answer:2"
    page.goto(f"/campaigns/{draft_id}")
    assert page.locator("#campaign-slice").inner_text().startswith("osób, które odpowiedziały 2")


def test_the_worklist_is_downloaded_by_operators_only_and_recorded(api, db, new_context, login, make_user):
    campaign = _campaign(api, db)
    operator = new_context().new_page()
    login(operator, make_user("operator")[0])
    operator.goto(f"/campaigns/{campaign.id}")
    with operator.expect_download() as info:
        operator.locator("#worklist-csv").click()
    csv_text = Path(info.value.path()).read_text(encoding="utf-8")
    assert "Głogowska,4,1,0,+48601500004" in csv_text  # the failed one; the safe ones are not listed

    approver = new_context().new_page()
    login(approver, make_user("approver")[0])
    approver.goto(f"/campaigns/{campaign.id}")
    assert approver.locator("#fieldwork").count() == 0
    assert approver.request.get(f"/campaigns/{campaign.id}/worklist.pdf").status == 403
    assert db.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'campaign.worklist'")) == 1
