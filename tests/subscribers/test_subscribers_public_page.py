"""The residents' page in headless Chromium on a phone-sized screen: address → code from the SMSC → active."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribers.models import Subscriber
from tests.subscribers.conftest import PHONE

pytestmark = pytest.mark.browser


def ask_for_code(page, button: str) -> None:
    """Press the button and wait until the page says the code went out (so a failure shows which side
    stalled: the page's request, or the SMS)."""
    page.locator("#verify-section").evaluate("el => { el.hidden = true; }")
    page.get_by_role("button", name=button).click()
    page.locator("#verify-section").wait_for(state="visible")


@pytest.fixture
def phone_page(new_context):
    """A page on a phone-sized screen (offline but for the app: no map tiles)."""
    return new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()


def test_a_resident_subscribes_from_a_phone_with_an_address_and_the_texted_code(
    phone_page, worker, code_for, db, gazetteer, two_zones
):
    page = phone_page
    page.goto("/subscribe/")
    assert page.locator("h1").inner_text() == "Alerty SMS dla miejsca, w którym mieszkasz"
    assert page.get_by_text("ZACHOD").is_visible()  # the zone codes for SMS are on the page
    page.get_by_label("Numer telefonu komórkowego").first.fill("601 234 567")
    page.get_by_label("Adres domowy (ulica i numer)").fill("Głogowska 77")
    page.get_by_label("Woda").check()
    page.locator("#consent").check()
    ask_for_code(page, "Wyślij mi kod")
    page.get_by_label("Kod z SMS-a").fill(code_for(PHONE))
    page.get_by_role("button", name="Potwierdź").click()
    page.locator("#result-zones li").first.wait_for()
    assert page.locator("#result-heading").inner_text().startswith("Subskrypcja jest aktywna")
    assert page.locator("#result-zones li").all_inner_texts() == ["Zachód (ZACHOD)"]
    db.expire_all()
    subscriber = db.scalar(select(Subscriber).where(Subscriber.phone == PHONE))
    assert subscriber.status == "active" and subscriber.topics == ["water"]


def test_an_ambiguous_address_offers_candidates_to_pick(phone_page, gazetteer, two_zones):
    page = phone_page
    page.goto("/subscribe/")
    page.get_by_label("Numer telefonu komórkowego").first.fill("601 234 567")
    page.get_by_label("Adres domowy (ulica i numer)").fill("Głogowska 78")
    page.locator("#consent").check()
    page.get_by_role("button", name="Wyślij mi kod").click()
    page.locator("#candidates button").first.click()
    assert page.get_by_label("Adres domowy (ulica i numer)").input_value().startswith("Głogowska ")


def test_the_page_speaks_english_when_chosen(phone_page, two_zones):
    page = phone_page
    page.goto("/subscribe/")
    page.locator(".lang-switch a[hreflang=en]").click()
    page.wait_for_url("**/subscribe/")
    assert page.locator("h1").inner_text() == "SMS alerts for where you live"
    assert page.get_by_label("Mobile phone number").first.is_visible()


def test_the_page_speaks_ukrainian_to_a_ukrainian_phone_until_another_language_is_picked(new_context, two_zones):
    page = new_context(locale="uk-UA", viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    page.goto("/subscribe/")
    assert page.locator("html").get_attribute("lang") == "uk"
    assert page.locator("h1").inner_text() == "SMS-попередження для місця, де ви живете"
    assert page.get_by_label("Номер мобільного телефону").first.is_visible()
    page.locator(".lang-switch a[hreflang=pl]").click()
    page.wait_for_url("**/subscribe/")
    assert page.locator("h1").inner_text() == "Alerty SMS dla miejsca, w którym mieszkasz"
    page.goto("/alerts")  # remembered: Polish on every public page, whatever the phone's language
    assert page.locator("html").get_attribute("lang") == "pl"


def test_a_pin_on_the_map_and_a_second_place_then_leaving_and_the_data_by_the_page(
    phone_page, worker, code_for, db, gazetteer, two_zones
):
    page = phone_page
    page.goto("/subscribe/")
    page.get_by_label("Numer telefonu komórkowego").first.fill("601 234 567")
    # The map opens on Poznań (52.4064, 16.9252) at zoom 12: ~0.000343° of longitude and ~0.000209° of
    # latitude a pixel. 87 px right and 78 px down is about (52.390, 16.955), inside the east zone.
    box = page.locator("#pin-map").bounding_box()
    page.locator("#pin-map").click(position={"x": box["width"] / 2 + 87, "y": box["height"] / 2 + 78})
    status = page.locator("#pin-status").inner_text()
    assert status.startswith("Zaznaczono miejsce: ")
    lat, lon = (float(v) for v in status.split(": ")[1].split(", "))
    assert abs(lat - 52.390) < 0.003 and abs(lon - 16.955) < 0.003
    page.get_by_label("Drugie miejsce, opcjonalnie (praca, szkoła)").fill("Głogowska 77")
    page.locator("#consent").check()
    ask_for_code(page, "Wyślij mi kod")
    page.get_by_label("Kod z SMS-a").fill(code_for(PHONE))
    page.get_by_role("button", name="Potwierdź").click()
    page.locator("#result-zones li").first.wait_for()
    assert sorted(page.locator("#result-zones li").all_inner_texts()) == ["Wschód (WSCHOD)", "Zachód (ZACHOD)"]

    page.locator("#manage-phone").fill("601234567")
    ask_for_code(page, "Pokaż moje dane")
    page.get_by_label("Kod z SMS-a").fill(code_for(PHONE, already=1))
    page.get_by_role("button", name="Potwierdź").click()
    page.wait_for_url("**/subscribe/my-data")  # one's data: a page of its own
    assert page.locator("h1").inner_text() == "Wszystko, co przechowujemy o Twoim numerze:"
    assert "Głogowska 77" in page.locator("#data-places").inner_text()
    page.locator("#subscriber-map[data-ready=true]").wait_for()  # the places on a small map

    page.goto("/subscribe/")
    page.locator("#manage-phone").fill("601234567")
    ask_for_code(page, "Wypisz mnie")
    page.get_by_label("Kod z SMS-a").fill(code_for(PHONE, already=2))
    page.get_by_role("button", name="Potwierdź").click()
    page.get_by_text("Wypisano. Nie dostaniesz więcej wiadomości.").wait_for()
    db.expire_all()
    subscriber = db.scalar(select(Subscriber).where(Subscriber.phone == PHONE))
    assert subscriber.status == "unsubscribed" and len(subscriber.locations) == 2


def test_when_code_sms_are_spent_the_page_tells_the_resident_to_text_zapisz(
    phone_page, settings, db, gazetteer, two_zones
):
    import time

    from sqlalchemy import func

    from subscribers.budget import cap_key
    from subscribers.models import VerificationCode
    from syrena_core.queues import redis_connection

    redis_connection(settings.redis.url).set(cap_key(time.time()), settings.subscribers.verification_sms_per_hour)
    page = phone_page
    page.goto("/subscribe/")
    page.get_by_label("Numer telefonu komórkowego").first.fill("601 234 567")
    page.get_by_label("Adres domowy (ulica i numer)").fill("Głogowska 77")
    page.locator("#consent").check()
    page.get_by_role("button", name="Wyślij mi kod").click()
    message = page.locator("#form-message")
    message.get_by_text("ZAPISZ").wait_for()
    assert "Wyślij SMS o treści ZAPISZ" in message.inner_text() and settings.smsc.source_addr in message.inner_text()
    assert page.locator("#verify-section").is_hidden()
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(VerificationCode)) == 0
