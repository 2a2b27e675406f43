"""The month's exports open in the programs finance uses and carry the same totals as the page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from billing.exports import all_groupings, report_csv, report_xlsx, statement_pdf
from billing.reports import monthly_report
from tests.billing.conftest import warsaw


@pytest.fixture
def october(db, settings, add_tariff, charge):
    add_tariff(warsaw(2026, 10, 1), "0.18", monthly="400.00", setup="20000.00")
    for day, parts, encoding in ((1, 1, "gsm7"), (2, 2, "ucs2"), (2, 1, "gsm7"), (31, 3, "ucs2")):
        charge(warsaw(2026, 10, day, 12), parts=parts, encoding=encoding)
    return all_groupings(lambda group_by: monthly_report(db, "2026-10", group_by, settings.billing))


def test_the_csv_lists_every_row_and_the_total(october):
    lines = list(csv.reader(io.StringIO(report_csv(october["encoding"]))))
    assert lines[0] == ["encoding", "name", "messages", "parts", "amount_pln"]
    assert lines[1:] == [
        ["gsm7", "gsm7", "2", "2", "0.3600"],
        ["ucs2", "ucs2", "2", "5", "0.9000"],
        ["total", "Total", "4", "7", "1.2600"],
    ]


def test_the_xlsx_has_the_totals_and_a_sheet_per_grouping(october):
    book = load_workbook(io.BytesIO(report_xlsx(october)))
    assert book.sheetnames == [
        "Summary",
        "By campaign",
        "By zone",
        "By department",
        "By day",
        "By kind",
        "By encoding",
        "By SMSC",
    ]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Monthly statement"] == "2026-10"
    assert Decimal(str(summary["SMS cost"])) == Decimal("1.26")
    assert Decimal(str(summary["Gross"])) == Decimal("25093.55")  # (1.26 + 400 + 20000) × 1.23
    by_day = list(book["By day"].iter_rows(values_only=True))
    assert by_day[-1][0] == "Total"
    assert sum(Decimal(str(r[3])) for r in by_day[1:-1]) == Decimal(str(by_day[-1][3])) == Decimal("1.26")


def test_the_pdf_statement_states_the_totals_in_polish(october):
    labels = {"statement": "Zestawienie miesięczne", "gross": "Brutto", "sms_cost": "Koszt SMS"}
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(statement_pdf(october, labels))).pages)
    assert "Zestawienie miesięczne 2026-10" in text
    assert "25,093.55" in text
    assert "Koszt SMS" in text
    assert "1.26" in text


@pytest.fixture
def november(db, settings, november_with_callouts):
    return all_groupings(lambda group_by: monthly_report(db, "2026-11", group_by, settings.billing))


def test_the_xlsx_summary_has_the_internal_line_and_adds_up_to_net(november):
    book = load_workbook(io.BytesIO(report_xlsx(november)))
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert Decimal(str(summary["Internal notifications (call-outs)"])) == Decimal("0.72")
    paid = ("SMS cost", "Exercises and tests (apart)", "Internal notifications (call-outs)", "Monthly subscription")
    assert sum(Decimal(str(summary[k])) for k in (*paid, "Set-up fee")) == Decimal(str(summary["Net"]))
    by_kind = [row[0] for row in book["By kind"].iter_rows(values_only=True)]
    assert by_kind == ["Kind", "Alert", "Information", "Transactional", "Total"]  # no call-out among the rows


def test_the_pdf_statement_states_the_internal_and_exercise_lines(november):
    labels = {"internal_cost": "Powiadomienia wewnętrzne (wezwania)", "exercise_cost": "Ćwiczenia i testy (osobno)"}
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(statement_pdf(november, labels))).pages)
    assert "Powiadomienia wewnętrzne (wezwania) 0.72" in text
    assert "Ćwiczenia i testy (osobno) 0.54" in text
    assert "20,401.98" in text  # net: the lines above add up to it
