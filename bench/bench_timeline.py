"""The timing report of one alert (issue 16) on a city-wide campaign: TIMELINE_RECIPIENTS messages (default
100,000), two parts each, over two SMSC links, 96 % delivered, 3 % UNDELIV, 1 % EXPIRED, among 20 other
campaigns of the same size (so the indexes have to find the one). Measured: campaigns.timeline.campaign_timeline
(what GET /api/v1/campaigns/{id}/timeline, the campaign page and the PDF run), median of TIMELINE_RUNS, against
campaigns.service.campaign_progress on the same campaign (the counts the campaign page already shows; baseline,
same run).

    python bench/run.py timeline                      # TIMELINE_RECIPIENTS=100000 TIMELINE_RUNS=7
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

RECIPIENTS = int(os.environ.get("TIMELINE_RECIPIENTS", "100000"))
RUNS = int(os.environ.get("TIMELINE_RUNS", "7"))
CAMPAIGNS = 21  # the measured one and 20 others

_CAMPAIGNS = """
INSERT INTO campaign (kind, severity, title, body, status, created_at, submitted_at, approved_at, sent_at,
                      completed_at, recipients)
SELECT 'alert', 'extreme', 'Alarm ' || n, 'Tresc', 'completed', t, t + interval '1 min', t + interval '3 min',
       t + interval '3 min', t + interval '30 min', :recipients
FROM generate_series(1, :campaigns) n, LATERAL (SELECT now() - n * interval '1 day' AS t) AS at
"""
# Messages submitted at 180/s from the send, receipted 2-12 s later; every 25th UNDELIV, every 100th EXPIRED.
_MESSAGES = """
INSERT INTO message (campaign_id, subscriber_id, phone, status, parts, encoding, queued_at, submitted_at,
                     finished_at, error, smsc)
SELECT c.id, n, '+4860' || lpad(n::text, 7, '0'),
       CASE WHEN n % 100 = 0 THEN 'expired' WHEN n % 25 = 0 THEN 'failed' ELSE 'delivered' END,
       2, 'ucs2', c.sent_at, s.at, s.at + (2 + n % 10) * interval '1 second',
       CASE WHEN n % 100 = 0 THEN 'EXPIRED:000' WHEN n % 25 = 0 THEN 'UNDELIV:001' END,
       CASE WHEN n % 3 = 0 THEN 'link-2' ELSE 'link-1' END
FROM campaign c, generate_series(1, :recipients) n,
     LATERAL (SELECT c.sent_at + n / 180.0 * interval '1 second' AS at) AS s
WHERE c.id = :cid
"""
_PARTS = """
INSERT INTO message_part (message_id, part_no, smsc, smsc_message_id, status, submitted_at, receipt_at)
SELECT m.id, p, m.smsc, m.id || '-' || p, m.status, m.submitted_at, m.finished_at
FROM message m, generate_series(1, 2) p
WHERE m.campaign_id = :cid
"""


def _median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> dict:
    from sqlalchemy import text

    from campaigns import timeline
    from campaigns.models import Campaign
    from campaigns.service import campaign_progress
    from campaigns.timeline import campaign_timeline, milestone_ranks
    from syrena_core.db import engine_for, session_scope

    services = ExitStack()
    settings = use_environment({"SYRENA_DATABASE__URL": services.enter_context(fresh_database("syrena_bench"))})
    url = settings.database.url
    try:
        with session_scope(url) as s:
            s.execute(text(_CAMPAIGNS), {"campaigns": CAMPAIGNS, "recipients": RECIPIENTS})
        ids = []
        with session_scope(url) as s:
            ids = list(s.scalars(text("SELECT id FROM campaign ORDER BY id")))
        for cid in ids:
            with session_scope(url) as s:
                s.execute(text(_MESSAGES), {"cid": cid, "recipients": RECIPIENTS})
                s.execute(text(_PARTS), {"cid": cid})
        with engine_for(url).execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            for table in ("message", "message_part", "campaign"):
                c.execute(text(f"VACUUM ANALYZE {table}"))
        measured = ids[len(ids) // 2]
        with session_scope(url) as s:
            campaign = s.get(Campaign, measured)
            assert campaign is not None
            result = campaign_timeline(s, campaign)
            assert result.messages == RECIPIENTS and result.delivered_90_at is not None, result
            assert result.delivered_100_at is None  # 4 % never delivered
            timeline_s = _median_seconds(lambda: campaign_timeline(s, campaign), RUNS)
            baseline_s = _median_seconds(lambda: campaign_progress(s, [measured]), RUNS)
            # Where the time goes: each statement alone, with the parameters campaign_timeline gives it.
            ranks = milestone_ranks(RECIPIENTS)
            first = s.scalar(
                text("SELECT min(finished_at) FROM message WHERE campaign_id = :c AND status = 'delivered'"),
                {"c": measured},
            )
            parts = {
                "outcomes": (timeline._OUTCOMES, {"cid": measured}),
                "delivered_at": (
                    timeline._DELIVERED_AT,
                    {
                        "cid": measured,
                        "n50": ranks["delivered_50_at"],
                        "n90": ranks["delivered_90_at"],
                        "n100": RECIPIENTS,
                    },
                ),
                "first_submit_and_receipt": (
                    timeline._FIRST_SUBMIT_AND_RECEIPT,
                    {"cid": measured, "until": first + timeline.RECORDING_SLACK},
                ),
            }
            statement_ms = {
                f"{name}_median_ms": round(_median_seconds(lambda q=q, p=p: s.execute(q, p).all(), RUNS) * 1000, 1)
                for name, (q, p) in parts.items()
            }
        return {
            "recipients": RECIPIENTS,
            "campaigns_in_table": CAMPAIGNS,
            "timeline_median_ms": round(timeline_s * 1000, 1),
            "progress_counts_median_ms (baseline)": round(baseline_s * 1000, 1),
            "ratio_to_baseline": round(timeline_s / baseline_s, 2),
            **statement_ms,
        }
    finally:
        services.close()


if __name__ == "__main__":
    print(main())
