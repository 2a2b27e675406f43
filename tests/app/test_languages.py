"""Which language a page answers in: residents' pages follow the browser's Accept-Language among the
configured languages until the person picks one (the `lang` cookie); staff pages stay Polish unless chosen.
Over the real app (test client), reading what a person sees: <html lang> and the page's words."""

from __future__ import annotations

import re

import pytest

HEADINGS = {
    "/subscribe/": {
        "pl": "Alerty SMS dla miejsca, w którym mieszkasz",
        "en": "SMS alerts for where you live",
        "uk": "SMS-попередження для місця, де ви живете",
    },
    "/alerts": {"pl": "Aktualne ostrzeżenia", "en": "Current alerts", "uk": "Чинні попередження"},
}


@pytest.fixture
def client(app):
    return app.test_client()


def served(client, path: str, accept: str | None = None, cookie: str | None = None) -> tuple[str, str]:
    """The language of <html lang> and the page's text."""
    if cookie is not None:
        client.set_cookie("lang", cookie)
    response = client.get(path, headers={"Accept-Language": accept} if accept is not None else {})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    lang = re.search(r'<html lang="([^"]*)"', page)
    assert lang, "the page has no <html lang>"
    return lang.group(1), page


@pytest.mark.parametrize("path", sorted(HEADINGS))
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("uk", "uk"),
        ("uk-UA,uk;q=0.9,en-US;q=0.8,en;q=0.7", "uk"),
        ("en-GB,en;q=0.9", "en"),
        ("pl-PL,pl;q=0.9,en;q=0.8", "pl"),
        ("en;q=0.3, uk;q=0.8, pl;q=0.5", "uk"),  # q-values, not the order, decide
        ("de-DE,fr;q=0.8,uk;q=0.1", "uk"),  # the best of what we have, however low
        ("*", "pl"),
        ("de-DE,fr;q=0.9", "pl"),  # nothing we have: Polish
        ("%%%;;q=x,,, ~~", "pl"),  # garbage: Polish, never an error
        ("uk;q=0", "pl"),  # q=0 means "not this one"
        ("uk, en", "uk"),  # equal q-values: the browser's order
        ("en, uk", "en"),
        ("uk_UA", "uk"),
        ("pl;q=0, *", "en"),  # anything but Polish: the next configured language
        ("de, *;q=0.1, uk;q=0.5", "uk"),
        (None, "pl"),
    ],
)
def test_public_pages_answer_in_the_browsers_language(client, path, accept, expected):
    lang, page = served(client, path, accept)
    assert lang == expected
    assert HEADINGS[path][expected] in page


@pytest.mark.parametrize("path", sorted(HEADINGS))
def test_the_language_picked_with_the_switch_wins_over_the_browsers(client, path):
    lang, page = served(client, path, "uk-UA,uk;q=0.9", cookie="en")
    assert lang == "en" and HEADINGS[path]["en"] in page
    lang, page = served(client, path, "en", cookie="uk")
    assert lang == "uk" and HEADINGS[path]["uk"] in page


def test_the_switch_remembers_ukrainian_and_offers_it_in_its_own_name(client):
    _lang, page = served(client, "/subscribe/", "pl")
    assert re.search(r'<a href="/lang/uk"[^>]*hreflang="uk"[^>]*>\s*Українська\s*</a>', page)
    response = client.get("/lang/uk", headers={"Referer": "http://localhost/subscribe/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/subscribe/")
    assert "lang=uk" in response.headers["Set-Cookie"] and "Max-Age=" in response.headers["Set-Cookie"]
    lang, page = served(client, "/subscribe/", "pl")  # the test client keeps the cookie
    assert lang == "uk" and HEADINGS["/subscribe/"]["uk"] in page


def test_an_unknown_language_from_the_switch_or_the_cookie_changes_nothing(client):
    response = client.get("/lang/xx")
    assert "Set-Cookie" not in response.headers
    lang, _page = served(client, "/alerts", "en", cookie="xx")
    assert lang == "en"  # a cookie we do not know is ignored: the browser's language again


def test_public_pages_tell_caches_they_differ_by_language(client):
    response = client.get("/alerts", headers={"Accept-Language": "uk"})
    assert {"Accept-Language", "Cookie"} <= set(response.vary)


def test_staff_pages_stay_polish_whatever_the_browser_says(client):
    # Crisis-room PCs often run English browsers; the centre works in Polish unless someone picks otherwise.
    lang, page = served(client, "/login", "en-US,en;q=0.9")
    assert lang == "pl" and "Zaloguj się" in page
    lang, page = served(client, "/login", "en-US,en;q=0.9", cookie="uk")
    assert lang == "uk" and "Увійти" in page
