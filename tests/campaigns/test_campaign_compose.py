"""The composer in headless Chromium: an operator writes an alert (the counter flags the Polish letters and
transliteration saves parts), draws the target on the map, sees the preview numbers, submits; a second user,
an approver, approves; the campaign page shows the messages delivered."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import IN_A, IN_A_2, OUTSIDE, ZONE_B, create_subscriber, create_zone
from tests.helpers import open_composer

pytestmark = pytest.mark.browser

TEXT = "Uwaga! Pożar hali przy ul. Głogowskiej. Zamknij okna i nie wychodź z domu do odwołania."


def pixel_of(page, lat, lon):
    p = page.evaluate(
        "([lat, lon]) => document.getElementById('compose-map').syrenaMap.latLngToContainerPoint([lat, lon])",
        [lat, lon],
    )
    return p["x"], p["y"]


def click_on_map(page, points):
    box = page.locator("#compose-map").bounding_box()
    for x, y in points:
        page.mouse.click(box["x"] + x, box["y"] + y)


def test_the_counter_keeps_the_whole_gsm_alphabet_in_one_part_and_marks_an_emoji_whole(make_user, new_context, login):
    operator_email, _ = make_user("operator")
    page = new_context().new_page()
    login(page, operator_email)
    page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Kampanie").click()
    page.locator("#new-campaign").click()
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")

    page.locator("#body").fill("Zgodnie z § 3: ¿ ¡ Ä Ö Ñ Ü à ¤ {€}")  # all GSM 03.38 (smpplib made it UCS-2)
    expect(page.locator("#counter")).to_contain_text("GSM")
    expect(page.locator("#counter")).to_contain_text(re.compile(r"SMS: 1 "))
    expect(page.locator("#ucs2-chars")).to_be_hidden()
    page.locator("#body").fill("Zbiórka 🌊 `tu`")
    expect(page.locator("#counter")).to_contain_text("UCS-2")
    expect(page.locator("#ucs2-chars mark")).to_have_text(["ó", "🌊", "`"])
    expect(page.locator("#body-highlight mark.ucs2")).to_have_text(["ó", "🌊", "`", "`"])


@pytest.mark.usefixtures("approval_required")
def test_compose_with_a_drawn_area_preview_approve_by_a_second_user_and_watch_delivery(
    api, make_user, new_context, login, worker, simulator, wait
):
    create_zone(api, "Rataje", ZONE_B)  # a zone on the map, not picked
    create_subscriber(api, "+48601000001", IN_A)
    create_subscriber(api, "+48601000002", IN_A_2)
    create_subscriber(api, "+48601000003", OUTSIDE)
    operator_email, _ = make_user("operator")
    approver_email, _ = make_user("approver")

    page = new_context().new_page()
    login(page, operator_email)
    page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Kampanie").click()
    page.locator("#new-campaign").click()
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")

    page.locator("#title").fill("Pożar Głogowska")
    page.locator("#body").fill(TEXT)
    expect(page.locator("#counter")).to_contain_text("UCS-2")
    expect(page.locator("#counter")).to_contain_text("2")
    expect(page.locator("#body-highlight mark.ucs2").first).to_have_text("ż")
    expect(page.locator("#ucs2-chars mark")).to_have_text(["ż", "ł", "ź"])  # each once, in order
    page.locator("#transliterate").click()
    expect(page.locator("#body")).to_have_value(re.compile(r"^Uwaga! Pozar hali przy ul\. Glogowskiej"))
    expect(page.locator("#counter")).to_contain_text("GSM")
    expect(page.locator("#body-highlight mark")).to_have_count(0)

    # Draw a rectangle-ish polygon around both homes in zone A (not around OUTSIDE).
    page.evaluate(
        "() => document.getElementById('compose-map').syrenaMap.setView([52.389, 16.915], 14, {animate: false})"
    )
    corners = [(52.383, 16.905), (52.383, 16.925), (52.395, 16.925), (52.395, 16.905)]
    pixels = [pixel_of(page, lat, lon) for lat, lon in corners]
    page.locator(".leaflet-pm-icon-polygon").click()
    click_on_map(page, pixels)
    click_on_map(page, pixels[:1])
    expect(page.locator("#drawn-areas li")).to_have_count(1)
    expect(page.locator("#preview-recipients")).to_have_text("2")
    expect(page.locator("#preview-parts")).to_have_text("1")
    expect(page.locator("#preview-total-parts")).to_have_text("2")
    expect(page.locator("#preview-cost")).to_have_text("0.3600 PLN")

    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    campaign_id = int(re.search(r"/campaigns/(\d+)/review", page.url).group(1))
    expect(page.locator("#review-recipients")).to_have_text("2")
    page.locator("form[action$='/submit'] button").click()
    expect(page.locator("#review-status")).to_have_attribute("data-status", "pending_approval")
    expect(page.locator("form[action$='/approve']")).to_have_count(0)  # the author cannot approve

    second = new_context().new_page()
    login(second, approver_email)
    second.goto(f"/campaigns/{campaign_id}/review")
    expect(second.locator("#review-body")).to_have_text(re.compile(r"^Uwaga! Pozar hali"))
    expect(second.locator("#review-cost")).to_have_text("0.3600 PLN")
    expect(second.locator("#review-map")).to_have_attribute("data-ready", "true")
    second.locator("form[action$='/approve'] button").click()
    second.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    expect(second.locator('[data-count="delivered"]')).to_have_text("2", timeout=60_000)
    assert sorted(m["destination_addr"].lstrip("+") for m in simulator.messages()) == ["48601000001", "48601000002"]


@pytest.mark.usefixtures("approval_required")
def test_rejected_with_a_reason_then_sent_by_emergency_override_then_called_off(
    api, make_user, new_context, login, worker, simulator, wait
):
    from tests.factories import ZONE_A
    from tests.helpers import ApiClient

    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000011", IN_A)
    operator_email, operator_token = make_user("operator")
    approver_email, _ = make_user("approver")
    operator = ApiClient(api.base, operator_token)
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "extreme",
            "title": "Chlor",
            "body": "Wyciek chloru! Zamknij okna.",
            "zone_ids": [zone],
        },
    )
    assert status == 201, c
    operator.post(f"/api/v1/campaigns/{c['id']}/submit")

    approver = new_context().new_page()
    login(approver, approver_email)
    approver.goto(f"/campaigns/{c['id']}/review")
    approver.get_by_label("Powód odrzucenia").fill("Za szeroki obszar")
    approver.get_by_role("button", name="Odrzuć").click()
    expect(approver.locator("#review-status")).to_have_attribute("data-status", "rejected")

    page = new_context().new_page()
    login(page, operator_email)
    page.goto(f"/campaigns/{c['id']}/review")
    expect(page.locator("#rejection-reason")).to_have_text("Za szeroki obszar")
    expect(page.get_by_role("link", name="Edytuj")).to_be_visible()
    page.locator("#override-reason").fill("Zagrożenie życia, brak czasu na ponowne zatwierdzenie")
    page.get_by_role("button", name="Wyślij w trybie awaryjnym").click()
    page.wait_for_url(re.compile(rf"/campaigns/{c['id']}$"))
    expect(page.locator('[data-count="delivered"]')).to_have_text("1", timeout=60_000)

    page.goto(f"/campaigns/{c['id']}/review")
    page.get_by_role("button", name="Wyślij odwołanie alarmu").click()
    # The all-clear is an alert too: it waits for the second person like any other.
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    expect(page.locator(".flash-success")).to_have_text(
        "Komunikat uzupełniający czeka na zatwierdzenie przez drugą osobę."
    )
    clear_url = page.url
    assert f"/campaigns/{c['id']}/" not in clear_url
    approver.goto(clear_url)
    approver.get_by_role("button", name="Zatwierdź i wyślij").click()
    approver.wait_for_url(re.compile(r"/campaigns/\d+$"))
    expect(approver.locator('[data-count="delivered"]')).to_have_text("1", timeout=60_000)
    texts = sorted(m["text"] for m in simulator.messages())
    assert texts == ["Odwołanie alarmu: zagrożenie minęło.", "Wyciek chloru! Zamknij okna."]


def test_set_a_hazard_point_on_the_map_and_see_the_time_to_warn(api, make_user, new_context, login):
    from tests.factories import ZONE_A

    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000021", IN_A)
    create_subscriber(api, "+48601000022", IN_A_2)
    operator_email, _ = make_user("operator")
    page = new_context().new_page()
    login(page, operator_email)
    open_composer(page, "Pożar chemiczny: zamknij okna.", zone)
    expect(page.locator("#preview-recipients")).to_have_text("2")
    # Before any hazard point: the estimate is there already, worded in Polish with the local time.
    expect(page.locator("#preview-time-to-warn")).to_contain_text("ostatni SMS około")

    page.evaluate(
        "() => document.getElementById('compose-map').syrenaMap.setView([52.39, 16.915], 14, {animate: false})"
    )
    page.get_by_role("button", name="Wskaż miejsce zagrożenia na mapie").click()
    expect(page.locator("#hazard-place")).to_have_attribute("aria-pressed", "true")
    page.locator("#compose-map").scroll_into_view_if_needed()
    click_on_map(page, [pixel_of(page, 52.3905, 16.9105)])
    expect(page.locator(".hazard-marker")).to_have_count(1)
    expect(page.locator("#hazard-lat")).to_have_value(re.compile(r"^52\.390"))
    expect(page.locator("#hazard-lon")).to_have_value(re.compile(r"^16\.910"))
    expect(page.locator(f'input[name="zone_ids"][value="{zone}"]')).to_be_checked()  # the click picked no zone
    expect(page.locator("#preview-time-to-warn")).to_have_text(
        re.compile(r"^(~\d+ s|poniżej 1 s) · ostatni SMS około \d\d:\d\d")
    )

    # Typed by keyboard: a point outside the service area is refused with a message naming the problem.
    page.locator("#hazard-lat").fill("40")
    page.locator("#hazard-lat").press("Tab")
    expect(page.locator("#compose-error")).to_contain_text("outside the service area")
    page.locator("#hazard-lat").fill("52.389")
    page.locator("#hazard-lat").press("Tab")
    expect(page.locator("#compose-error")).to_be_hidden()

    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    expect(page.locator("#review-hazard")).to_contain_text(re.compile(r"52\.38900, 16\.910\d\d"))
    expect(page.locator("#review-time-to-warn")).to_contain_text("ostatni SMS około")
    campaign_id = int(re.search(r"/campaigns/(\d+)/review", page.url).group(1))
    _status, saved = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert saved["hazard"]["lat"] == 52.389 and abs(saved["hazard"]["lon"] - 16.9105) < 0.0002

    # Cleared again on the edit page: saved without it.
    page.goto(f"/campaigns/{campaign_id}/edit")
    expect(page.locator("#hazard-lat")).to_have_value("52.38900")
    page.get_by_role("button", name="Usuń miejsce zagrożenia").click()
    expect(page.locator(".hazard-marker")).to_have_count(0)
    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    assert api.get(f"/api/v1/campaigns/{campaign_id}")[1]["hazard"] is None
