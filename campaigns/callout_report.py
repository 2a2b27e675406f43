"""The record of one call-out (issue 20) for the exercise report: what was sent, by whom and when, each group's
confirmations against what it needed, every person reached (deputies under the one they stood in for) with their
state and times, and the timeline (sent → first submit_sm → first receipt → first and last confirmation).

`callout_report` gathers it (the board page shows the same steps); `callout_pdf` writes it as A4 pages with the one
PDF set-up (billing.exports.pdf_document). Words and time formats come from the caller (the UI passes them in the
reader's language). The PDF carries names and phones — an internal record — so every download is audited
(`record_export`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from billing.exports import cell_text, pdf_document, pdf_table_header
from campaigns.callouts import GroupCount, board, confirmation_times, member_state
from campaigns.models import Callout
from campaigns.timeline import Timeline, campaign_timeline, clock, seconds_between
from syrena_core.audit import record


@dataclass(frozen=True)
class CalloutReport:
    callout: Callout
    rows: Sequence[Any]  # campaigns.callouts.board's rows: members, then each one's deputies
    counts: Sequence[GroupCount]
    timeline: Timeline  # of the carrier campaign: its submit_sm and receipts
    first_confirmation_at: datetime | None
    last_confirmation_at: datetime | None

    def steps(self) -> list[tuple[str, datetime | None]]:
        """The call-out's milestones in order (None: not yet, or never)."""
        return [
            ("sent_at", self.callout.created_at),
            ("first_submit_at", self.timeline.first_submit_at),
            ("first_receipt_at", self.timeline.first_receipt_at),
            ("first_confirmation_at", self.first_confirmation_at),
            ("last_confirmation_at", self.last_confirmation_at),
            ("delivered_100_at", self.timeline.delivered_100_at),
            ("closed_at", self.callout.closed_at),
        ]

    def since_sent(self, moment: datetime | None) -> str:
        seconds = seconds_between(self.callout.created_at, moment)
        return clock(seconds) if seconds is not None else ""


def callout_report(session: Session, callout: Callout) -> CalloutReport:
    rows, counts = board(session, callout)
    confirmations = confirmation_times(rows)
    return CalloutReport(
        callout=callout,
        rows=rows,
        counts=counts,
        timeline=campaign_timeline(session, callout.campaign),
        first_confirmation_at=confirmations[0] if confirmations else None,
        last_confirmation_at=confirmations[-1] if confirmations else None,
    )


def record_export(session: Session, actor: Any, report: CalloutReport, fmt: str = "pdf") -> None:
    """Names and phones left the system: audited like every personal-data export. The caller commits."""
    record(
        session,
        "callout.export",
        actor,
        "callout",
        report.callout.id,
        {"format": fmt, "people": len(report.rows), "personal_data": True},
    )


DEFAULT_LABELS: dict[str, str] = {
    "title": "Call-out report",
    "callout": "Call-out",
    "generated": "Generated",
    "sent_by": "Sent by",
    "sent": "Sent at",
    "sent_at": "Call-out sent",
    "status": "Status",
    "status.open": "open",
    "status.closed": "closed",
    "ack": "Confirmation asked",
    "yes": "yes",
    "no": "no",
    "escalate_after": "Escalation to the deputy after",
    "reply_window": "Reply window",
    "text": "Text (as sent)",
    "groups": "Groups",
    "group": "Group",
    "members": "Members",
    "confirmed": "Confirmed",
    "declined": "Declined",
    "needed": "Needed",
    "unreachable": "cannot reach the needed confirmations",
    "people": "People",
    "name": "Name",
    "function": "Function",
    "phone": "Phone",
    "state": "State",
    "time": "When",
    "reply": "Reply",
    "deputy_for": "deputy for %(name)s",
    "handed_to": "Handed to the deputy %(to)s",
    "timeline": "Timeline",
    "step": "Step",
    "local_time": "Local time",
    "since_sent": "Since sent",
    "first_submit_at": "First SMS submitted to the SMSC",
    "first_receipt_at": "First delivery receipt",
    "first_confirmation_at": "First confirmation",
    "last_confirmation_at": "Last confirmation",
    "delivered_100_at": "Every SMS delivered",
    "closed_at": "Closed",
    "not_yet": "—",
    "state.sent": "sent",
    "state.delivered": "delivered",
    "state.confirmed": "confirmed",
    "state.declined": "declined",
    "state.escalated": "handed to the deputy",
    "state.no_answer": "no answer",
}


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def callout_pdf(
    report: CalloutReport,
    labels: Mapping[str, str] | None = None,
    local: Callable[[datetime], str] = lambda moment: f"{moment:%Y-%m-%d %H:%M:%S %Z}",
    generated_at: datetime | None = None,
) -> bytes:
    words = {**DEFAULT_LABELS, **(labels or {})}
    callout = report.callout
    title = f"{words['title']} — {words['callout']} #{callout.id}"
    pdf = pdf_document(f"Syrena — {title}")
    pdf.add_page()
    pdf.set_font("Source", "B", 15)
    pdf.multi_cell(0, 8, cell_text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Source", "", 10)
    facts = [
        (words["sent_by"], callout.author.email if callout.author else "—"),
        (words["sent"], local(callout.created_at)),
        (words["status"], words.get(f"status.{callout.status}", callout.status)),
        (words["ack"], words["yes"] if callout.ack else words["no"]),
    ]
    if callout.ack:
        facts.append((words["escalate_after"], _duration(callout.escalate_after_s)))
        facts.append((words["reply_window"], f"{callout.reply_minutes} min"))
    if generated_at is not None:
        facts.append((words["generated"], local(generated_at)))
    for name, value in facts:
        pdf.cell(60, 6, name)
        pdf.cell(0, 6, cell_text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def heading(text_: str) -> None:
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.set_font("Source", "B", 12)
        pdf.cell(0, 8, text_, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Source", "", 10)

    heading(words["text"])
    pdf.multi_cell(0, 5, cell_text(callout.campaign.body or callout.body), border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    heading(words["groups"])
    group_cols: tuple[tuple[str, float, str], ...] = (
        (words["group"], 70, "L"),
        (words["members"], 25, "R"),
        (words["confirmed"], 30, "R"),
        (words["declined"], 30, "R"),
        (words["needed"], 30, "R"),
    )

    pdf_table_header(pdf, group_cols)
    for c in report.counts:
        counted = (cell_text(c.name)[:45], str(c.members), str(c.confirmed), str(c.declined), str(c.needed))
        for value, (_label, width, align) in zip(counted, group_cols, strict=True):
            pdf.cell(width, 6, value, align=align)
        pdf.ln()
        if callout.ack and c.unreachable:
            pdf.set_font("Source", "B", 9)
            pdf.set_text_color(170, 0, 20)
            pdf.cell(0, 5, f"   {words['unreachable']}", new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
            pdf.set_font("Source", "", 9)
    pdf.ln(2)

    heading(words["people"])
    group_names = {c.id: c.name for c in report.counts}
    by_phone = {r.phone: r for r in report.rows}
    people_cols = (
        (words["name"], 40, "L"),
        (words["function"], 26, "L"),
        (words["phone"], 25, "L"),
        (words["group"], 26, "L"),
        (words["state"], 27, "L"),
        (words["time"], 46, "L"),
    )
    pdf_table_header(pdf, people_cols)
    for r in report.rows:
        state = member_state(r)
        state_text = words.get(f"state.{state}", state)
        moment = r.answered_at or r.escalated_at or r.no_answer_at
        name = ("   " * r.depth) + (r.name or "—")
        values = (
            name,
            r.function or "",
            r.phone,
            ", ".join(group_names.get(g, str(g)) for g in r.group_ids),
            state_text,
            local(moment) if moment else "",
        )
        lines = []
        if r.escalated_to:  # handed on (no answer, or declined): on a line of its own, the column is narrow
            deputy = by_phone.get(r.escalated_to)
            to = f"{deputy.name} {r.escalated_to}" if deputy is not None and deputy.name else r.escalated_to
            lines.append(("   " * r.depth) + words["handed_to"] % {"to": to})
        if r.depth and r.deputy_for:
            parent = by_phone.get(r.deputy_for)
            parent_name = (parent.name if parent else None) or r.deputy_for
            lines.append(("   " * r.depth) + words["deputy_for"] % {"name": parent_name})
        if r.reply_text:
            lines.append(("   " * r.depth) + f"{words['reply']}: {r.reply_text}")
        if pdf.will_page_break(6 * (1 + len(lines))):
            pdf.add_page()
            pdf_table_header(pdf, people_cols)
        for value, (_label, width, align) in zip(values, people_cols, strict=True):
            pdf.cell(width, 6, _fit(pdf, cell_text(value), width), align=align)
        pdf.ln()
        pdf.set_font("Source", "", 8)
        for line in lines:
            pdf.multi_cell(0, 4, cell_text(line)[:400], new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Source", "", 9)
    pdf.ln(2)

    heading(words["timeline"])
    step_cols = ((words["step"], 80, "L"), (words["local_time"], 60, "L"), (words["since_sent"], 30, "R"))
    pdf_table_header(pdf, step_cols)
    for key, moment in report.steps():
        pdf.cell(80, 6, words[key])
        pdf.cell(60, 6, local(moment) if moment else words["not_yet"])
        pdf.cell(30, 6, report.since_sent(moment) if moment else "", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _fit(pdf: Any, text_: str, width: float) -> str:
    """The cell's text cut to its column (with "…"), so one person stays one line."""
    room = width - 2 * pdf.c_margin
    if pdf.get_string_width(text_) <= room:
        return text_
    while text_ and pdf.get_string_width(text_ + "…") > room:
        text_ = text_[:-1]
    return text_ + "…"
