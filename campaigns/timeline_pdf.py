"""The timing report of one alert as a one-page PDF for the crisis-management plan (issue 16).

Words and formats come from the caller (the UI passes them in the reader's language); the figures are
campaigns.timeline's. No personal data: no phone number, no message text, and the approver only as a user number
(the campaign page and the audit log say who that is) — so downloading it needs no audit entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from billing.exports import cell_text, pdf_document, pdf_table_header
from campaigns.timeline import BEFORE_SENDING, Timeline, clock, seconds_between

MAX_REASONS = 8  # the commonest failure reasons; the rest summed in one line, so the report stays one page
MAX_LINKS = 6

DEFAULT_LABELS: dict[str, str] = {
    "title": "Alert timing report",
    "campaign": "Campaign",
    "generated": "Generated",
    "step": "Step",
    "time": "Local time",
    "since_created": "Since created",
    "since_sent": "Since sending began",
    "created_at": "Created",
    "submitted_at": "Submitted for approval",
    "approved_at": "Approved",
    "sent_at": "Sending began",
    "first_submit_at": "First SMS submitted to the SMSC",
    "first_receipt_at": "First delivery receipt",
    "delivered_50_at": "50% delivered",
    "delivered_90_at": "90% delivered",
    "delivered_100_at": "100% delivered",
    "approved_by": "Approved by user #%(id)s",
    "override": "emergency override (no second person)",
    "messages": "Messages",
    "delivered": "Delivered",
    "failures": "Failures by reason",
    "reason": "Reason",
    "other_reasons": "Other reasons",
    "no_failures": "No failures.",
    "by_link": "By SMSC connection",
    "link": "Connection",
    "failed": "Failed or expired",
    "cost": "Cost (billing ledger)",
    "not_yet": "—",
    "percent_note": "Percentages are of all the campaign's messages (one per recipient); 100% only when every "
    "message was delivered.",
}


def timeline_pdf(
    timeline: Timeline,
    labels: Mapping[str, str] | None = None,
    local: Callable[[datetime], str] = lambda moment: f"{moment:%Y-%m-%d %H:%M:%S %Z}",
    money: Callable[[Decimal], str] = lambda value: f"{value:,.2f}",
    number: Callable[[int], str] = lambda value: f"{value:,}",
    generated_at: datetime | None = None,
) -> bytes:
    words = {**DEFAULT_LABELS, **(labels or {})}
    title = f"{words['title']} — {words['campaign']} #{timeline.campaign_id}"
    pdf = pdf_document(f"Syrena — {title}")
    pdf.set_auto_page_break(auto=False)  # one page: the lists below are capped instead
    pdf.add_page()
    pdf.set_font("Source", "B", 15)
    pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Source", "", 10)
    if timeline.title:
        pdf.cell(0, 6, cell_text(timeline.title)[:110], new_x="LMARGIN", new_y="NEXT")
    if generated_at is not None:
        pdf.cell(0, 6, f"{words['generated']}: {local(generated_at)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def header(*columns: tuple[str, float, str]) -> None:
        pdf_table_header(pdf, columns)

    header(
        (words["step"], 70, "L"),
        (words["time"], 50, "L"),
        (words["since_created"], 30, "R"),
        (words["since_sent"], 30, "R"),
    )
    for name, moment in timeline.steps():
        since_created = seconds_between(timeline.created_at, moment)
        since_sent = seconds_between(timeline.sent_at, moment) if name not in BEFORE_SENDING else None
        pdf.cell(70, 6, words[name])
        pdf.cell(50, 6, local(moment) if moment else words["not_yet"])
        pdf.cell(30, 6, clock(since_created) if since_created is not None else "", align="R")
        pdf.cell(30, 6, clock(since_sent) if since_sent is not None else "", align="R", new_x="LMARGIN", new_y="NEXT")
    if timeline.approval is not None:
        approved = words["approved_by"] % {"id": timeline.approval.user_id if timeline.approval.user_id else "?"}
        if timeline.approval.override:
            approved += f" — {words['override']}"
        pdf.cell(0, 6, approved, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Source", "", 8)
    pdf.multi_cell(0, 4, words["percent_note"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font("Source", "", 10)
    for name, value in (
        (words["messages"], number(timeline.messages)),
        (words["delivered"], number(timeline.delivered)),
        (words["cost"], money(timeline.cost)),
    ):
        pdf.cell(70, 6, name)
        pdf.cell(50, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font("Source", "B", 11)
    pdf.cell(0, 7, words["failures"], new_x="LMARGIN", new_y="NEXT")
    if not timeline.failures:
        pdf.set_font("Source", "", 9)
        pdf.cell(0, 6, words["no_failures"], new_x="LMARGIN", new_y="NEXT")
    else:
        header((words["reason"], 120, "L"), (words["messages"], 30, "R"))
        reasons = list(timeline.failures.items())
        shown, rest = reasons[:MAX_REASONS], reasons[MAX_REASONS:]
        if rest:
            shown.append((words["other_reasons"], sum(n for _reason, n in rest)))
        for reason, n in shown:
            pdf.cell(120, 6, cell_text(reason)[:80])
            pdf.cell(30, 6, number(n), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    if timeline.by_link:
        pdf.set_font("Source", "B", 11)
        pdf.cell(0, 7, words["by_link"], new_x="LMARGIN", new_y="NEXT")
        header(
            (words["link"], 60, "L"),
            (words["messages"], 30, "R"),
            (words["delivered"], 30, "R"),
            (words["failed"], 40, "R"),
        )
        for link, figures in list(timeline.by_link.items())[:MAX_LINKS]:
            pdf.cell(60, 6, cell_text(link)[:40])
            pdf.cell(30, 6, number(figures.messages), align="R")
            pdf.cell(30, 6, number(figures.delivered), align="R")
            pdf.cell(40, 6, number(figures.failed), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
