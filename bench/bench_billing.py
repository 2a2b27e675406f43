"""Monthly cost report over a month of 5,000,000 ledger entries, for every grouping: from the summary the
ledger's trigger maintains (what the API and the finance page use) against the same report computed
straight from the ledger (baseline, same run). Also proves the two agree, row for row.

    make bench BENCH_ARGS=billing        # BILLING_ROWS=5000000 BILLING_RUNS=5
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import fresh_database, use_environment  # noqa: E402

ROWS = int(os.environ.get("BILLING_ROWS", "5000000"))
RUNS = int(os.environ.get("BILLING_RUNS", "5"))
BASELINE_RUNS = 3
BATCH = 500_000
CAMPAIGNS = 1000
MONTH = "2026-10"

# One month of traffic (October in Warsaw: 745 hours, the clocks go back on the 25th): alerts and information
# to 1,000 campaigns in 12 zones and 6 departments, 2% one-off transactional SMS; 60% of the parts in UCS-2;
# a tariff change at midnight on the 16th, Warsaw time.
_FILL = """
INSERT INTO cost_entry (charged_at, entry_type, kind, message_id, campaign_id, zone_id, department, phone, encoding,
                        parts, smsc_message_ids, tariff_id, price_per_part, amount, currency)
SELECT at, 'charge', kind, CASE WHEN kind = 'transactional' THEN NULL ELSE n END,
       CASE WHEN kind = 'transactional' THEN NULL ELSE 1 + n % :campaigns END,
       CASE WHEN kind = 'transactional' THEN NULL ELSE :first_zone + n % 12 END,
       CASE WHEN kind = 'transactional' THEN NULL
            ELSE (ARRAY['Zarządzanie Kryzysowe', 'Wodociągi', 'Straż Miejska', 'Drogi', 'Zdrowie',
                        'Oświata'])[1 + n % 6]
       END,
       '+4860' || lpad((n % 10000000)::text, 7, '0'), CASE WHEN n % 5 < 3 THEN 'ucs2' ELSE 'gsm7' END, parts,
       ARRAY['S' || n], CASE WHEN at < :change THEN :t1 ELSE :t2 END, price, price * parts, 'PLN'
FROM (SELECT n, :start + (n % :span) * interval '1 second' AS at,
             CASE WHEN n % 50 = 0 THEN 'transactional' WHEN n % 10 = 1 THEN 'info' ELSE 'alert' END AS kind,
             1 + (n % 7) % 3 AS parts
      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) n) g,
     LATERAL (SELECT CASE WHEN g.at < :change THEN 0.18 ELSE 0.20 END AS price) p
"""


def _median_seconds(fn, runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def main() -> dict:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import text

    from billing.reports import GROUPINGS, monthly_report, parse_month, summary_differences, use_timezone
    from syrena_core.db import engine_for, session_scope
    from zones.service import create_zone

    services = ExitStack()  # the database of this run (tests.harness), gone at the end
    settings = use_environment({"SYRENA_DATABASE__URL": services.enter_context(fresh_database("syrena_bench"))})
    url = settings.database.url
    try:
        warsaw = ZoneInfo(settings.billing.timezone)
        start = datetime(2026, 10, 1, tzinfo=warsaw)
        change = datetime(2026, 10, 16, tzinfo=warsaw)
        span = int((datetime(2026, 11, 1, tzinfo=warsaw) - start).total_seconds())
        with session_scope(url) as s:
            first_zone = None
            for n in range(12):
                lon = 16.80 + n * 0.02
                zone = create_zone(
                    s,
                    f"Strefa {n + 1}",
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [[lon, 52.35], [lon + 0.02, 52.35], [lon + 0.02, 52.45], [lon, 52.45], [lon, 52.35]]
                        ],
                    },
                )
                first_zone = first_zone or zone.id
            s.execute(
                text("""
                INSERT INTO campaign (kind, severity, title, body, status, created_at)
                SELECT 'alert', 'severe', 'Kampania ' || n, 'Treść ' || n, 'completed', now()
                FROM generate_series(1, :n) n"""),
                {"n": CAMPAIGNS},
            )
            t1 = s.execute(
                text("""INSERT INTO tariff (valid_from, currency, price_per_part, monthly_fee, setup_fee,
                                   vat_rate) VALUES (:at, 'PLN', 0.18, 400, 20000, 0.23) RETURNING id"""),
                {"at": start},
            ).scalar()
            t2 = s.execute(
                text("""INSERT INTO tariff (valid_from, currency, price_per_part, monthly_fee, setup_fee,
                                   vat_rate) VALUES (:at, 'PLN', 0.20, 450, 0, 0.23) RETURNING id"""),
                {"at": change},
            ).scalar()
        fill_started = time.perf_counter()
        for lo in range(1, ROWS + 1, BATCH):
            with session_scope(url) as s:
                s.execute(
                    text(_FILL),
                    {
                        "lo": lo,
                        "hi": min(lo + BATCH - 1, ROWS),
                        "start": start,
                        "change": change,
                        "span": span,
                        "t1": t1,
                        "t2": t2,
                        "campaigns": CAMPAIGNS,
                        "first_zone": first_zone,
                    },
                )
        fill_seconds = time.perf_counter() - fill_started
        with engine_for(url).execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text("VACUUM ANALYZE cost_entry"))
            c.execute(text("VACUUM ANALYZE cost_summary"))
            ledger_rows = c.execute(text("SELECT count(*) FROM cost_entry")).scalar()
            summary_rows = c.execute(text("SELECT count(*) FROM cost_summary")).scalar()

        results: dict = {}
        with session_scope(url) as s:
            differences = summary_differences(s, parse_month(MONTH))
            if differences:
                raise AssertionError(f"summary and ledger disagree: {differences[:5]}")
            for group_by in GROUPINGS:
                fast = monthly_report(s, MONTH, group_by, settings.billing)  # warm-up
                slow = monthly_report(s, MONTH, group_by, settings.billing, source="ledger")
                if fast != slow:
                    raise AssertionError(f"{group_by}: the summary's report differs from the ledger's")
                median, low, high = _median_seconds(
                    lambda g=group_by: monthly_report(s, MONTH, g, settings.billing), RUNS
                )
                baseline, _, _ = _median_seconds(
                    lambda g=group_by: monthly_report(s, MONTH, g, settings.billing, source="ledger"), BASELINE_RUNS
                )
                results[group_by] = {
                    "report_s_median": round(median, 4),
                    "report_s_range": f"{low:.4f}-{high:.4f}",
                    "baseline_from_ledger_s_median": round(baseline, 3),
                    "speed_up_vs_ledger": round(baseline / median, 1),
                    "rows": len(fast.rows),
                }
            totals = fast.totals
        # What a change of [billing] timezone costs once: the summary rebuilt from the whole ledger.
        with session_scope(url) as s:
            t = time.perf_counter()
            use_timezone(s, "UTC")
            rebuild_seconds = time.perf_counter() - t
    finally:
        services.close()
    return {
        "ledger_rows": ledger_rows,
        "summary_rows": summary_rows,
        "fill_s_incl_summary_trigger": round(fill_seconds, 1),
        "summary_equals_ledger": True,
        "month_sms_cost_pln": str(totals.sms_cost),
        "month_gross_pln": str(totals.gross),
        "runs": RUNS,
        "by_grouping": results,
        "rebuild_summary_for_another_timezone_s": round(rebuild_seconds, 1),
        "slowest_report_s_median": max(r["report_s_median"] for r in results.values()),
    }


if __name__ == "__main__":
    print(main())
