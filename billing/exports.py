"""A month's report as CSV, XLSX and a PDF statement. Words come from `labels` (the UI passes them in the
reader's language); numbers are written as numbers, amounts exactly as the ledger sums them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from billing.reports import GROUPINGS, MonthlyReport, ReportRow, grosz
from syrena_core.text import spreadsheet_text, xml_safe

DEFAULT_LABELS: dict[str, str] = {
    "statement": "Monthly statement",
    "month": "Month",
    "currency": "Currency",
    "generated": "Generated",
    "summary": "Summary",
    "messages": "Messages",
    "parts": "SMS parts",
    "amount": "Cost",
    "name": "Name",
    "total": "Total",
    "sms_cost": "SMS cost",
    "exercise_cost": "Exercises and tests (apart)",
    "internal_cost": "Internal notifications (call-outs)",
    "subscription": "Monthly subscription",
    "setup": "Set-up fee",
    "net": "Net",
    "vat": "VAT",
    "gross": "Gross",
    "fees": "Fees",
    "period": "Period",
    "vat_rate": "VAT rate",
    "none": "—",
    "no_zone": "No zone (drawn area or transactional)",
    "no_department": "No department",
    "col.campaign": "Campaign",
    "col.zone": "Zone",
    "col.department": "Department",
    "col.day": "Day",
    "col.kind": "Kind",
    "col.encoding": "Encoding",
    "col.smsc": "SMSC",
    "group.campaign": "By campaign",
    "group.zone": "By zone",
    "group.department": "By department",
    "group.day": "By day",
    "group.kind": "By kind",
    "group.encoding": "By encoding",
    "group.smsc": "By SMSC",
    "kind.alert": "Alert",
    "kind.info": "Information",
    "kind.transactional": "Transactional",
}
# Source Sans Pro (Regular and Bold, with Polish letters) ships in the repository under its licence, the SIL OFL 1.1
# (billing/fonts/OFL.txt); the PyPI wrapper that carried it (font-source-sans-pro 0.0.1) is no longer needed.
FONT_DIR = Path(__file__).resolve().parent / "fonts"


def pdf_document(title: str) -> FPDF:
    """An A4 document with the bundled font as "Source" (regular and "B"old): it carries the Polish and Ukrainian
    letters, which fpdf2's core fonts cannot. Used by every PDF Syrena writes (also campaigns.timeline_pdf)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("Source", "", str(FONT_DIR / "SourceSansPro-Regular.ttf"))
    pdf.add_font("Source", "B", str(FONT_DIR / "SourceSansPro-Bold.ttf"))
    pdf.set_title(title)
    return pdf


def pdf_table_header(pdf: FPDF, columns: Sequence[tuple[str, float, str]], size: float = 9, height: float = 6) -> None:
    """A table's header row — (text, width, align) per column, bold and underlined — then the body's font."""
    pdf.set_font("Source", "B", size)
    for text_, width, align in columns:
        pdf.cell(width, height, text_, align=align, border="B")
    pdf.ln()
    pdf.set_font("Source", "", size)


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {**DEFAULT_LABELS, **(labels or {})}


def row_name(group_by: str, row: ReportRow, labels: Mapping[str, str]) -> str:
    """What a row is, for people: '#12 Water main burst', 'Wilda', '2026-11-03', 'Alert'."""
    if row.key is None:
        return (
            labels["no_zone"]
            if group_by == "zone"
            else (labels["no_department"] if group_by == "department" else labels["none"])
        )
    if group_by == "campaign":
        return f"#{row.key} {row.label or ''}".strip()
    if group_by == "zone":
        return row.label or f"#{row.key}"
    if group_by == "kind":
        return labels.get(f"kind.{row.key}", str(row.key))
    if group_by == "day":
        return row.key.isoformat()
    return str(row.key)


def cell_text(text: str) -> str:
    """A name (zone, department, campaign title) as an export writes it: characters XML and UTF-8 cannot carry
    replaced, so that stored text never makes an export fail."""
    return xml_safe(text) or ""


def _csv_row(values: list[Any]) -> list[Any]:
    # Zone names, departments and titles are anyone's text: none may become a live formula in a spreadsheet.
    return [spreadsheet_text(v) if isinstance(v, str) else v for v in values]


def _append(sheet, values: list[Any]) -> None:
    """A row whose text cells are strings, never formulas (openpyxl takes any text starting "=" for one)."""
    sheet.append([cell_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def report_csv(report: MonthlyReport, labels: Mapping[str, str] | None = None) -> str:
    """One line per row, then the total line; ',' separated, '.' decimals, UTF-8."""
    words = _labels(labels)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    key_header = {"campaign": "campaign_id", "zone": "zone_id"}.get(report.group_by, report.group_by)
    writer.writerow(_csv_row([key_header, "name", "messages", "parts", f"amount_{report.currency.lower()}"]))
    for row in report.rows:
        key = "" if row.key is None else (row.key.isoformat() if report.group_by == "day" else row.key)
        writer.writerow(_csv_row([key, row_name(report.group_by, row, words), row.messages, row.parts, row.amount]))
    writer.writerow(
        _csv_row(["total", words["total"], report.totals.messages, report.totals.parts, report.totals.sms_cost])
    )
    return out.getvalue()


def _totals_lines(report: MonthlyReport, words: Mapping[str, str]) -> list[tuple[str, Any]]:
    t = report.totals
    return [
        (words["messages"], t.messages),
        (words["parts"], t.parts),
        (words["sms_cost"], t.sms_cost),
        (words["exercise_cost"], t.exercise_cost),
        (words["internal_cost"], t.internal_cost),
        (words["subscription"], t.subscription),
        (words["setup"], t.setup),
        (words["net"], t.net),
        (words["vat"], t.vat),
        (words["gross"], t.gross),
    ]


def report_xlsx(reports: Mapping[str, MonthlyReport], labels: Mapping[str, str] | None = None) -> bytes:
    """A workbook: the summary sheet, then one sheet per grouping with a total line."""
    words = _labels(labels)
    first = next(iter(reports.values()))
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook holds one worksheet, the active one (never a chart sheet)
    sheet.title = words["summary"][:31]
    bold = Font(bold=True)
    _append(sheet, [words["statement"], first.month_label])
    sheet["A1"].font = bold
    _append(sheet, [words["currency"], first.currency])
    sheet.append([])
    for name, value in _totals_lines(first, words):
        _append(sheet, [name, value])
        if isinstance(value, Decimal):
            sheet.cell(sheet.max_row, 2).number_format = "#,##0.00##"
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 18
    for group_by, report in reports.items():
        ws = book.create_sheet(words[f"group.{group_by}"][:31])
        _append(
            ws, [words[f"col.{group_by}"], words["messages"], words["parts"], f"{words['amount']} ({report.currency})"]
        )
        for cell in ws[1]:
            cell.font = bold
        for row in report.rows:
            _append(ws, [row_name(group_by, row, words), row.messages, row.parts, row.amount])
            ws.cell(ws.max_row, 4).number_format = "#,##0.00##"
        _append(ws, [words["total"], report.totals.messages, report.totals.parts, report.totals.sms_cost])
        for cell in ws[ws.max_row]:
            cell.font = bold
        ws.cell(ws.max_row, 4).number_format = "#,##0.00##"
        ws.column_dimensions["A"].width = 48
        for column in "BCD":
            ws.column_dimensions[column].width = 16
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _plain_money(value: Decimal) -> str:
    return f"{value:,.2f}"


def statement_pdf(
    reports: Mapping[str, MonthlyReport],
    labels: Mapping[str, str] | None = None,
    money: Callable[[Decimal], str] = _plain_money,
    sections: tuple[str, ...] = ("department", "campaign", "zone", "kind"),
) -> bytes:
    """The month's statement: totals with fees and VAT, then the cost by department, campaign, zone, kind."""
    words = _labels(labels)
    first = next(iter(reports.values()))
    pdf = pdf_document(f"Syrena — {words['statement']} {first.month_label}")
    pdf.add_page()
    pdf.set_font("Source", "B", 16)
    pdf.cell(0, 10, f"Syrena — {words['statement']} {first.month_label}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Source", "", 9)
    local = ZoneInfo(first.timezone)
    pdf.cell(
        0,
        6,
        f"{words['generated']}: {datetime.now(local):%Y-%m-%d %H:%M} {first.timezone} · "
        f"{words['currency']}: {first.currency}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)

    def line(name: str, value: str, bold: bool = False) -> None:
        pdf.set_font("Source", "B" if bold else "", 11)
        pdf.cell(110, 7, name)
        pdf.cell(60, 7, value, align="R", new_x="LMARGIN", new_y="NEXT")

    t = first.totals
    line(words["messages"], f"{t.messages:,}")
    line(words["parts"], f"{t.parts:,}")
    line(words["sms_cost"], money(grosz(t.sms_cost)))
    # Paid for apart from the real traffic above, and in net: without them the lines would not add up to net.
    line(words["exercise_cost"], money(grosz(t.exercise_cost)))
    line(words["internal_cost"], money(grosz(t.internal_cost)))
    line(words["subscription"], money(t.subscription))
    line(words["setup"], money(t.setup))
    line(words["net"], money(t.net), bold=True)
    line(words["vat"], money(t.vat))
    line(words["gross"], money(t.gross), bold=True)
    if first.fees:
        pdf.ln(3)
        pdf.set_font("Source", "B", 12)
        pdf.cell(0, 8, words["fees"], new_x="LMARGIN", new_y="NEXT")
        for fee in first.fees:
            period = (
                f"{fee.period_from.astimezone(local):%Y-%m-%d %H:%M} – "
                f"{fee.period_to.astimezone(local):%Y-%m-%d %H:%M} {first.timezone}"
            )
            line(f"{words[fee.fee]} ({words['vat_rate']} {fee.vat_rate * 100:.0f}%) {period}", money(fee.amount))
    for group_by in sections:
        report = reports.get(group_by)
        if report is None:
            continue
        pdf.ln(3)
        pdf.set_font("Source", "B", 12)
        pdf.cell(0, 8, words[f"group.{group_by}"], new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Source", "B", 9)
        for text_, width, align in (
            (words[f"col.{group_by}"], 100, "L"),
            (words["messages"], 25, "R"),
            (words["parts"], 25, "R"),
            (words["amount"], 30, "R"),
        ):
            pdf.cell(width, 6, text_, align=align, border="B")
        pdf.ln()
        pdf.set_font("Source", "", 9)
        for row in report.rows:
            pdf.cell(100, 6, cell_text(row_name(group_by, row, words))[:70])
            pdf.cell(25, 6, f"{row.messages:,}", align="R")
            pdf.cell(25, 6, f"{row.parts:,}", align="R")
            pdf.cell(30, 6, money(grosz(row.amount)), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Source", "B", 9)
        pdf.cell(100, 6, words["total"], border="T")
        pdf.cell(25, 6, f"{report.totals.messages:,}", align="R", border="T")
        pdf.cell(25, 6, f"{report.totals.parts:,}", align="R", border="T")
        pdf.cell(30, 6, money(grosz(report.totals.sms_cost)), align="R", border="T", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def all_groupings(build: Callable[[str], MonthlyReport]) -> dict[str, MonthlyReport]:
    return {group_by: build(group_by) for group_by in GROUPINGS}
