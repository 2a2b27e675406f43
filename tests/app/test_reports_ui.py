"""The reports inbox in Chromium (app/reports_ui.py): an operator finds a report by status and zone, sees it on
the map, takes it (status, assignee), leaves an internal note and replies by SMS — the reply reaches the resident's
phone at the simulator through the real worker. Approvers read; the page works without JavaScript."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from subscribers.models import ResidentReport
from tests.factories import ZONE_A, ZONE_B, create_zone

pytestmark = pytest.mark.browser

RESIDENT = "+48601777666"


def _report(db, text: str, zone_id: int | None, lon: float | None = None, lat: float | None = None, **fields) -> int:
    now = datetime.now(UTC)
    report = ResidentReport(
        phone=fields.pop("phone", RESIDENT),
        text=text,
        location=f"SRID=4326;POINT({lon} {lat})" if lon is not None else None,
        location_source="text" if lon is not None else "none",
        address=fields.pop("address", None),
        zone_id=zone_id,
        received_at=now - timedelta(minutes=fields.pop("minutes_ago", 0)),
        updated_at=now,
        **fields,
    )
    db.add(report)
    db.commit()
    return report.id


@pytest.fixture
def inbox(api, db):
    west = create_zone(api, "Zachód", ZONE_A)
    east = create_zone(api, "Wschód", ZONE_B)
    return {
        "flood": _report(db, "Zalana piwnica", west, 16.91, 52.39, address="Głogowska 77, Poznań", minutes_ago=5),
        "tree": _report(db, "Drzewo na jezdni", east, 16.95, 52.39, minutes_ago=3, phone="+48601777000"),
        "closed": _report(db, "Stare zgłoszenie", west, status="closed", minutes_ago=60),
        "west": west,
    }


def _row_ids(page) -> list[str]:
    return [
        row.get_attribute("data-report-id") or "" for row in page.locator("#reports tbody tr[data-report-id]").all()
    ]


def test_an_operator_filters_assigns_notes_and_replies_and_the_sms_reaches_the_phone(
    page, login, make_user, inbox, worker, simulator, wait
):
    email, _token = make_user("operator")
    login(page, email)
    page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Zgłoszenia").click()
    assert _row_ids(page) == [str(inbox["tree"]), str(inbox["flood"]), str(inbox["closed"])]
    page.locator("#reports-map[data-ready=true]").wait_for()
    expect(page.locator("#reports-map .leaflet-interactive")).to_have_count(2)  # the two located reports

    page.locator("#status").select_option("new")
    page.locator("#zone").select_option(str(inbox["west"]))
    page.get_by_role("button", name="Filtruj").click()
    assert _row_ids(page) == [str(inbox["flood"])]
    expect(page.locator("#reports-map .leaflet-interactive")).to_have_count(1)  # waits for the filtered page's map

    page.get_by_role("link", name=f"#{inbox['flood']}").click()
    assert page.locator("#report-text").inner_text() == "Zalana piwnica"
    assert page.locator("#report-phone").inner_text() == RESIDENT
    assert "Głogowska 77" in page.locator("#report-place").inner_text()

    page.locator("#report-status-select").select_option("in_progress")
    page.locator("#report-assignee-select").select_option(label=email)
    page.locator("#report-update button[type=submit]").click()
    assert page.locator("#report-status").inner_text() == "W toku"
    assert page.locator("#report-assignee").inner_text() == email

    page.locator("#note").fill("Zadzwonić do OSP Wilda")
    page.get_by_role("button", name="Dodaj notatkę").click()
    page.locator("#reply-body").fill("Straz jest w drodze.")
    page.get_by_role("button", name="Wyślij odpowiedź").click()
    assert "Odpowiedź jest w drodze" in page.locator(".flash-success").inner_text()
    thread = page.locator("#report-thread > li")
    assert [item.get_attribute("data-kind") for item in thread.all()] == ["note", "reply"]

    def at_the_phone():
        return [
            m["text"] for m in simulator.messages() if re.sub(r"\D", "", m["destination_addr"]) == RESIDENT[1:]
        ] or None

    assert wait(at_the_phone, 30, "the reply at the resident's phone") == ["Straz jest w drodze."]

    def marked_sent():
        page.reload()
        return page.locator("[data-sms-status]").get_attribute("data-sms-status") == "sent"

    wait(marked_sent, 30, "the reply marked sent")
    assert page.locator("[data-sms-status]").inner_text() == "wysłano"


def test_an_empty_reply_is_refused_with_a_readable_message(page, login, make_user, inbox, simulator):
    email, _token = make_user("operator")
    login(page, email)
    page.goto(f"/reports/{inbox['tree']}")
    page.locator("#reply-body").evaluate("e => { e.required = false; e.value = '   '; }")
    page.get_by_role("button", name="Wyślij odpowiedź").click()
    assert "Wpisz odpowiedź" in page.locator(".flash-error").inner_text()
    assert page.locator("#report-thread [data-kind]").count() == 0


def test_an_approver_reads_without_the_number_or_the_forms(page, login, make_user, inbox):
    email, _token = make_user("approver")
    login(page, email)
    page.goto(f"/reports/{inbox['flood']}")
    assert page.locator("#report-phone").inner_text() != RESIDENT
    assert page.locator("#report-update, #report-note, #report-reply").count() == 0


def test_the_list_works_without_javascript(new_context, login, make_user, inbox):
    page = new_context(java_script_enabled=False).new_page()
    email, _token = make_user("operator")
    login(page, email)
    page.goto("/reports/?status=closed")
    assert _row_ids(page) == [str(inbox["closed"])]
