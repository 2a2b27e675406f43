"""Checking the operator's invoice: import its CSV of charged messages and compare it with the ledger.

An operator line is matched through its message id, which is the SMSC's id of a part we sent (one line
per part, or one line per message naming any of its parts), and its time: SMSCs reuse ids (after a restart,
when a counter wraps), so a line goes to the most recent of our charges with that id made before the line's
time (plus RECORDING_SLACK), within the id's lifetime — never to an older send of the same id. The same id
may therefore appear on several lines, at different times. Imports are all or nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from billing.exceptions import OperatorCsvInvalid, ReconciliationNotFound
from billing.models import OperatorCharge, ReconciliationImport
from billing.reports import LAST_YEAR, month_bounds, parse_month
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.config import get_settings
from syrena_core.text import describe, first_unsafe

# Header names operators use, normalised (lower case, "_" for spaces and dashes).
COLUMNS = {
    "message_id": ("message_id", "msg_id", "id", "smsc_message_id", "messageid"),
    "time": ("time", "timestamp", "date", "charged_at", "submitted_at", "sent_at", "datetime"),
    "parts": ("parts", "segments", "sms_parts", "sms"),
    "amount": ("amount", "cost", "price", "charge", "net"),
}
MAX_PROBLEMS = 50
MAX_DETAILS = 200


@dataclass(frozen=True)
class OperatorLine:
    smsc_message_id: str
    charged_at: datetime
    parts: int
    amount: Decimal


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        _refuse_control_characters(content)
        return content
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OperatorCsvInvalid("the file is not UTF-8 text (save the CSV as UTF-8)") from None
    _refuse_control_characters(text)
    return text


def _refuse_control_characters(text: str) -> None:
    """A NUL (which PostgreSQL cannot store) or another control character is no part of an operator's CSV;
    tab, CR and LF are its separators."""
    for number, line in enumerate(text.split("\n"), start=1):
        found = first_unsafe(line.replace("\t", " "))
        if found is not None:
            position, c = found
            raise OperatorCsvInvalid(
                f"line {number} contains the invisible character {describe(c)} at position "
                f"{position}; nothing was imported",
                [{"line": number, "problem": f"{describe(c)} at position {position}"}],
            )


def _header_map(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in header]
    found: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        for n, name in enumerate(names):
            if name in aliases:
                found[column] = n
                break
    missing = [c for c in COLUMNS if c not in found]
    if missing:
        raise OperatorCsvInvalid(
            f"the header lacks the column(s) {', '.join(missing)}; expected: message_id, time, parts, amount",
            [{"line": 1, "problem": f"header is {', '.join(header)}"}],
        )
    return found


def _time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.strip().replace(" UTC", "Z"))
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 lies past the last datetime in UTC
        raise ValueError(raw) from None
    if not 2000 <= value.year <= LAST_YEAR:
        raise ValueError(raw)
    return value


def _amount(raw: str, decimal_comma: bool) -> Decimal:
    raw = raw.strip().replace(" ", "").replace("\u00a0", "")
    if decimal_comma:
        raw = raw.replace(",", ".")
    value = Decimal(raw)
    if not value.is_finite() or value != value.quantize(Decimal("0.0001")) or abs(value) >= Decimal("1e8"):
        raise InvalidOperation(raw)
    return value


def parse_operator_csv(content: bytes | str) -> list[OperatorLine]:
    """Every line of the CSV, or OperatorCsvInvalid naming each bad line (with its number)."""
    body = _decode(content)
    if not body.strip():
        raise OperatorCsvInvalid("the file is empty")
    first_line = body.splitlines()[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(body), delimiter=delimiter)
    try:
        header = next(reader)
        columns = _header_map(header)
        lines: list[OperatorLine] = []
        problems: list[dict[str, Any]] = []
        seen: dict[tuple[str, datetime | None], int] = {}  # (message_id, time) → line
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < len(header):
                problems.append({"line": number, "problem": f"{len(row)} fields, the header has {len(header)}"})
                continue
            cells = {c: row[i].strip() for c, i in columns.items()}
            line_problems = []
            message_id = cells["message_id"]
            if not message_id or len(message_id) > 64:
                line_problems.append("message_id is empty or longer than 64 characters")
            charged_at = None
            try:
                charged_at = _time(cells["time"])
            except ValueError:
                line_problems.append(
                    f"time {cells['time']!r} is not an ISO 8601 date and time from 2000 to {LAST_YEAR}"
                )
            if message_id and (message_id, charged_at) in seen:
                # The same id at another time is a reused id (an SMSC restart, a wrapped counter), not a repeat.
                line_problems.append(f"message_id {message_id} repeats line {seen[(message_id, charged_at)]}")
            try:
                parts = int(cells["parts"])
                if parts < 1 or parts > 255:
                    raise ValueError
            except ValueError:
                line_problems.append(f"parts {cells['parts']!r} is not a whole number from 1 to 255")
            try:
                amount = _amount(cells["amount"], decimal_comma=delimiter != ",")
            except InvalidOperation:
                line_problems.append(f"amount {cells['amount']!r} is not a decimal amount (at most 4 places)")
            if line_problems:
                problems.append({"line": number, "problem": "; ".join(line_problems)})
            else:
                assert charged_at is not None  # a line without problems has a time
                seen[(message_id, charged_at)] = number
                lines.append(OperatorLine(message_id, charged_at, parts, amount))
            if len(problems) >= MAX_PROBLEMS:
                break
    except csv.Error as e:
        raise OperatorCsvInvalid(f"the file is not valid CSV: {e}") from None
    if problems:
        raise OperatorCsvInvalid(f"{len(problems)} line(s) cannot be read; nothing was imported", problems)
    if not lines:
        raise OperatorCsvInvalid("the file has a header but no charged messages")
    return lines


def import_operator_csv(
    session: Session, actor: User | None, month: Any, content: bytes | str, filename: str | None = None
) -> ReconciliationImport:
    """Store the operator's charges for `month` (YYYY-MM): all lines, in the caller's transaction, or none."""
    month_start = parse_month(month) if not isinstance(month, date) else month
    if filename is not None and first_unsafe(filename) is not None:
        filename = None  # only a label for people; a name with control characters is not worth keeping
    lines = parse_operator_csv(content)
    batch = ReconciliationImport(
        month=month_start,
        filename=(filename or "")[:200] or None,
        imported_by=actor.id if actor else None,
        rows=len(lines),
        total_amount=sum((line.amount for line in lines), Decimal(0)),
    )
    session.add(batch)
    session.flush()
    session.execute(
        insert(OperatorCharge),
        [
            {
                "import_id": batch.id,
                "smsc_message_id": line.smsc_message_id,
                "charged_at": line.charged_at,
                "parts": line.parts,
                "amount": line.amount,
            }
            for line in lines
        ],
    )
    record(
        session,
        "reconciliation.import",
        actor,
        "reconciliation_import",
        batch.id,
        {"month": f"{month_start:%Y-%m}", "rows": len(lines), "total_amount": str(batch.total_amount)},
    )
    return batch


@dataclass
class DayLine:
    day: date
    matched: int = 0
    missing_at_operator: int = 0
    missing_in_ledger: int = 0
    amount_differences: int = 0
    our_amount: Decimal = Decimal(0)
    operator_amount: Decimal = Decimal(0)

    @property
    def difference(self) -> Decimal:
        return self.operator_amount - self.our_amount


@dataclass
class Discrepancy:
    problem: str  # "missing_at_operator", "missing_in_ledger", "amount_differs"
    day: date
    smsc_message_ids: list[str]
    our_parts: int | None
    operator_parts: int | None
    our_amount: Decimal | None
    operator_amount: Decimal | None


@dataclass
class Reconciliation:
    batch: ReconciliationImport
    days: list[DayLine]
    discrepancies: list[Discrepancy]
    totals: DayLine = field(default_factory=lambda: DayLine(date.min))


# Our charges of the month, and of a day either side: an SMS sent at 23:59 on the 31st may be on
# the operator's next invoice, and should match, not show as missing. Each operator line goes to one charge:
# the most recent with its id charged before the line's time + RECORDING_SLACK (we charge when the SMSC's
# answer is recorded, a moment after the operator's submit time; clocks differ a little) and not longer ago
# than the id's lifetime (smsc.receipt_id_ttl): a reused id never lands on an older send. One hash join on
# the ids and a sort, not a probe per line.
_PER_ENTRY = text("""
WITH ours AS (
    SELECT id, charged_at, parts, amount, smsc_message_ids FROM cost_entry
    WHERE entry_type = 'charge' AND charged_at >= :window_start AND charged_at < :window_end
      AND cardinality(smsc_message_ids) > 0
), ids AS (
    SELECT id AS entry_id, charged_at, unnest(smsc_message_ids) AS sid FROM ours
), theirs AS (
    SELECT DISTINCT ON (l.id) i.entry_id, l.parts, l.amount
    FROM operator_charge l JOIN ids i ON i.sid = l.smsc_message_id
    WHERE l.import_id = :import_id AND i.sid <> ''
      AND i.charged_at <= l.charged_at + make_interval(secs => :slack)
      AND i.charged_at >= l.charged_at - make_interval(secs => :ttl)
    ORDER BY l.id, i.charged_at DESC, i.entry_id DESC
)
SELECT o.id, (o.charged_at AT TIME ZONE :tz)::date AS day, o.smsc_message_ids, o.parts, o.amount,
       count(t.entry_id) AS lines, sum(t.parts) AS operator_parts, sum(t.amount) AS operator_amount
FROM ours o LEFT JOIN theirs t ON t.entry_id = o.id
GROUP BY o.id, o.charged_at, o.smsc_message_ids, o.parts, o.amount
HAVING count(t.entry_id) > 0 OR (o.charged_at >= :start AND o.charged_at < :end)
ORDER BY o.charged_at, o.id
""")
_UNKNOWN_TO_US = text("""
SELECT l.smsc_message_id, (l.charged_at AT TIME ZONE :tz)::date AS day, l.parts, l.amount
FROM operator_charge l
WHERE l.import_id = :import_id AND NOT EXISTS (
    SELECT 1 FROM cost_entry e WHERE e.entry_type = 'charge' AND e.charged_at >= :window_start
      AND e.charged_at < :window_end AND l.smsc_message_id = ANY(e.smsc_message_ids)
      AND e.charged_at <= l.charged_at + make_interval(secs => :slack)
      AND e.charged_at >= l.charged_at - make_interval(secs => :ttl))
ORDER BY l.charged_at, l.smsc_message_id
""")
RECORDING_SLACK = 300.0  # seconds our charge may come after the operator's submit time (recording, clocks)


def reconcile(session: Session, import_id: int, tz: str | None = None) -> Reconciliation:
    """Per local day ([billing] timezone) of the import's month."""
    batch = session.get(ReconciliationImport, import_id)
    if batch is None:
        raise ReconciliationNotFound(f"no reconciliation import with id {import_id}")
    tz = tz or get_settings().billing.timezone
    start, end = month_bounds(batch.month, tz)
    params = {
        "import_id": batch.id,
        "start": start,
        "end": end,
        "window_start": start - timedelta(days=1),
        "window_end": end + timedelta(days=1),
        "tz": tz,
        "slack": RECORDING_SLACK,
        "ttl": max(c.receipt_id_ttl() for c in get_settings().smsc.all_connections()),
    }
    days: dict[date, DayLine] = {}
    discrepancies: list[Discrepancy] = []
    for row in session.execute(_PER_ENTRY, params):
        line = days.setdefault(row.day, DayLine(row.day))
        line.our_amount += row.amount
        if row.lines == 0:
            line.missing_at_operator += 1
            discrepancies.append(
                Discrepancy(
                    "missing_at_operator", row.day, list(row.smsc_message_ids), row.parts, None, row.amount, None
                )
            )
            continue
        line.matched += 1
        line.operator_amount += row.operator_amount
        if row.operator_amount != row.amount or row.operator_parts != row.parts:
            line.amount_differences += 1
            discrepancies.append(
                Discrepancy(
                    "amount_differs",
                    row.day,
                    list(row.smsc_message_ids),
                    row.parts,
                    int(row.operator_parts),
                    row.amount,
                    row.operator_amount,
                )
            )
    for row in session.execute(_UNKNOWN_TO_US, params):
        line = days.setdefault(row.day, DayLine(row.day))
        line.missing_in_ledger += 1
        line.operator_amount += row.amount
        discrepancies.append(
            Discrepancy("missing_in_ledger", row.day, [row.smsc_message_id], None, row.parts, None, row.amount)
        )
    ordered = [days[d] for d in sorted(days)]
    totals = DayLine(date.min)
    for line in ordered:
        totals.matched += line.matched
        totals.missing_at_operator += line.missing_at_operator
        totals.missing_in_ledger += line.missing_in_ledger
        totals.amount_differences += line.amount_differences
        totals.our_amount += line.our_amount
        totals.operator_amount += line.operator_amount
    discrepancies.sort(key=lambda d: (d.day, d.problem))
    return Reconciliation(batch, ordered, discrepancies[:MAX_DETAILS], totals)


def list_imports(session: Session, limit: int = 50) -> list[ReconciliationImport]:
    return list(
        session.scalars(select(ReconciliationImport).order_by(ReconciliationImport.imported_at.desc()).limit(limit))
    )
