"""The admin UI as staff see it: logging in, the dashboard (map, zones, subscribers, campaigns),
a campaign's live delivery page, languages, phones. Headless Chromium over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from billing.ledger import charge_accepted
from syrena_core.config import get_settings

pytestmark = pytest.mark.browser

WILDA = {
    "type": "Feature",
    "properties": {"name": "Wilda"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[16.90, 52.38], [16.93, 52.38], [16.93, 52.40], [16.90, 52.40], [16.90, 52.38]]],
    },
}
RESIDENT = {"phone": "+48601234567", "location": {"lat": 52.39, "lon": 16.91}, "verified": True}


def path_of(url: str) -> str:
    return urlsplit(url).path


def create_wilda_with_a_resident(api) -> int:
    status, zone = api.post("/api/v1/zones", WILDA)
    assert status == 201, zone
    status, subscriber = api.post("/api/v1/subscribers", RESIDENT)
    assert status == 201, subscriber
    return zone["id"]


def create_campaign(api, zone_id: int, body: str = "Test") -> dict:
    status, campaign = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": body, "zone_ids": [zone_id]}
    )
    assert status == 201, campaign
    return campaign


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(page, make_user):
    email, _token = make_user("operator")
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Hasło").fill("not-the-password")
    page.get_by_role("button", name="Zaloguj się").click()

    expect(page.get_by_role("alert")).to_have_text("Nieprawidłowy e-mail lub hasło.")
    assert path_of(page.url) == "/login"
    expect(page.get_by_label("E-mail")).to_have_value(email)  # no need to type it again
    expect(page.get_by_label("Hasło")).to_have_value("")


def test_a_visit_without_logging_in_is_sent_to_the_login_page(page):
    page.goto("/")
    assert path_of(page.url) == "/login"
    expect(page.get_by_role("heading", level=1)).to_have_text("Zaloguj się")
    expect(page.get_by_role("button", name="Zaloguj się")).to_be_visible()


def test_operator_sees_the_polish_dashboard_with_the_zone_its_subscribers_and_the_map(page, api, make_user, login):
    create_wilda_with_a_resident(api)
    email, _token = make_user("operator")
    login(page, email)

    assert page.locator("html").get_attribute("lang") == "pl"
    expect(page.get_by_role("heading", level=1)).to_have_text("Pulpit")
    expect(page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Pulpit")).to_be_visible()
    header = page.locator("header")
    expect(header).to_contain_text(email)
    expect(header).to_contain_text("Operator")
    expect(header.get_by_role("button", name="Wyloguj")).to_be_visible()

    zones = page.get_by_role("table", name="Strefy i ich aktywni subskrybenci")
    row = zones.get_by_role("row").filter(has_text="Wilda")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell")).to_have_text(["WILDA", "1"])
    expect(page.locator("#subscriber-totals [data-status=active]")).to_have_text("1")

    # The map draws the zone as an SVG path, without any map tiles (there is no network).
    zone_path = page.locator("#zones-map .leaflet-overlay-pane svg path")
    expect(zone_path).to_have_count(1)
    box = zone_path.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, box  # fitted to the zone, not a dot
    zone_path.hover()
    tooltip = page.locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text("Wilda")
    expect(tooltip).to_contain_text("Kod SMS: WILDA")
    expect(tooltip).to_contain_text("Aktywni subskrybenci: 1")

    page.mouse.move(0, 0)
    page.screenshot(path="/tmp/dashboard.png", full_page=True)


def test_switching_to_english_shows_english_labels_and_sticks(page, api, make_user, login):
    create_wilda_with_a_resident(api)
    email, _token = make_user("finance")
    login(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Pulpit")

    page.get_by_role("navigation", name="Język").get_by_role("link", name="English").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    assert path_of(page.url) == "/"
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("table", name="Zones and their active subscribers")).to_contain_text("Wilda")
    expect(page.get_by_role("heading", name="Latest campaigns")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Finance")
    page.reload()
    expect(page.get_by_role("heading", name="Latest campaigns")).to_be_visible()

    page.get_by_role("link", name="Polski").click()
    expect(page.get_by_role("heading", name="Ostatnie kampanie")).to_be_visible()


def test_polish_is_the_default_whatever_the_browser_language_until_english_is_chosen(new_context):
    english = new_context(locale="en-GB").new_page()
    english.goto("/login")
    expect(english.get_by_role("heading", level=1)).to_have_text("Zaloguj się")
    english.get_by_role("link", name="English", exact=True).click()
    expect(english.get_by_role("heading", level=1)).to_have_text("Log in")
    german = new_context(locale="de-DE").new_page()
    german.goto("/login")
    expect(german.get_by_role("heading", level=1)).to_have_text("Zaloguj się")
    ukrainian = new_context(locale="uk-UA").new_page()
    ukrainian.goto("/login")
    expect(ukrainian.get_by_role("heading", level=1)).to_have_text("Zaloguj się")  # staff: Polish until chosen
    ukrainian.get_by_role("link", name="Українська", exact=True).click()
    expect(ukrainian.get_by_role("heading", level=1)).to_have_text("Увійти")
    assert ukrainian.locator("html").get_attribute("lang") == "uk"


def test_the_campaign_list_shows_a_campaign_created_through_the_api(page, api, make_user, login):
    zone_id = create_wilda_with_a_resident(api)
    body = (
        "Uwaga! Awaria wodociągu na Wildzie: nie pij wody z kranu do odwołania. Woda pitna w "
        "beczkowozach przy ul. Górnej Wildy 90 i Rynku Wildeckim."
    )
    campaign = create_campaign(api, zone_id, body)
    email, _token = make_user("approver")
    login(page, email)

    table = page.get_by_role("table", name=re.compile("Ostatnie kampanie"))
    row = table.locator(f"tr[data-campaign-id='{campaign['id']}']")
    expect(row).to_contain_text(f"#{campaign['id']}")
    expect(row).to_contain_text("Alarm")
    expect(row).to_contain_text("Poważny")
    expect(row).to_contain_text("Szkic")
    expect(row).to_contain_text("Uwaga! Awaria wodociągu")
    expect(row).not_to_contain_text("Rynku Wildeckim")  # long texts are shortened in the list
    expect(row.locator("time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d CES?T$"))  # Warsaw time
    expect(row).to_contain_text("0,00 PLN")

    row.get_by_role("link", name=f"Kampania {campaign['id']}").click()
    assert path_of(page.url) == f"/campaigns/{campaign['id']}"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Kampania {campaign['id']}")
    expect(page.locator(".sms-text")).to_have_text(body)
    expect(page.locator("#campaign-status")).to_have_text("Szkic")
    expect(page.get_by_role("table", name="Strefy, do których trafi ta kampania")).to_contain_text("WILDA")
    expect(page.locator("#campaign-map .leaflet-overlay-pane svg path")).to_have_count(1)
    counts = page.get_by_role("table", name="Wiadomości według stanu doręczenia")
    for label in ("W kolejce", "Wysyłane", "Przekazane do operatora", "Doręczone", "Nieudane", "Wygasłe", "Razem"):
        expect(counts).to_contain_text(label)


def test_the_campaign_page_follows_delivery_without_a_reload(page, api, make_user, login, db):
    zone_id = create_wilda_with_a_resident(api)
    campaign = create_campaign(api, zone_id, "Test")
    email, _token = make_user("operator")
    login(page, email)
    page.goto(f"/campaigns/{campaign['id']}")
    counts = page.locator("#message-counts")
    expect(page.locator("#campaign-status")).to_have_text("Szkic")
    expect(counts.locator("[data-count=total]")).to_have_text("0")

    # What sending records as it goes (written straight to the database: no worker, no timing).
    ids = {"id": campaign["id"]}
    db.execute(text("UPDATE campaign SET status = 'sending', recipients = 1, sent_at = now() WHERE id = :id"), ids)
    db.execute(
        text(
            "INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at) "
            "SELECT :id, id, phone, 'submitted', 1, now() FROM subscriber"
        ),
        ids,
    )
    db.commit()
    expect(page.locator("#campaign-status")).to_have_text("Wysyłanie")
    expect(counts.locator("[data-count=submitted]")).to_have_text("1")
    expect(counts.locator("[data-count=total]")).to_have_text("1")
    expect(page.locator("[data-field=recipients]")).to_have_text("1")
    expect(page.locator("#live-note")).to_contain_text("Aktualizowane na bieżąco")

    db.execute(
        text(
            "UPDATE message SET status = 'delivered', parts = 1, encoding = 'gsm7', "
            "finished_at = now() WHERE campaign_id = :id"
        ),
        ids,
    )
    # The page shows the campaign's cost from the billing ledger, which the worker charges when the SMSC accepts.
    message_ids = db.scalars(text("SELECT id FROM message WHERE campaign_id = :id"), ids).all()
    charge_accepted(db, message_ids, datetime.now(UTC), get_settings().billing)
    db.execute(text("UPDATE campaign SET status = 'completed', completed_at = now() WHERE id = :id"), ids)
    db.commit()
    expect(counts.locator("[data-count=delivered]")).to_have_text("1")
    expect(counts.locator("[data-count=submitted]")).to_have_text("0")
    expect(page.locator("#campaign-status")).to_have_text("Zakończona")
    expect(page.locator("#details-heading + .details [data-field=cost]")).to_have_text("0,18 PLN")
    expect(page.locator("#live-note")).to_have_text("")  # finished: polling stops


def test_a_campaign_sent_through_the_worker_shows_its_delivery_live(page, api, make_user, login, worker):
    zone_id = create_wilda_with_a_resident(api)
    campaign = create_campaign(api, zone_id, "Test")
    email, _token = make_user("operator")
    login(page, email)
    page.goto(f"/campaigns/{campaign['id']}")
    expect(page.locator("#campaign-status")).to_have_text("Szkic")
    delivered = page.locator("#message-counts [data-count=delivered]")
    expect(delivered).to_have_text("0")

    status, sent = api.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert status == 202, sent

    # No reload: the page polls its progress every 2 s.
    expect(delivered).to_have_text("1", timeout=30_000)
    expect(page.locator("#campaign-status")).to_have_text("Zakończona", timeout=30_000)
    expect(page.locator("[data-field=recipients]")).to_have_text("1")
    expect(page.locator("#details-heading + .details [data-field=cost]")).to_have_text("0,18 PLN")


def test_an_unknown_campaign_is_a_friendly_404(page, make_user, login):
    email, _token = make_user("operator")
    login(page, email)
    response = page.goto("/campaigns/987654")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Nie znaleziono strony")
    expect(page.get_by_role("link", name="Wróć do pulpitu")).to_be_visible()


def test_logging_out_ends_the_session(page, make_user, login):
    email, _token = make_user("admin")
    login(page, email)
    page.get_by_role("button", name="Wyloguj").click()
    assert path_of(page.url) == "/login"
    page.goto("/")
    assert path_of(page.url) == "/login"


def test_the_login_page_fits_a_phone_screen(new_context):
    phone = new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
    ).new_page()
    phone.goto("/login")
    expect(phone.get_by_label("E-mail")).to_be_visible()
    assert no_horizontal_scroll(phone)
    field = phone.get_by_label("E-mail").bounding_box()
    assert field["x"] >= 0 and field["x"] + field["width"] <= 390


def test_the_dashboard_fits_a_phone_screen(new_context, api, make_user, login):
    zone_id = create_wilda_with_a_resident(api)
    create_campaign(api, zone_id, "Test")
    email, _token = make_user("operator")
    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(phone, email)
    expect(phone.locator("#zones-map .leaflet-overlay-pane svg path")).to_have_count(1)
    assert no_horizontal_scroll(phone)  # wide tables scroll inside their own box


def test_the_first_screen_points_to_the_public_pages_a_residents_sms_and_the_api_docs(page, login, make_user):
    email, _token = make_user("operator")
    login(page, email)
    pointers = page.locator("#try-it")
    expect(pointers.get_by_role("link", name="Publiczna strona zapisu")).to_have_attribute("href", "/subscribe/")
    expect(pointers.get_by_role("link", name="Publiczna strona alertów")).to_have_attribute("href", "/alerts")
    expect(pointers.get_by_role("link", name="Dokumentacja API")).to_have_attribute("href", "/api/docs")
    port = get_settings().simulator.control_port
    mo = pointers.locator("#try-mo")
    expect(mo).to_contain_text(f"curl -X POST http://127.0.0.1:{port}/mo")
    expect(mo).to_contain_text(f'"to": "{get_settings().smsc.source_addr}"')
    expect(mo).to_contain_text('"text": "ZAPISZ Głogowska 10"')
    # An empty installation says where to start, not just "nothing here".
    expect(page.locator("#campaigns-empty").get_by_role("link", name="Utwórz pierwszą kampanię")).to_have_attribute(
        "href", "/campaigns/new"
    )
    expect(page.locator("#zones-empty").get_by_role("link")).to_have_attribute("href", "/zones/")
    page.goto("/campaigns/?kind=info")
    page.locator("#campaign-list-empty").get_by_role("link", name="Pokaż wszystkie kampanie").click()
    assert path_of(page.url) == "/campaigns/"
    expect(page.locator("#campaign-list-empty").get_by_role("link")).to_have_text("Utwórz pierwszą kampanię")
    page.goto("/")
    pointers.get_by_role("link", name="Publiczna strona zapisu").click()
    assert path_of(page.url) == "/subscribe/"
