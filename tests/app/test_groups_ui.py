"""The groups page (app.groups_ui, issue 20) in headless Chromium: one page for groups of every kind, kept by
admins without JavaScript (a bad line named, nothing lost), the members as CSV out and in (a bad line named,
nothing changed), the old test-groups address leading here, and the page at a phone's width."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.app.test_admin_ui import no_horizontal_scroll

pytestmark = pytest.mark.browser

MEMBERS = (
    "Anna Nowak; +48601900001; Prezydent; +48601900002\n"
    "Jan Kowalski; 601 900 002; Zastępca prezydenta\n"
    "Ola Wiśniewska; +48601900003; Dyrektor WZK; +48601900009"
)


def test_an_admin_keeps_a_team_without_javascript(db, make_user, new_context, login):
    page = new_context(java_script_enabled=False).new_page()
    login(page, make_user("admin")[0])
    page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Grupy").click()
    expect(page.locator("#groups-empty")).to_be_visible()

    page.locator("#group-name").fill("Zespół Zarządzania Kryzysowego")
    page.locator("#group-kind").select_option("team")
    page.locator("#group-needed").fill("2")
    page.locator("#group-members").fill(MEMBERS.replace("601 900 002", "12"))
    page.locator("#group-form button[type=submit]").click()
    expect(page.locator(".flash-error")).to_contain_text("wiersz 2")  # the line with the bad phone
    expect(page.locator("#group-members")).to_have_value(MEMBERS.replace("601 900 002", "12"))  # nothing lost
    expect(page.locator("#group-needed")).to_have_value("2")

    page.locator("#group-members").fill(MEMBERS)
    page.locator("#group-form button[type=submit]").click()
    row = page.locator("#groups tbody tr").first
    expect(row).to_have_attribute("data-kind", "team")
    expect(row.locator("td").nth(1)).to_have_text("3")  # members
    expect(row.locator("td").nth(2)).to_have_text("2")  # confirmations needed

    # A deputy loop is refused the same way, naming it.
    row.get_by_role("link").first.click()
    expect(page.locator("#group-members")).to_have_value(
        "Anna Nowak; +48601900001; Prezydent; +48601900002\n"
        "Jan Kowalski; +48601900002; Zastępca prezydenta\n"
        "Ola Wiśniewska; +48601900003; Dyrektor WZK; +48601900009"
    )
    # Who replaces whom, at a glance: a deputy who is a member by name.
    expect(page.locator('#members tr[data-phone="+48601900001"] .deputy')).to_have_text("Jan Kowalski · +48601900002")
    expect(page.locator('#members tr[data-phone="+48601900003"] .deputy')).to_have_text("+48601900009")
    loop = MEMBERS.replace("Zastępca prezydenta", "Zastępca prezydenta; +48601900001")
    page.locator("#group-members").fill(loop)
    page.locator("#group-form button[type=submit]").click()
    expect(page.locator(".flash-error")).to_contain_text("deputy loop: +48601900001 → +48601900002 → +48601900001")

    page.locator("#group-kind").select_option("services")
    page.locator("#group-members").fill(MEMBERS)
    page.locator("#group-form button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    page.goto("/admin/groups?kind=team")
    expect(page.locator("#groups-empty")).to_be_visible()
    page.goto("/admin/groups?kind=services")
    expect(page.locator("#groups tbody tr")).to_have_count(1)
    members = db.execute(
        text('SELECT phone, function, "order", deputy_phone FROM contact_group_member ORDER BY "order"')
    )
    assert [tuple(m) for m in members] == [
        ("+48601900001", "Prezydent", 0, "+48601900002"),
        ("+48601900002", "Zastępca prezydenta", 1, None),
        ("+48601900003", "Dyrektor WZK", 2, "+48601900009"),
    ]

    page.locator("#groups tbody tr").first.get_by_role("link").first.click()
    page.locator("#delete-group").click()
    expect(page.locator("#groups-empty")).to_be_visible()
    actions = db.execute(text("SELECT action FROM audit_log WHERE object_type = 'contact_group' ORDER BY id"))
    assert actions.scalars().all() == ["group.create", "group.update", "group.delete"]


def test_members_go_out_and_come_back_as_csv_and_a_bad_line_changes_nothing(
    api, db, make_user, new_context, login, tmp_path
):
    status, group = api.post(
        "/api/v1/groups",
        {
            "name": "Media lokalne",
            "kind": "media",
            "members": [
                {"name": "Radio Poznań", "phone": "+48601900001", "function": "Wydawca dyżurny"},
                {"name": "Głos Wielkopolski", "phone": "+48601900002", "deputy_phone": "+48601900001"},
            ],
        },
    )
    assert status == 201, group
    page = new_context().new_page()
    login(page, make_user("admin")[0])
    page.goto(f"/admin/groups/{group['id']}")
    with page.expect_download() as download:
        page.locator("#members-export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert exported.splitlines() == [
        "name,phone,function,order,deputy_phone",
        "Radio Poznań,+48601900001,Wydawca dyżurny,0,",
        "Głos Wielkopolski,+48601900002,,1,+48601900001",
    ]
    export = db.execute(text("SELECT details FROM audit_log WHERE action = 'group.export'")).scalar_one()
    assert export == {"format": "csv", "rows": 2, "personal_data": True}

    bad = tmp_path / "zle.csv"
    bad.write_text(exported + "Radio Merkury,+48601900003,,2,\nWTK,61 000 00 00,,3,\n", encoding="utf-8")
    page.locator("#members-file").set_input_files(str(bad))
    page.locator("#members-import button[type=submit]").click()
    expect(page.locator(".flash-error")).to_contain_text("wiersz 5")
    expect(page.locator("#group-members")).to_have_value(
        "Radio Poznań; +48601900001; Wydawca dyżurny\nGłos Wielkopolski; +48601900002; ; +48601900001"
    )

    good = tmp_path / "dobre.csv"
    good.write_text("Nazwa;Telefon;Funkcja\nRadio Merkury;601 900 003;Redakcja\n", encoding="cp1250")
    page.locator("#members-file").set_input_files(str(good))
    page.locator("#members-import button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#group-members")).to_have_value("Radio Merkury; +48601900003; Redakcja")
    actions = db.execute(text("SELECT action FROM audit_log WHERE object_type = 'contact_group' ORDER BY id"))
    assert actions.scalars().all() == ["group.create", "group.export", "group.update"]


def test_the_test_groups_address_leads_to_the_groups_of_kind_test(api, make_user, new_context, login):
    status, group = api.post("/api/v1/test-groups", {"name": "Sztab", "phones": ["+48601900001"]})
    assert status == 201
    page = new_context().new_page()
    login(page, make_user("admin")[0])
    page.goto("/admin/test-groups")
    assert page.url.endswith("/admin/groups?kind=test")
    expect(page.locator("#groups tbody tr")).to_have_count(1)
    expect(page.locator("#group-kind")).to_have_value("test")  # a new group here is a test group
    page.goto(f"/admin/test-groups/{group['id']}")
    assert page.url.endswith(f"/admin/groups/{group['id']}")
    operator = new_context().new_page()
    login(operator, make_user("operator")[0])
    assert operator.goto("/admin/groups").status == 403
    assert operator.get_by_role("link", name="Grupy").count() == 0


@pytest.mark.parametrize("width", [375, 1280])
def test_the_groups_pages_fit_the_screen(api, make_user, new_context, login, width):
    status, group = api.post(
        "/api/v1/groups",
        {
            "name": "Służby miejskie i Ochotnicze Straże Pożarne",
            "kind": "services",
            "needed": 1,
            "members": [{"name": "Komendant Miejski PSP", "phone": "+48601900001", "function": "Komendant"}],
        },
    )
    assert status == 201
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    login(page, make_user("admin")[0])
    for path in ("/admin/groups", f"/admin/groups/{group['id']}"):
        page.goto(path)
        assert no_horizontal_scroll(page), path
        box = page.locator("#group-members").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
