"""The campaign page's replies (issue 15) in headless Chromium: the tally per answer and zone, the map's dots
with their popups, the grey silent dots behind a checkbox, live updates without a reload; who sees what."""

from __future__ import annotations

from sqlalchemy import text


def test_the_page_shows_the_tally_the_map_and_updates_live(db, page, login, make_user, asked):
    email, _token = make_user("operator")
    login(page, email)
    page.goto(f"/campaigns/{asked['id']}")
    tally = page.locator("#reply-tally")
    assert tally.locator('[data-tally="1"]').inner_text() == "1"
    assert tally.locator('[data-tally="2"]').inner_text() == "1"
    assert tally.locator('[data-tally="no_reply"]').inner_text() == "1"
    assert tally.locator('[data-share="2"]').inner_text().startswith("25")
    rataje = page.locator("#reply-zones tr", has_text="Rataje")
    assert rataje.locator('[data-zone-tally="2"]').inner_text().startswith("1")
    assert page.locator("#reply-list tbody tr").count() == 4

    # The map: 4 dots (the needs-help resident at both homes), none grey until asked for.
    page.locator('#replies-map[data-ready="true"]').wait_for()
    page.locator('#campaign-replies[data-dots="4"]').wait_for()
    red = page.locator('#replies-map path[fill="#c8102e"], #replies-map canvas')
    assert red.count() >= 1
    page.locator("#show-silent").check()
    page.locator('#campaign-replies[data-dots="5"]').wait_for()

    # A new reply arrives (the MO side writes it): the tally follows without a reload.
    page.evaluate("window.__notReloaded = true")
    db.execute(
        text("""INSERT INTO campaign_respondent (campaign_id, phone, subscriber_id, answer, answered_at, last_text,
                                                 last_reply_at, replies)
                SELECT :cid, '+48601000004', id, '2', now(), 'pomocy', now(), 1 FROM subscriber
                WHERE phone = '+48601000004'"""),
        {"cid": asked["id"]},
    )
    db.commit()
    tally.locator('[data-tally="2"]').filter(has_text="2").wait_for(timeout=20_000)
    assert tally.locator('[data-tally="no_reply"]').inner_text() == "0"
    assert page.evaluate("window.__notReloaded") is True
    page.locator('#campaign-replies[data-dots="5"]').wait_for()  # the silent one is now red


def test_a_dot_opens_a_popup_with_phone_address_answer_and_text(page, login, make_user, asked):
    email, _token = make_user("operator")
    login(page, email)
    page.goto(f"/campaigns/{asked['id']}")
    page.locator('#campaign-replies[data-dots="4"]').wait_for()
    # Where the resident who needs help lives (IN_B, their second home): click that spot on the canvas.
    x, y = page.evaluate(
        """() => { const p = window.syrenaRepliesMap.latLngToContainerPoint([52.39, 16.95]); return [p.x, p.y]; }"""
    )
    page.locator("#replies-map").click(position={"x": x, "y": y})
    popup = page.locator(".leaflet-popup-content .reply-popup")
    popup.wait_for()
    assert "+48601000002" in popup.inner_text()
    assert "potrzebuję pomocy" in popup.inner_text() and "POMOC 2 woda w piwnicy" in popup.inner_text()


def test_approvers_see_tallies_without_phones_and_finance_nothing(page, login, make_user, asked):
    email, _token = make_user("approver")
    login(page, email)
    page.goto(f"/campaigns/{asked['id']}")
    assert page.locator('#reply-tally [data-tally="2"]').inner_text() == "1"
    assert page.locator("#reply-list").count() == 0 and page.locator("#replies-map").count() == 0
    assert "+48601000002" not in page.content()
    response = page.goto(f"/campaigns/{asked['id']}/replies.csv")
    assert response.status == 403

    email, _token = make_user("finance")
    login(page, email)
    page.goto(f"/campaigns/{asked['id']}")
    assert page.locator("#campaign-replies").count() == 0
    assert page.goto(f"/campaigns/{asked['id']}/replies.json").status == 403
