"""Staff pages about residents: search, per-zone counts, detail with zones, the audited erase (the registry
import: test_registry_import.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from subscribers.models import Subscriber, SuppressedPhone
from subscribers.service import phone_hash
from tests.factories import IN_A, IN_B, create_subscriber

pytestmark = pytest.mark.browser


@pytest.fixture
def staff_page(page, login, make_user):
    """staff_page(role) → the page, logged in as a new user with that role."""

    def open_as(role: str):
        email, _token = make_user(role)
        login(page, email)
        return page

    return open_as


def test_staff_find_a_subscriber_and_see_the_zones_of_their_places(staff_page, api, two_zones):
    create_subscriber(api, "+48601000301", IN_A)
    create_subscriber(api, "+48601000302", IN_B)
    page = staff_page("operator")
    page.get_by_role("link", name="Subskrybenci").click()
    counts = dict(
        zip(
            page.locator("#per-zone tbody td:first-child").all_inner_texts(),
            page.locator("#per-zone tbody td.num").all_inner_texts(),
        )
    )
    assert counts == {"Wschód": "1", "Zachód": "1"}
    page.locator("#q").fill("000302")
    page.get_by_role("button", name="Szukaj").click()
    # The search is a new page: wait for its rows (a count taken while it loads saw none, once, under load).
    expect(page.locator("#subscribers tbody tr")).to_have_count(1)
    page.get_by_role("link", name="+48601000302").click()
    assert page.locator("#subscriber-zones li").all_inner_texts() == ["Wschód (WSCHOD)"]
    page.locator("#subscriber-map[data-ready=true]").wait_for()
    assert page.locator("#subscriber-map .leaflet-marker-icon").count() == 1
    assert page.locator("#erase-heading").count() == 0  # only administrators erase


def test_an_admin_erases_a_subscriber_with_a_reason_the_opt_out_stays_and_is_audited(staff_page, api, db, two_zones):
    subscriber_id = create_subscriber(api, "+48601000303", IN_A)
    page = staff_page("admin")
    page.goto(f"/subscribers/{subscriber_id}")
    page.locator("#reason").fill("Wniosek mieszkańca z 29.11")
    page.get_by_role("button", name="Usuń dane").click()
    page.wait_for_url("**/subscribers/")
    db.expire_all()
    assert db.get(Subscriber, subscriber_id) is None
    assert db.get(SuppressedPhone, phone_hash("+48601000303")) is not None
    audit = db.execute(text("SELECT note FROM audit_log WHERE action = 'subscriber.erase'")).scalars().all()
    assert audit == ["Wniosek mieszkańca z 29.11"]
