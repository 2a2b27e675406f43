"""Finance pages in headless Chromium: the month, its totals and charts, downloads, reconciliation,
tariffs; other roles are turned away."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.billing.conftest import warsaw

pytestmark = pytest.mark.browser


@pytest.fixture
def finance_user(make_user):
    email, _token = make_user("finance")
    return email


@pytest.fixture
def october(add_tariff, charge):
    add_tariff(warsaw(2026, 10, 1), "0.18", monthly="400.00", setup="20000.00")
    charge(warsaw(2026, 10, 5, 9), parts=2, encoding="ucs2")
    charge(warsaw(2026, 10, 6, 9), parts=1, encoding="gsm7")


def test_finance_sees_the_month_totals_charts_and_breakdowns(page, login, finance_user, october):
    login(page, finance_user)
    page.get_by_role("link", name="Finanse").click()
    page.locator("#month").fill("2026-10")
    page.get_by_role("button", name="Pokaż").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Koszty w 2026-10")
    expect(page.locator('[data-total="messages"]')).to_have_text("2")
    expect(page.locator('[data-total="parts"]')).to_have_text("3")
    expect(page.locator('[data-total="sms_cost"]')).to_contain_text("0,54")
    expect(page.locator('[data-total="gross"]')).to_contain_text("25 092,66")  # (0.54 + 400 + 20000) × 1.23
    for chart in ("chart-days", "chart-encodings", "chart-campaigns"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-ready", "true")
    expect(page.locator("#by-encoding tbody tr")).to_have_count(2)
    expect(page.locator("#by-kind tbody tr")).to_have_text(["Transakcyjne 2 3 0,54 PLN"])

    with page.expect_download() as download:
        page.locator("#download-xlsx").click()
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert "Podsumowanie" in book.sheetnames


def test_an_unknown_month_is_a_clear_error(page, login, finance_user):
    login(page, finance_user)
    page.goto("/finance/?month=2026-14")
    expect(page.get_by_role("alert")).to_contain_text("Nieznany miesiąc: 2026-14")
    expect(page.locator("#month")).to_have_value(f"{datetime.now(UTC):%Y-%m}")
    assert page.request.get("/finance/2026-14/statement.pdf").status == 404


def test_the_operator_csv_is_compared_on_the_page(page, login, finance_user, charge, tmp_path):
    now = datetime.now(UTC)
    entry = charge(now, parts=1)
    path = tmp_path / "operator.csv"
    path.write_text(
        f"message_id,time,parts,amount\n{entry.smsc_message_ids[0]},{now.isoformat()},1,0.18\n"
        f"UNKNOWN,{now.isoformat()},1,0.18\n"
    )
    login(page, finance_user)
    page.goto("/finance/reconciliation")
    page.locator("#month").fill(f"{now:%Y-%m}")
    page.locator("#file").set_input_files(str(path))
    page.get_by_role("button", name="Importuj i porównaj").click()

    expect(page.locator('[data-total="matched"]')).to_have_text("1")
    expect(page.locator('[data-total="missing_in_ledger"]')).to_have_text("1")
    expect(page.locator('#discrepancies tr[data-problem="missing_in_ledger"]')).to_contain_text("UNKNOWN")


def test_a_malformed_operator_csv_is_refused_on_the_page(page, login, finance_user, tmp_path):
    path = tmp_path / "operator.csv"
    path.write_text("message_id,time,parts,amount\nA1,not a time,1,0.18\n")
    login(page, finance_user)
    page.goto("/finance/reconciliation")
    page.locator("#file").set_input_files(str(path))
    page.get_by_role("button", name="Importuj i porównaj").click()
    expect(page.locator("#import-error")).to_contain_text("Wiersz 2: time")
    expect(page.locator("#imports tbody")).to_contain_text("Nic jeszcze nie zaimportowano.")


def test_an_admin_adds_a_tariff_on_the_page(page, login, make_user):
    email, _token = make_user("admin")
    login(page, email)
    page.goto("/finance/tariffs")
    page.locator("#valid_from").fill("2031-01-01T00:00")
    page.locator("#price_per_part").fill("0.17")
    page.get_by_role("button", name="Zapisz taryfę").click()
    expect(page.locator("#tariff-history tbody tr")).to_have_count(1)
    # The form's time is Warsaw's (the label says so); the history shows it so too, with the zone.
    expect(page.get_by_text("Od (czas Europe/Warsaw; puste: teraz)")).to_be_visible()
    expect(page.locator("#tariff-history tbody")).to_contain_text("2031-01-01 00:00 CET")
    expect(page.locator("#tariff-history tbody")).to_contain_text("0,17")


@pytest.mark.parametrize("role", ["operator", "approver"])
def test_other_roles_see_no_money(page, login, make_user, role):
    email, _token = make_user(role)
    login(page, email)
    expect(page.get_by_role("link", name="Finanse")).to_have_count(0)
    for path in ("/finance/", "/finance/2026-10/report.xlsx", "/finance/reconciliation", "/finance/tariffs"):
        assert page.request.get(path).status == 403, path


def test_a_month_without_costs_says_what_to_do_instead_of_blank_charts(page, login, finance_user, october):
    login(page, finance_user)
    page.goto("/finance/?month=2026-11")
    empty = page.locator("#finance-empty")
    expect(empty).to_contain_text("Brak kosztów SMS w tym miesiącu")
    expect(page.locator("canvas")).to_have_count(0)
    empty.get_by_role("link", name="Zobacz 2026-10").click()
    expect(page.locator('[data-total="messages"]')).to_have_text("2")
    expect(page.locator("#finance-empty")).to_have_count(0)
    expect(page.locator("#chart-days")).to_have_attribute("data-ready", "true")


def test_the_month_shows_the_call_outs_on_a_line_of_their_own(page, login, finance_user, november_with_callouts):
    login(page, finance_user)
    page.goto("/finance/?month=2026-11")
    expect(page.locator(".stat-internal_cost")).to_contain_text("Powiadomienia wewnętrzne (wezwania)")
    expect(page.locator('[data-total="internal_cost"]')).to_contain_text("0,72")
    expect(page.locator('[data-total="exercise_cost"]')).to_contain_text("0,54")
    expect(page.locator('[data-total="sms_cost"]')).to_contain_text("0,72")  # alert, info, keyword reply
    expect(page.locator('[data-total="net"]')).to_contain_text("20 401,98")
    expect(page.locator("#by-kind tbody th")).to_have_text(["Alarm", "Informacja", "Transakcyjne"])
    # the alert, the info and the keyword reply (no campaign); not the call-out
    expect(page.locator("#by-campaign tbody tr")).to_have_count(3)
    expect(page.locator("#by-campaign")).not_to_contain_text(f"#{november_with_callouts.id} ")
