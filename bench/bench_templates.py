"""Hazard templates (issue 16): choosing a template to a ready preview, for a city-wide target.

What the server does when the duty officer picks a hazard in the composer: the preview request carrying
`template_id` and `values` — the template read (with the shipped library's check), every language's text filled
and checked (encoding, parts), the CAP defaults applied, the recipients counted per language over the whole city
(all 42 Poznań osiedla, TEMPLATES_SUBSCRIBERS active subscribers, default 200,000, a tenth of them English and a
tenth Ukrainian), parts and cost priced, and the part-boundary warnings. Measured as
campaigns.service.draft_preview (the function both the composer's and the API's preview call), in a fresh
session per run, TEMPLATES_RUNS runs (default 9) after a warm-up.

Baseline in the same run: the preview of the same campaign — the same target, the already filled texts in all
three languages and the same CAP fields — without the template, run in ABBA order with it. The ratio shows what
the template costs on top; `template_fill_only_median_ms` times the template's own step alone (campaigns.templates.
from_request: read the template, fill and check every text), without the recipient count the preview shares with
every other campaign. Target: < 300 ms server time.

    make bench BENCH_ARGS=templates
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

from tests.harness import fresh_database, use_environment  # noqa: E402

SUBSCRIBERS = int(os.environ.get("TEMPLATES_SUBSCRIBERS", "200000"))
RUNS = int(os.environ.get("TEMPLATES_RUNS", "9"))
OSIEDLA = ROOT.parent / "shared" / "data" / "poznan_osiedla.geojson"
EXTENT = (16.73, 52.29, 17.07, 52.51)  # Poznań's extent: subscribers are scattered over it
NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
VALUES = {"zones": "cale miasto", "until": "22:00"}  # a city-wide storm: not 42 district names


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> dict:
    from sqlalchemy import text

    from campaigns import service, templates
    from syrena_core.db import engine_for, session_factory, session_scope
    from zones.service import import_features, read_feature_collection

    if not OSIEDLA.exists():
        raise FileNotFoundError(f"{OSIEDLA} is missing: the benchmark targets the real Poznań osiedla")
    services = ExitStack()  # the database of this run (tests.harness), gone at the end
    url = services.enter_context(fresh_database("syrena_bench_templates"))
    settings = use_environment({"SYRENA_DATABASE__URL": url})
    try:
        with session_scope(url) as s:
            import_features(s, read_feature_collection(OSIEDLA.read_bytes()), repair=True, limits=settings.zones)
            min_lon, min_lat, max_lon, max_lat = EXTENT
            s.execute(
                text("""
                INSERT INTO subscriber (phone, language, status, source, created_at)
                SELECT '+48' || (500000000 + n)::text,
                       CASE WHEN n % 10 = 0 THEN 'en' WHEN n % 10 = 1 THEN 'uk' ELSE 'pl' END,
                       'active', 'import', now()
                FROM generate_series(1, :n) n"""),
                {"n": SUBSCRIBERS},
            )
            s.execute(
                text("""
                INSERT INTO subscriber_location (subscriber_id, label, geom)
                SELECT id, 'home', ST_SetSRID(ST_MakePoint(:x0 + random() * :dx, :y0 + random() * :dy), 4326)
                FROM subscriber"""),
                {"x0": min_lon, "dx": max_lon - min_lon, "y0": min_lat, "dy": max_lat - min_lat},
            )
            zone_ids = list(s.scalars(text("SELECT id FROM zone ORDER BY id")))
            storm = next(t.id for t in templates.list_templates(s) if t.hazard == "storm")
        with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE subscriber, subscriber_location, zone"))

        chosen = {"template_id": storm, "values": VALUES, "zone_ids": zone_ids}
        factory = session_factory(url)

        def preview(data: dict):
            session = factory()
            try:
                began = time.perf_counter()
                campaign, result = service.draft_preview(
                    session, None, data, settings.campaigns, settings.billing, settings.zones.preview_limits(), NOW
                )
                took = time.perf_counter() - began
                session.rollback()
                return took, campaign, result
            finally:
                session.close()

        _took, filled, result = preview(chosen)  # warm-up; also the baseline's texts and fields
        plain = {
            "kind": filled.kind,
            "severity": filled.severity,
            "title": filled.title,
            "event": filled.event,
            "category": filled.category,
            "urgency": filled.urgency,
            "certainty": filled.certainty,
            "body": filled.body,
            "variants": dict(filled.variants),
            "zone_ids": zone_ids,
        }
        preview(plain)
        with_template, without = [], []
        for n in range(RUNS):  # interleaved, ABBA: both see the same machine, caches and load, neither goes first
            pair = [(with_template, chosen), (without, plain)]
            for samples, data in pair if n % 2 == 0 else reversed(pair):
                samples.append(preview(data)[0])

        def fill_only() -> float:
            """The template's own step (campaigns.templates.from_request): read it, fill and count each text."""
            session = factory()
            try:
                began = time.perf_counter()
                templates.from_request(session, chosen, now=NOW, timezone=settings.campaigns.timezone)
                return time.perf_counter() - began
            finally:
                session.rollback()
                session.close()

        fill_only()
        filling = [fill_only() for _ in range(RUNS)]
        return {
            "zones": len(zone_ids),
            "subscribers": SUBSCRIBERS,
            "recipients": result.recipients,
            "by_language": result.by_language,
            "parts": {lang: t["parts"] for lang, t in result.texts.items()},
            "runs": RUNS,
            "template_to_preview_median_ms": _ms(with_template),
            "template_to_preview_max_ms": round(max(with_template) * 1000, 1),
            "baseline_preview_median_ms": _ms(without),
            "ratio_to_baseline": round(statistics.median(with_template) / statistics.median(without), 3),
            "template_fill_only_median_ms": _ms(filling),
            "target_ms": 300,
        }
    finally:
        services.close()
