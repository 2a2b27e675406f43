"""The residents' page in a phone's Chromium with JavaScript off: sign-up, an ambiguous address, the texted code,
one's data as a page and a JSON file, unsubscribing, wrong input — all as plain form posts; and the zones on the
public maps with the tiles blocked, with and without JavaScript. Every page is checked by axe-core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaigns.models import Campaign, CampaignReply
from subscribers.models import ResidentReport, Subscriber, VerificationCode
from syrena_core.db import utcnow
from tests.subscribers.conftest import PHONE

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _serve_axe(page) -> None:
    """axe-core from node_modules at a same-origin URL (the pages' CSP allows scripts of their own origin only)."""
    page.route("**/__axe.js", lambda r: r.fulfill(path=AXE, content_type="application/javascript"))


def axe_violations(page) -> list[tuple[str, list]]:
    """axe-core's WCAG 2.1 A/AA violations on the page (JavaScript on) as it is now."""
    _serve_axe(page)
    page.add_script_tag(url="/__axe.js")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]


@pytest.fixture
def no_js_page(new_context):
    """A phone-sized page with JavaScript off (offline but for the app: no map tiles), and `.axe()` checking what
    it shows: axe needs JavaScript, so a second page with script on but the app's own scripts refused is given
    the same HTML from the same origin (its stylesheets load as they do for the page)."""
    options = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}
    page = new_context(java_script_enabled=False, **options).new_page()
    checker = new_context(**options).new_page()
    snapshot = {}
    checker.route("**/static/**/*.js", lambda r: r.abort())
    checker.route("**/__snapshot", lambda r: r.fulfill(body=snapshot["html"], content_type="text/html; charset=utf-8"))

    def check() -> list[tuple[str, list]]:
        snapshot["html"] = page.content()
        checker.goto("/__snapshot")
        return axe_violations(checker)

    page.axe = check
    return page


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def _submit(page, button: str) -> int:
    """Press a form's button; the HTTP status of the page the server answered with."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    return navigation.value.status


def _enter_code(page, code: str) -> int:
    assert page.locator("#verify-heading").is_visible()
    page.get_by_label("Kod z SMS-a").fill(code)
    return _submit(page, "Potwierdź")


def test_without_javascript_a_resident_picks_an_address_confirms_reads_the_data_and_leaves(
    no_js_page, worker, code_for, db, gazetteer, two_zones
):
    page = no_js_page
    page.goto("/subscribe/")
    assert page.locator("h1").inner_text() == "Alerty SMS dla miejsca, w którym mieszkasz"
    assert page.axe() == []
    page.get_by_label("Numer telefonu komórkowego").first.fill("601 234 567")
    page.get_by_label("Adres domowy (ulica i numer)").fill("Głogowska 78")
    page.get_by_label("Woda").check()
    page.locator("#consent").check()
    # Several addresses match: the server offers them as choices, keeps what was typed and sends nothing yet.
    assert _submit(page, "Wyślij mi kod") == 422
    choices = page.locator("#address-candidates input[type=radio]")
    assert choices.count() >= 2
    assert page.locator("#address").get_attribute("aria-invalid") == "true"
    assert page.locator("#address-error").inner_text() == "O który adres chodzi? Wybierz jeden:"
    assert page.get_by_label("Numer telefonu komórkowego").first.input_value() == "601 234 567"
    assert page.get_by_label("Woda").is_checked() and page.locator("#consent").is_checked()
    assert _count(db, VerificationCode) == 0
    assert page.axe() == []
    chosen = choices.first.get_attribute("value")
    choices.first.check()

    assert _submit(page, "Wyślij mi kod") == 200
    assert page.locator("#form-message").inner_text() == "Kod jest już w drodze SMS-em."
    assert page.axe() == []
    assert _enter_code(page, code_for(PHONE)) == 200
    assert page.locator("#result-heading").inner_text().startswith("Subskrypcja jest aktywna")
    assert page.locator("#result-zones li").count() >= 1
    assert page.axe() == []
    db.expire_all()
    subscriber = db.scalar(select(Subscriber).where(Subscriber.phone == PHONE))
    assert (subscriber.status, subscriber.topics, subscriber.source) == ("active", ["water"], "web")
    assert [loc.address for loc in subscriber.locations] == [chosen]

    # Show my data: a code, then a readable page and a JSON file — with a report the number sent to the city and a
    # reply it sent to an alert's question.
    now = utcnow()
    db.add(ResidentReport(phone=PHONE, text="Zalana piwnica przy Polnej 2", received_at=now, updated_at=now))
    asked = Campaign(kind="alert", severity="severe", title="Powódź na Wildzie", body="Powódź.")
    db.add(asked)
    db.flush()
    db.add(CampaignReply(campaign_id=asked.id, phone=PHONE, answer="1", text="1 ok", received_at=now))
    db.commit()
    page.goto("/subscribe/")
    page.locator("#manage-phone").fill("601234567")
    assert _submit(page, "Pokaż moje dane") == 200
    assert _enter_code(page, code_for(PHONE, already=1)) == 200
    assert page.url.endswith("/subscribe/my-data")
    assert page.locator("h1").inner_text() == "Wszystko, co przechowujemy o Twoim numerze:"
    assert page.locator("#data-phone").inner_text() == PHONE
    assert chosen in page.locator("#data-places").inner_text()
    assert page.locator("#data-zones li").all_inner_texts() == [
        f"{z.name} ({z.code})" for z in _zones_of(db, subscriber.id)
    ]
    assert page.locator("#data-topics").inner_text() == "Woda"
    assert page.locator("#data-language").inner_text() == "Polski"
    assert subscriber.consent_version in page.locator("#data-consent").inner_text()
    assert page.locator("#data-consent time").count() == 1
    assert page.locator("#subscriber-map").is_hidden()  # the small map needs JavaScript; the list does not
    assert "Zalana piwnica przy Polnej 2" in page.locator("#data-reports").inner_text()
    assert "1 ok (Powódź na Wildzie)" in page.locator("#data-replies").inner_text()
    assert page.axe() == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Pobierz jako JSON").click()
    assert download.value.suggested_filename == "syrena-my-data.json"
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert (data["phone"], data["topics"], data["locations"][0]["address"]) == (PHONE, ["water"], chosen)
    assert [r["text"] for r in data["reports"]] == ["Zalana piwnica przy Polnej 2"]
    assert [(r["answer"], r["text"]) for r in data["replies"]] == [("1", "1 ok")]

    # Unsubscribe.
    page.goto("/subscribe/")
    page.locator("#manage-phone").fill("601 234 567")
    assert _submit(page, "Wypisz mnie") == 200
    assert _enter_code(page, code_for(PHONE, already=2)) == 200
    assert page.locator("#result-heading").inner_text() == "Wypisano. Nie dostaniesz więcej wiadomości."
    assert page.axe() == []
    db.expire_all()
    assert db.scalar(select(Subscriber.status).where(Subscriber.phone == PHONE)) == "unsubscribed"


def _zones_of(db, subscriber_id: int):
    from subscribers.service import zones_of_subscriber

    return zones_of_subscriber(db, subscriber_id)


def test_a_form_with_missing_fields_comes_back_marked_and_writes_nothing(no_js_page, db, gazetteer, two_zones):
    page = no_js_page
    page.goto("/subscribe/")
    page.get_by_label("Adres domowy (ulica i numer)").fill("Głogowska 77")
    assert _submit(page, "Wyślij mi kod") == 422
    assert page.locator("#form-message").inner_text() == "Popraw zaznaczone pola."
    for field, message in (
        ("phone", "Podaj numer telefonu komórkowego."),
        ("consent", "Zaznacz zgodę."),
    ):
        control = page.locator(f"#{field}")
        assert control.get_attribute("aria-invalid") == "true"
        assert f"{field}-error" in control.get_attribute("aria-describedby").split()
        assert page.locator(f"#{field}-error").inner_text() == message
    assert page.locator("#address").get_attribute("aria-invalid") is None  # what was right is not marked
    assert page.get_by_label("Adres domowy (ulica i numer)").input_value() == "Głogowska 77"
    assert page.axe() == []

    page.get_by_label("Numer telefonu komórkowego").first.fill("61 123 45 67")  # a landline
    page.get_by_label("Adres domowy (ulica i numer)").fill("Nieistniejąca 1")
    page.locator("#consent").check()
    assert _submit(page, "Wyślij mi kod") == 422
    assert page.locator("#phone-error").is_visible() and page.locator("#address-error").is_visible()
    assert page.locator("#consent").get_attribute("aria-invalid") is None

    page.locator("#manage-phone").fill("")
    assert _submit(page, "Wypisz mnie") == 422
    assert page.locator("#manage-phone").get_attribute("aria-invalid") == "true"
    assert (_count(db, VerificationCode), _count(db, Subscriber)) == (0, 0)


def test_a_wrong_code_is_marked_and_the_data_page_needs_a_confirmed_code(no_js_page, new_context, worker, code_for):
    page = no_js_page
    page.goto("/subscribe/my-data")  # nobody confirmed anything in this browser
    assert page.locator("#my-data").count() == 0
    assert page.locator("#form-message").inner_text() == "Aby zobaczyć swoje dane, poproś poniżej o nowy kod."
    assert page.request.get("/subscribe/my-data.json", max_redirects=0).status == 302

    page.locator("#manage-phone").fill("601 234 567")
    assert _submit(page, "Pokaż moje dane") == 200
    code_for(PHONE)
    assert _enter_code(page, "000000") == 422
    assert page.locator("#code").get_attribute("aria-invalid") == "true"
    assert page.locator("#code-error").inner_text() == "Kod jest błędny albo wygasł. Sprawdź go lub poproś o nowy."
    assert page.locator("#my-data").count() == 0


def test_the_public_maps_show_the_zones_with_their_names_when_the_tiles_do_not_load(no_js_page, new_context, two_zones):
    names = sorted(two_zones)
    # Without JavaScript: the server's drawing.
    for path in ("/subscribe/", "/alerts"):
        no_js_page.goto(path)
        drawing = no_js_page.locator("#zone-outlines svg")
        assert drawing.locator("path").count() == 2
        assert sorted(drawing.locator("text").all_text_contents()) == names
        # Its text alternative names the zones.
        assert (
            drawing.get_attribute("role") == "img" and drawing.get_attribute("aria-labelledby") == "zone-outlines-title"
        )
        assert all(name in no_js_page.locator("#zone-outlines-title").text_content() for name in names)
        assert no_js_page.axe() == []

    # With JavaScript (tiles refused: the test browser is offline): Leaflet draws them, with permanent labels.
    page = new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True).new_page()
    tiles_asked = []
    page.on("requestfailed", lambda r: tiles_asked.append(r.url) if "tile" in r.url else None)
    for path, map_id in (("/subscribe/", "#pin-map"), ("/alerts", "#alerts-map")):
        page.goto(path)
        page.locator(f"{map_id}[data-zones='2']").wait_for()
        assert page.locator(f"{map_id} .leaflet-overlay-pane path").count() >= 2
        assert sorted(page.locator(f"{map_id} .zone-tooltip").all_inner_texts()) == names
        assert page.locator("#zone-outlines").is_hidden()  # the map shows them; the drawing gives way
        assert axe_violations(page) == []
    assert tiles_asked  # the tiles were asked for and failed: the zones did not need them


def test_the_forms_and_the_public_api_count_against_the_same_rate_limit(no_js_page, two_zones):
    page = no_js_page
    page.goto("/subscribe/")

    def remaining(response) -> int:
        return int(response.headers["x-ratelimit-remaining"])

    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Wyślij mi kod").click()  # an empty form: refused, and counted
    by_form = remaining(navigation.value)
    by_api = remaining(page.request.post("/api/v1/public/subscriptions", data={"phone": "601 234 567"}))
    assert by_api == by_form - 1
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Wypisz mnie").click()
    assert remaining(navigation.value) == by_api - 1


def test_too_many_form_posts_get_the_page_saying_so(no_js_page, settings):
    page = no_js_page
    page.goto("/subscribe/")
    token = page.locator("#manage-form input[name=csrf_token]").get_attribute("value")
    statuses = []
    for _ in range(int(settings.subscribers.request_limit.split()[0]) + 1):
        response = page.request.post("/subscribe/manage", form={"csrf_token": token, "phone": "", "action": "cancel"})
        statuses.append(response.status)
    assert set(statuses[:-1]) == {422} and statuses[-1] == 429
    assert "Zbyt wiele prób z tego miejsca." in response.text()
    assert response.headers["content-type"].startswith("text/html")


def test_a_form_post_without_its_csrf_token_is_refused_and_writes_nothing(no_js_page, db):
    no_js_page.goto("/subscribe/")
    response = no_js_page.request.post(
        "/subscribe/", form={"phone": "601 234 567", "address": "Głogowska 77", "consent": "on"}
    )
    assert response.status == 400
    assert _count(db, VerificationCode) == 0
