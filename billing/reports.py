"""Monthly cost reports: rows by one grouping, and the month's totals with fees and VAT.

Months and days are local calendar months and days of `[billing] timezone` (Europe/Warsaw): a charge at
23:30 UTC on 31 October belongs to November in Poland. Rows come from the maintained summary, keyed by local
day; `source="ledger"` computes the same from the ledger itself (the benchmark's baseline, and the proof that
the two agree).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, text
from sqlalchemy.orm import Session

from billing.exceptions import InvalidReportRequest
from billing.models import BillingCalendar, Tariff
from syrena_core.config import BillingSettings, get_settings

GROUPINGS = ("campaign", "zone", "department", "day", "kind", "encoding", "smsc")
GROSZ = Decimal("0.01")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
LAST_YEAR = 2999


def parse_month(raw: Any) -> date:
    """'YYYY-MM' → the month's first day."""
    match = _MONTH.fullmatch(raw.strip()) if isinstance(raw, str) else None
    # Up to 2999: the month after 9999-12 is no date at all, and no bill is ever that far away.
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= LAST_YEAR:
        raise InvalidReportRequest(f"month must be YYYY-MM from 2000-01 to {LAST_YEAR}-12 (e.g. 2026-11), got {raw!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def local_midnight(day: date, tz: str) -> datetime:
    """The instant a local day begins (in UTC): 1 October 2026 in Warsaw begins at 22:00 UTC on 30 September."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def month_bounds(month: date, tz: str) -> tuple[datetime, datetime]:
    return local_midnight(month, tz), local_midnight(next_month(month), tz)


def _timezone(tz: str | None) -> str:
    return tz or get_settings().billing.timezone


_REBUILD_SUMMARY = text("""
DELETE FROM cost_summary;
INSERT INTO cost_summary (day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id, messages, parts,
                          amount)
SELECT (charged_at AT TIME ZONE :tz)::date, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id,
       count(*) FILTER (WHERE entry_type = 'charge'), sum(parts), sum(amount)
FROM cost_entry GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
""")


def use_timezone(session: Session, tz: str) -> None:
    """Make the summary's days local days of `tz`. When `[billing] timezone` has changed since the summary was
    built, rebuild it from the ledger and commit (reports only read, and their requests end in a rollback):
    new charges wait meanwhile (SHARE lock), so none is summarised by the old calendar. Once per change;
    otherwise one primary-key read."""
    if session.scalar(select(BillingCalendar.timezone).where(BillingCalendar.id == 1)) == tz:
        return
    session.execute(text("LOCK TABLE cost_entry IN SHARE MODE"))
    calendar = session.scalar(select(BillingCalendar).where(BillingCalendar.id == 1).with_for_update())
    if calendar is None:
        session.add(BillingCalendar(id=1, timezone=tz))
    elif calendar.timezone == tz:
        return  # another request rebuilt it meanwhile
    else:
        calendar.timezone = tz
    session.flush()
    session.execute(_REBUILD_SUMMARY, {"tz": tz})
    session.commit()


def grosz(value: Decimal) -> Decimal:
    return value.quantize(GROSZ, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ReportRow:
    key: Any  # campaign id, zone id, department, date, kind or encoding; None where there is none
    label: str | None  # campaign title, zone name; None where the key says it all
    messages: int
    parts: int
    amount: Decimal  # exact: the sum of the ledger's amounts


@dataclass(frozen=True)
class FeeLine:
    fee: str  # "subscription" or "setup"
    tariff_id: int
    period_from: datetime
    period_to: datetime
    amount: Decimal
    vat_rate: Decimal
    smsc: str | None = None  # the SMSC connection whose contract it is; None: the general tariff


@dataclass(frozen=True)
class Totals:
    messages: int  # real traffic: exercises and tests, and internal call-outs, are apart (below)
    parts: int
    sms_cost: Decimal  # exact sum of the rows
    subscription: Decimal
    setup: Decimal
    net: Decimal  # everything paid for: real SMS, exercises, internal call-outs, fees
    vat: Decimal
    gross: Decimal
    # Exercises and tests (ledger kind `exercise`, issue 16): paid for, but not part of the real totals or rows.
    exercise_messages: int = 0
    exercise_parts: int = 0
    exercise_cost: Decimal = Decimal(0)
    # Call-outs to the crisis team, services and media (ledger kind `internal`, issue 20): likewise apart.
    internal_messages: int = 0
    internal_parts: int = 0
    internal_cost: Decimal = Decimal(0)


@dataclass(frozen=True)
class MonthlyReport:
    month: date
    group_by: str
    currency: str
    rows: list[ReportRow]
    totals: Totals
    fees: list[FeeLine]
    timezone: str = "Europe/Warsaw"  # whose calendar the month and its days are

    @property
    def month_label(self) -> str:
        return f"{self.month:%Y-%m}"


_DIMENSION = {
    "campaign": "campaign_id",
    "zone": "zone_id",
    "department": "department",
    "kind": "kind",
    "encoding": "encoding",
    "day": "day",
    "smsc": "smsc",
}
# {which}: the report's rows are real traffic, what residents were sent (alert, info, transactional); exercises
# and tests, and internal call-outs (the city calling its own staff, services and media, issue 20), are each summed
# apart, on a line of their own. Internal SMS stay out of every grouping, as exercises do, so that "by campaign",
# "by zone" and "by department" answer what warning and informing the residents cost: a call-out targets groups,
# not zones, and its cost would sit under "no zone" next to the drawn-area alerts it has nothing to do with. VAT
# is on everything (true).
_FROM_SUMMARY = """
SELECT {col} AS key, sum(messages) AS messages, sum(parts) AS parts, sum(amount) AS amount
FROM cost_summary WHERE day >= :start AND day < :end AND {which} GROUP BY 1"""
_FROM_LEDGER = """
SELECT {col} AS key, count(*) FILTER (WHERE entry_type = 'charge') AS messages, sum(parts) AS parts,
       sum(amount) AS amount
FROM (SELECT *, (charged_at AT TIME ZONE :tz)::date AS day FROM cost_entry
      WHERE charged_at >= :start_at AND charged_at < :end_at AND {which}) e
GROUP BY 1"""
_WHICH = {
    "real": "kind NOT IN ('exercise', 'internal')",
    "exercise": "kind = 'exercise'",
    "internal": "kind = 'internal'",
    "all": "true",
}


def _grouped(session: Session, month: date, column: str, source: str, tz: str, which: str = "real") -> Sequence[Row]:
    sql = (_FROM_SUMMARY if source == "summary" else _FROM_LEDGER).format(col=column, which=_WHICH[which])
    start_at, end_at = month_bounds(month, tz)
    return session.execute(
        text(sql), {"start": month, "end": next_month(month), "start_at": start_at, "end_at": end_at, "tz": tz}
    ).all()


def _apart(session: Session, month: date, source: str, tz: str, which: str) -> tuple[int, int, Decimal]:
    """Messages, parts and cost of the traffic kept off the rows (`which`: exercise or internal)."""
    rows = _grouped(session, month, f"'{which}'", source, tz, which)  # one row, or none in a month without any
    return (
        sum(int(r.messages) for r in rows),
        sum(int(r.parts) for r in rows),
        sum((Decimal(r.amount) for r in rows), Decimal(0)),
    )


def _labels(session: Session, group_by: str, keys: list[Any]) -> dict[Any, str]:
    ids = [k for k in keys if k is not None]
    if not ids:
        return {}
    if group_by == "campaign":
        rows = session.execute(
            text("SELECT id, coalesce(title, left(body, 60)) FROM campaign WHERE id = ANY(:ids)"), {"ids": ids}
        ).all()
    elif group_by == "zone":
        rows = session.execute(text("SELECT id, name FROM zone WHERE id = ANY(:ids)"), {"ids": ids}).all()
    else:
        return {}
    return dict(rows)


def report_rows(
    session: Session, month: date, group_by: str, source: str = "summary", tz: str | None = None
) -> list[ReportRow]:
    if group_by not in GROUPINGS:
        raise InvalidReportRequest(f"group_by must be one of {', '.join(GROUPINGS)}, got {group_by!r}")
    tz = _timezone(tz)
    if source == "summary":
        use_timezone(session, tz)
    raw = _grouped(session, month, _DIMENSION[group_by], source, tz)
    labels = _labels(session, group_by, [r.key for r in raw])
    rows = [ReportRow(r.key, labels.get(r.key), int(r.messages), int(r.parts), Decimal(r.amount)) for r in raw]
    if group_by in ("day", "kind", "encoding", "smsc"):
        rows.sort(key=lambda r: str(r.key))
    else:  # biggest spenders first; the row without a key (no zone, no department) last among equals
        rows.sort(key=lambda r: (-r.amount, r.key is None, str(r.key)))
    return rows


def _fee_lines(tariffs: Sequence[Tariff], month: date, mode: str, tz: str) -> list[FeeLine]:
    """Set-up fee in the month the first tariff starts; the subscription whole (the tariff in force when the
    month began, or when the service began) or prorated by the seconds of the local month each tariff was in
    force (a tariff from the 16th at midnight in Warsaw pays its share from then)."""
    start, end = month_bounds(month, tz)
    month_seconds = Decimal((end - start).total_seconds())
    lines: list[FeeLine] = []
    if tariffs and start <= tariffs[0].valid_from < end and tariffs[0].setup_fee:
        first = tariffs[0]
        lines.append(
            FeeLine("setup", first.id, first.valid_from, first.valid_from, first.setup_fee, first.vat_rate, first.smsc)
        )
    for n, tariff in enumerate(tariffs):
        until = tariffs[n + 1].valid_from if n + 1 < len(tariffs) else end
        period_from, period_to = max(start, tariff.valid_from), min(end, until)
        if period_to <= period_from:
            continue
        if mode == "whole":
            # The tariff the month (or the service) began under is billed for the whole month.
            lines.append(
                FeeLine("subscription", tariff.id, start, end, tariff.monthly_fee, tariff.vat_rate, tariff.smsc)
            )
            break
        share = Decimal((period_to - period_from).total_seconds()) / month_seconds
        lines.append(
            FeeLine(
                "subscription",
                tariff.id,
                period_from,
                period_to,
                grosz(tariff.monthly_fee * share),
                tariff.vat_rate,
                tariff.smsc,
            )
        )
    return lines


def monthly_report(
    session: Session, month: date | str, group_by: str, billing: BillingSettings, source: str = "summary"
) -> MonthlyReport:
    if isinstance(month, str):
        month = parse_month(month)
    rows = report_rows(session, month, group_by, source, billing.timezone)
    tariffs = session.scalars(select(Tariff).order_by(Tariff.valid_from)).all()
    vat_by_tariff = {t.id: t.vat_rate for t in tariffs}
    # VAT per rate: the SMS of each tariff at its rate, each fee at its tariff's rate.
    bases: dict[Decimal, Decimal] = {}
    for tariff_id, _messages, _parts, amount in _grouped(session, month, "tariff_id", source, billing.timezone, "all"):
        rate = vat_by_tariff[tariff_id]
        bases[rate] = bases.get(rate, Decimal(0)) + Decimal(amount)
    # Each contract (the general tariff, and each SMSC connection with its own) has its own fees.
    chains: dict[str | None, list[Tariff]] = {}
    for tariff in tariffs:
        chains.setdefault(tariff.smsc, []).append(tariff)
    fees = [
        line
        for chain in chains.values()
        for line in _fee_lines(chain, month, billing.monthly_fee_mode, billing.timezone)
    ]
    for line in fees:
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal(0)) + line.amount
    sms_cost = sum((r.amount for r in rows), Decimal(0))
    exercise_messages, exercise_parts, exercise_cost = _apart(session, month, source, billing.timezone, "exercise")
    internal_messages, internal_parts, internal_cost = _apart(session, month, source, billing.timezone, "internal")
    subscription = sum((f.amount for f in fees if f.fee == "subscription"), Decimal(0))
    setup = sum((f.amount for f in fees if f.fee == "setup"), Decimal(0))
    net = grosz(sms_cost + exercise_cost + internal_cost + subscription + setup)
    vat = sum((grosz(base * rate) for rate, base in bases.items()), Decimal(0))
    totals = Totals(
        messages=sum(r.messages for r in rows),
        parts=sum(r.parts for r in rows),
        sms_cost=sms_cost,
        subscription=subscription,
        setup=setup,
        net=net,
        vat=vat,
        gross=net + vat,
        exercise_messages=exercise_messages,
        exercise_parts=exercise_parts,
        exercise_cost=exercise_cost,
        internal_messages=internal_messages,
        internal_parts=internal_parts,
        internal_cost=internal_cost,
    )
    currency = chains[None][-1].currency if chains.get(None) else billing.currency
    return MonthlyReport(month, group_by, currency, rows, totals, fees, billing.timezone)


_SUMMARY_VS_LEDGER = text("""
WITH ledger AS (
    SELECT (charged_at AT TIME ZONE :tz)::date AS day, kind, campaign_id, zone_id, department, encoding, smsc,
           tariff_id, count(*) FILTER (WHERE entry_type = 'charge') AS messages, sum(parts) AS parts,
           sum(amount) AS amount
    FROM cost_entry WHERE charged_at >= :start_at AND charged_at < :end_at
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), summary AS (
    SELECT day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id, messages, parts, amount
    FROM cost_summary WHERE day >= :start AND day < :end
)
SELECT coalesce(l.day, s.day) AS day, coalesce(l.campaign_id, s.campaign_id) AS campaign_id,
       l.amount AS ledger_amount, s.amount AS summary_amount
FROM ledger l FULL JOIN summary s
  ON (l.day, l.kind, l.encoding, l.tariff_id) = (s.day, s.kind, s.encoding, s.tariff_id)
 AND l.campaign_id IS NOT DISTINCT FROM s.campaign_id AND l.zone_id IS NOT DISTINCT FROM s.zone_id
 AND l.department IS NOT DISTINCT FROM s.department AND l.smsc IS NOT DISTINCT FROM s.smsc
WHERE l.amount IS DISTINCT FROM s.amount OR l.parts IS DISTINCT FROM s.parts
   OR l.messages IS DISTINCT FROM s.messages
""")


def summary_differences(session: Session, month: date, tz: str | None = None) -> Sequence[Row]:
    """Keys where the maintained summary and the ledger disagree for the month; empty when they agree."""
    tz = _timezone(tz)
    use_timezone(session, tz)
    start_at, end_at = month_bounds(month, tz)
    return session.execute(
        _SUMMARY_VS_LEDGER, {"start": month, "end": next_month(month), "start_at": start_at, "end_at": end_at, "tz": tz}
    ).all()


def campaign_costs(session: Session, campaign_ids: Sequence[int]) -> dict[int, Decimal]:
    """What the ledger charged each campaign, corrections included (0 where nothing yet): the cost its page
    shows, equal to the finance report's. Read from the summary, whose rows per campaign are few."""
    costs = {cid: Decimal(0) for cid in campaign_ids}
    if costs:
        costs.update(
            session.execute(
                text("SELECT campaign_id, sum(amount) FROM cost_summary WHERE campaign_id = ANY(:ids) GROUP BY 1"),
                {"ids": list(costs)},
            ).all()
        )
    return costs


def month_days(month: date) -> list[date]:
    end = next_month(month)
    return [month + timedelta(days=n) for n in range((end - month).days)]
