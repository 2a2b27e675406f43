"""Call-outs in the staff UI (issue 20), in headless Chromium: an operator calls out groups through the form
without JavaScript and lands on the board; bad input is named and sends nothing; resend and close work; approvers
read but do not act, finance does not see them; the PDF record names everyone and is audited; the dashboard
shows a red banner for a group that cannot reach its confirmations; a sent real alert goes to the media from its
page; the board follows answers live."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import func, select, text

from campaigns import callouts, escalation, groups
from campaigns.models import Callout, CalloutGroup, CalloutMember, Campaign
from syrena_core.audit import AuditLog
from syrena_core.db import utcnow
from tests.factories import make_campaign

pytestmark = pytest.mark.browser

ANNA, JAN, EWA, ZOFIA = "+48601900001", "+48601900002", "+48601900003", "+48601900009"


@pytest.fixture
def team(db):
    """Two live groups: the crisis team (Anna has a deputy, Zofia) and the water company (needs 1), Jan in both;
    a media group; and a deleted team group (not offered)."""
    sztab = groups.create_group(
        db,
        None,
        {
            "name": "Sztab kryzysowy",
            "kind": "team",
            "members": [
                {"name": "Anna Nowak", "phone": ANNA, "function": "szefowa sztabu", "deputy_phone": ZOFIA},
                {"name": "Jan Kowalski", "phone": JAN, "function": "logistyka"},
            ],
        },
    )
    water = groups.create_group(
        db,
        None,
        {
            "name": "Aquanet dyżur",
            "kind": "services",
            "needed": 1,
            "members": [{"name": "Ewa Lis", "phone": EWA}, {"name": "Jan Kowalski", "phone": JAN}],
        },
    )
    media = groups.create_group(
        db, None, {"name": "Radio Merkury", "kind": "media", "members": [{"name": "Redakcja", "phone": "+48601900020"}]}
    )
    gone = groups.create_group(db, None, {"name": "Stary sztab", "kind": "team", "phones": ["+48601900030"]})
    groups.delete_group(db, gone, None)
    db.commit()
    return {"sztab": sztab.id, "water": water.id, "media": media.id, "gone": gone.id}


def _callout(db, team, ack: bool = True) -> int:
    callout = callouts.create(
        db, None, {"group_ids": [team["sztab"], team["water"]], "body": "Zbiórka w CZK o 4:00.", "ack": ack}
    )
    db.commit()
    return callout.id


def _count(db, table: str) -> int:
    return db.scalar(text(f"SELECT count(*) FROM {table}"))


def test_an_operator_calls_out_groups_through_the_form_without_javascript(db, team, new_context, login, make_user):
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("operator")[0])
    page.get_by_role("navigation").locator("a[href='/callouts/']").click()
    form = page.locator("#callout-form")
    # The live groups by kind, with their member counts; the deleted one is not offered.
    expect(form.locator('fieldset[data-kind="team"] label')).to_have_count(1)
    expect(form.locator(f'label[for="group-{team["sztab"]}"]')).to_contain_text("Sztab kryzysowy (2")
    expect(form.locator('fieldset[data-kind="services"]')).to_contain_text("Aquanet dyżur")
    expect(form.locator('fieldset[data-kind="media"]')).to_contain_text("Radio Merkury")
    expect(form.locator(f"#group-{team['gone']}")).to_have_count(0)
    expect(page.locator("#callout-ack")).to_be_checked()
    expect(page.locator("#callout-reply")).to_have_value("120")

    page.locator(f"#group-{team['sztab']}").check()
    page.locator(f"#group-{team['water']}").check()
    page.locator("#callout-body").fill("Zbiórka sztabu w CZK o 4:00, powódź na Warcie.")
    page.locator("#callout-escalate").fill("2")
    page.locator("#callout-send").click()

    page.wait_for_url(re.compile(r"/callouts/\d+$"))
    callout = db.scalars(select(Callout)).one()
    assert (callout.escalate_after_s, callout.reply_minutes, callout.ack) == (120, 120, True)
    # Jan is in both groups: messaged once, counted in each.
    people = page.locator("#callout-people tbody tr")
    expect(people).to_have_count(3)
    jan = page.locator(f'#callout-people tr[data-phone="{JAN}"]')
    expect(jan).to_contain_text("Jan Kowalski")
    expect(jan).to_contain_text("Sztab kryzysowy, Aquanet dyżur")
    # Sent (or delivered already: the session's worker sends what the form queued).
    expect(jan).to_have_attribute("data-state", re.compile(r"^(sent|delivered)$"))
    assert _count(db, "message") == 3
    water = page.locator(f'#callout-groups tr[data-group-id="{team["water"]}"]')
    expect(water.locator('[data-field="confirmed"]')).to_have_text("0")
    expect(water.locator('[data-field="needed"]')).to_have_text("1")
    expect(page.locator("#callout-text")).to_contain_text("Odpisz 1 = potwierdzam")
    expect(page.locator("#callout-refresh")).to_be_visible()  # without JavaScript: a refresh link
    expect(page.locator('#callout-timeline tr[data-step="sent_at"] time')).to_be_visible()

    page.goto("/callouts/")
    row = page.locator(f'#callout-list tr[data-callout-id="{callout.id}"]')
    expect(row).to_contain_text("Zbiórka sztabu")
    expect(row.locator(f'li[data-group-id="{team["sztab"]}"] [data-field="needed"]')).to_have_text("2")


def test_bad_input_is_named_in_the_form_and_nothing_is_sent(db, team, new_context, login, make_user):
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("operator")[0])
    page.goto("/callouts/")
    page.locator("#callout-body").fill("Zbiórka")
    page.locator("#callout-send").click()  # no group chosen
    expect(page.locator("#callout-error")).to_be_visible()
    expect(page.locator("#callout-body")).to_have_value("Zbiórka")  # what was typed stays

    page.locator(f"#group-{team['sztab']}").check()
    page.locator("#callout-escalate").fill("10")
    page.locator("#callout-escalate-unit").select_option("s")  # below 30 seconds
    page.locator("#callout-send").click()
    expect(page.locator("#callout-error")).to_contain_text("30")
    expect(page.locator("#callout-escalate")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#group-{team['sztab']}")).to_be_checked()
    expect(page.locator("#callout-escalate-unit")).to_have_value("s")
    assert _count(db, "callout") == 0 and _count(db, "message") == 0 and _count(db, "campaign") == 0


def test_resend_to_the_silent_and_close_from_the_board(db, team, new_context, login, make_user):
    callout_id = _callout(db, team)
    # Ewa confirmed; the SMS of the others went out (no longer queued), so a resend has someone to reach.
    db.execute(
        text(
            "UPDATE callout_member SET answer = 'confirmed', answered_at = now(), reply_text = 'TAK' WHERE phone = :p"
        ),
        {"p": EWA},
    )
    db.execute(text("UPDATE message SET status = 'delivered', submitted_at = now(), finished_at = now()"))
    db.commit()
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("operator")[0])
    page.goto(f"/callouts/{callout_id}")
    ewa = page.locator(f'#callout-people tr[data-phone="{EWA}"]')
    expect(ewa).to_have_attribute("data-state", "confirmed")
    expect(ewa.locator("time")).to_be_visible()
    expect(ewa.locator(".reply-text")).to_have_text("TAK")
    expect(page.locator(f'#callout-people tr[data-phone="{ANNA}"]')).to_have_attribute("data-state", "delivered")

    page.locator("#resend-form button").click()
    expect(page.locator(".flash-success")).to_contain_text("2")
    # A new round for the two silent ones (the session's worker may be sending it already: no status asserted).
    rounds = dict(db.execute(text("SELECT phone, send_round FROM message")).all())
    assert rounds == {ANNA: 1, JAN: 1, EWA: 0}

    page.locator("#close-form button").click()
    expect(page.locator("#callout-status")).to_have_attribute("data-status", "closed")
    expect(page.locator("#close-form")).to_be_hidden()
    expect(page.locator(f'#callout-people tr[data-phone="{ANNA}"]')).to_have_attribute("data-state", "no_answer")
    expect(page.locator('#callout-timeline tr[data-step="closed_at"] time')).to_be_visible()
    # Closed twice (a second tab): said plainly, nothing changes.
    response = page.request.post(
        f"/callouts/{callout_id}/close",
        form={"csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value") or ""},
    )
    assert response.ok and "closed already" in response.text()


def test_a_deputy_is_listed_under_the_one_they_stand_in_for(db, team, new_context, login, make_user):
    callout_id = _callout(db, team)
    db.execute(text("UPDATE callout_member SET answer = 'declined', answered_at = now() WHERE phone = :p"), {"p": ANNA})
    escalation.run_once(db)  # a decline escalates at once: Zofia is messaged
    db.commit()
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("approver")[0])
    page.goto(f"/callouts/{callout_id}")
    rows = page.locator("#callout-people tbody tr")
    expect(rows.nth(1)).to_have_attribute("data-phone", ZOFIA)  # right under Anna
    expect(rows.nth(1)).to_have_class(re.compile(r"\bdepth-1\b"))
    expect(rows.nth(1).locator(".deputy-for")).to_contain_text("Anna Nowak")
    anna = rows.nth(0)
    expect(anna).to_have_attribute("data-state", "declined")
    expect(anna.locator(".escalated-to")).to_contain_text(ZOFIA)  # handed on to her deputy


def test_approvers_read_the_boards_but_do_not_act_and_finance_does_not_see_them(
    db, team, new_context, login, make_user
):
    callout_id = _callout(db, team)
    page = new_context().new_page()
    login(page, make_user("finance")[0])  # staff names and phones: finance sees the costs on its own page
    expect(page.get_by_role("navigation").locator("a[href='/callouts/']")).to_have_count(0)
    board = f"/callouts/{callout_id}"
    for path in ("/callouts/", board, f"{board}.json", f"{board}.pdf"):
        assert page.request.get(path).status == 403, path
    page = new_context().new_page()
    login(page, make_user("approver")[0])
    nav = page.get_by_role("navigation").locator("a[href='/callouts/']")
    expect(nav).to_have_count(1)
    page.goto("/callouts/")
    expect(page.locator(f'#callout-list tr[data-callout-id="{callout_id}"]')).to_be_visible()
    expect(page.locator("#callout-form")).to_have_count(0)
    page.goto(f"/callouts/{callout_id}")
    expect(page.locator("#callout-people tbody tr")).to_have_count(3)
    expect(page.locator("#resend-form")).to_have_count(0)
    expect(page.locator("#close-form")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    for path in (f"/callouts/{callout_id}/resend", f"/callouts/{callout_id}/close", "/callouts/"):
        assert page.request.post(path, form={"csrf_token": token}).status == 403
    expect(page.locator("#callout-pdf")).to_have_count(1)
    assert db.scalar(select(Callout.status)) == "open"


def test_the_pdf_record_names_everyone_and_is_audited(db, team, new_context, login, make_user):
    callout_id = _callout(db, team)
    db.execute(text("UPDATE callout_member SET answer = 'confirmed', answered_at = now() WHERE phone = :p"), {"p": JAN})
    db.commit()
    email = make_user("operator")[0]
    page = new_context().new_page()
    login(page, email)
    page.goto(f"/callouts/{callout_id}")
    response = page.request.get(page.locator("#callout-pdf").get_attribute("href") or "")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    for expected in (
        "Anna Nowak",
        "Jan Kowalski",
        "Ewa Lis",
        ANNA,
        "Sztab kryzysowy",
        "Aquanet dyżur",
        "Zbiórka w CZK",
    ):
        assert expected in pdf_text, expected
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "callout.export")).one()
    assert audit.object_id == str(callout_id) and audit.details["personal_data"] is True


def test_the_dashboard_shows_a_red_banner_for_a_group_that_cannot_reach_its_confirmations(
    db, team, new_context, login, make_user
):
    callout_id = _callout(db, team)
    page = new_context().new_page()
    login(page, make_user("operator")[0])
    expect(page.locator("#callout-banners")).to_have_count(0)
    db.execute(
        text("UPDATE callout_group SET unreachable_at = now() WHERE callout_id = :c AND group_id = :g"),
        {"c": callout_id, "g": team["sztab"]},
    )
    db.commit()
    page.goto("/")
    banner = page.locator(f'#callout-banners [data-callout-id="{callout_id}"]')
    expect(banner).to_have_count(1)
    expect(banner).to_contain_text("Sztab kryzysowy")
    expect(banner).to_contain_text("(0")
    banner.get_by_role("link").click()
    page.wait_for_url(f"**/callouts/{callout_id}")

    callouts.close(db, db.get(Callout, callout_id), None)
    db.commit()
    page.goto("/")
    expect(page.locator("#callout-banners")).to_have_count(0)  # a closed call-out no longer asks for anything


def test_a_sent_real_alert_goes_to_the_media_from_its_page(db, team, new_context, login, make_user):
    alert, _phones = make_campaign(db, 2, status="completed", message_status="delivered")
    exercise, _phones = make_campaign(db, 2, status="completed", message_status="delivered", prefix="+4868")
    db.execute(
        text("UPDATE campaign SET title = 'Powódź', cap_status = CASE WHEN id = :e THEN 'exercise' ELSE 'actual' END"),
        {"e": exercise},
    )
    db.commit()
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("operator")[0])
    page.goto(f"/campaigns/{exercise}")
    expect(page.locator("#media-copy")).to_have_count(0)
    page.goto(f"/campaigns/{alert}")
    form = page.locator("#media-copy-form")
    expect(form.locator("input[type=checkbox]")).to_have_count(1)  # media groups only
    form.locator(f"#media-group-{team['media']}").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/callouts/\d+$"))
    expect(page.locator("#media-of a")).to_have_attribute("href", f"/campaigns/{alert}")
    expect(page.locator("#callout-text")).to_contain_text("/alerts")
    expect(page.locator("#callout-people tbody tr")).to_have_count(1)
    expect(page.locator("#callout-groups thead th")).to_have_count(2)  # no confirmation asked: nothing to count
    copy = db.scalars(select(Callout).where(Callout.media_of_id == alert)).one()
    assert copy.ack is False
    page.goto(f"/campaigns/{alert}")
    expect(page.locator(f"#media-copies a[href='/callouts/{copy.id}']")).to_be_visible()


def test_the_board_follows_an_answer_live(db, team, new_context, login, make_user):
    callout_id = _callout(db, team)
    page = new_context().new_page()
    login(page, make_user("operator")[0])
    page.goto(f"/callouts/{callout_id}")
    anna = page.locator(f'#callout-people tr[data-phone="{ANNA}"]')
    expect(anna).to_have_attribute("data-state", "sent")
    member = db.scalars(select(CalloutMember).where(CalloutMember.phone == ANNA)).one()
    member.answer, member.answered_at, member.reply_text = "confirmed", utcnow(), "JESTEM"
    db.commit()
    expect(anna).to_have_attribute("data-state", "confirmed", timeout=15_000)
    expect(anna.locator(".reply-text")).to_have_text("JESTEM")
    expect(anna.locator("time")).to_be_visible()
    sztab = page.locator(f'#callout-groups tr[data-group-id="{team["sztab"]}"]')
    expect(sztab.locator('[data-field="confirmed"]')).to_have_text("1")
    expect(page.locator('#callout-timeline tr[data-step="first_confirmation_at"] time')).to_be_visible()

    # A group that can no longer reach its needed: its red banner appears without a reload.
    db.execute(
        text(
            "UPDATE callout_member SET answer = 'declined', answered_at = now(), no_answer_at = now() WHERE phone = :p"
        ),
        {"p": JAN},
    )
    db.commit()
    expect(page.locator(f'#callout-unreachable [data-group-id="{team["sztab"]}"]')).to_be_visible(timeout=15_000)
    assert page.locator("#callout-people tbody tr").count() == 3
    assert db.scalar(select(func.count()).select_from(CalloutGroup)) == 2
    assert db.get(Campaign, db.scalar(select(Callout.campaign_id))).kind == "callout"
