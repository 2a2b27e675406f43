"""Targeting an alert without a mouse, in headless Chromium: only the keyboard (focus, typing, Enter), never a
click. A circle of N metres around an address found in the gazetteer, and an area pasted as GeoJSON, each reach
exactly the recipients the API's preview counts for the same area, and are saved as drawn areas are; pasted
text that is not an area is refused with a readable message."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from subscribers.gazetteer import WGS84, AddressRow, import_address_points
from syrena_core.db import session_scope
from tests.factories import IN_A, IN_A_2, OUTSIDE, create_subscriber

pytestmark = pytest.mark.browser

TEXT = "Alarm: wyciek gazu, zamknij okna."
# An address at the home IN_A: 500 m around it reach IN_A, not IN_A_2 (~800 m away) nor OUTSIDE.
ADDRESS = AddressRow("Testowa", "7", "61-001", "Poznań", IN_A["lon"], IN_A["lat"], WGS84)
AROUND_BOTH_HOMES = {
    "type": "Feature",
    "properties": {"name": "pasted"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[16.905, 52.383], [16.925, 52.383], [16.925, 52.395], [16.905, 52.395], [16.905, 52.383]]],
    },
}


@pytest.fixture
def residents(api, settings):
    for n, place in enumerate((IN_A, IN_A_2, OUTSIDE), start=1):
        create_subscriber(api, f"+4860100000{n}", place)
    with session_scope(settings.database.url) as session:
        import_address_points(session, [ADDRESS])


@pytest.fixture
def composer(new_context, make_user, login, residents):
    email, _token = make_user("operator")
    page = new_context().new_page()
    login(page, email)
    page.goto("/campaigns/new")
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    page.locator("#body").focus()
    page.keyboard.type(TEXT)
    return page


def press(page, selector: str, key: str = "Enter") -> None:
    page.locator(selector).focus()
    page.keyboard.press(key)


def type_into(page, selector: str, text: str) -> None:
    page.locator(selector).focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def api_recipients(api, area: list) -> int:
    status, body = api.post(
        "/api/v1/campaigns/preview", {"kind": "alert", "severity": "severe", "body": TEXT, "area": area}
    )
    assert status == 200, body
    return body["recipients"]


def test_the_drawing_tools_have_names_a_screen_reader_can_say(composer):
    map_tools = composer.locator("#compose-map")
    for name in ("Rysuj wielokąt", "Rysuj okrąg", "Rysuj linię"):
        expect(map_tools.get_by_role("button", name=name)).to_be_visible()


def test_a_circle_around_an_address_by_keyboard_previews_and_saves_like_a_drawn_one(composer, api):
    page = composer
    type_into(page, "#circle-address", "Testowa 7")
    page.keyboard.press("Enter")  # look the address up now
    expect(page.locator("#circle-place option")).to_have_text(["Testowa 7, Poznań"])
    expect(page.locator("#circle-place")).to_be_enabled()
    type_into(page, "#circle-radius", "500")
    press(page, "#circle-add")

    expect(page.locator("#drawn-areas li")).to_have_count(1)
    expect(page.locator("#drawn-areas li")).to_contain_text("500 m")
    expected = api_recipients(api, [{"circle": {"lat": IN_A["lat"], "lon": IN_A["lon"], "radius_m": 500}}])
    assert expected == 1
    expect(page.locator("#preview-recipients")).to_have_text(str(expected))

    press(page, "#save-button")
    page.wait_for_url("**/review")
    campaign_id = int(page.url.rsplit("/", 2)[-2])
    status, campaign = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert status == 200
    assert campaign["area"] == [{"type": "circle", "lat": IN_A["lat"], "lon": IN_A["lon"], "radius_m": 500.0}]


def test_an_area_pasted_as_geojson_by_keyboard_previews_like_the_api(composer, api):
    page = composer
    page.locator("#paste-area").focus()
    page.keyboard.insert_text(json.dumps(AROUND_BOTH_HOMES))
    press(page, "#paste-add")

    expect(page.locator("#drawn-areas li")).to_have_count(1)
    expect(page.locator("#paste-error")).to_be_hidden()
    expected = api_recipients(api, [AROUND_BOTH_HOMES["geometry"]])
    assert expected == 2
    expect(page.locator("#preview-recipients")).to_have_text(str(expected))

    press(page, "#save-button")
    page.wait_for_url("**/review")
    status, campaign = api.get(f"/api/v1/campaigns/{int(page.url.rsplit('/', 2)[-2])}")
    assert status == 200
    assert [a["type"] for a in campaign["area"]] == ["polygon"]


def test_pasted_coordinates_make_an_area_and_bad_text_is_refused_readably(composer, api):
    page = composer
    page.locator("#paste-area").focus()
    page.keyboard.insert_text("52.383, 16.905\n52.383, 16.925\nsomewhere near the river\n")
    press(page, "#paste-add")
    expect(page.locator("#paste-error")).to_be_visible()
    expect(page.locator("#paste-error")).to_contain_text(
        'line 3: "somewhere near the river" is not "latitude, longitude"'
    )
    expect(page.locator("#paste-area")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#drawn-areas li")).to_have_count(0)

    type_into(page, "#paste-area", "52.383, 16.905\n52.383; 16.925\n52.395 16.925\n52.395,16.905")
    press(page, "#paste-add")
    expect(page.locator("#paste-error")).to_be_hidden()
    expect(page.locator("#drawn-areas li")).to_have_count(1)
    expect(page.locator("#preview-recipients")).to_have_text("2")
