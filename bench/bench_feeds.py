"""Official warnings in: an Atom feed of 200 CAP 1.2 entries (each an alert embedded, with a polygon: a third of
them over Poznań, the rest elsewhere in Poland) parsed, validated against the CAP 1.2 schema and matched against
the real 42 Poznań osiedla in PostGIS. Goal: < 2 s. Baseline in the same run: parsing alone (the XML and the
feed's entries, no schema, no geometry, no database). Also the whole poll as a worker runs it (served over HTTP,
alerts kept, drafts made for the matching ones), for information.

    make bench BENCH_ARGS=feeds          # FEEDS_ENTRIES=200 FEEDS_RUNS=7
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import fresh_database, use_environment  # noqa: E402

ENTRIES = int(os.environ.get("FEEDS_ENTRIES", "200"))
RUNS = int(os.environ.get("FEEDS_RUNS", "7"))
OSIEDLA = ROOT.parent / "shared" / "data" / "poznan_osiedla.geojson"

ALERT = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>bench.{run}.{n}</identifier><sender>bench@imgw.example</sender>
  <sent>2026-12-06T08:00:00+01:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><language>pl-PL</language><category>Met</category><event>Silny wiatr</event>
    <urgency>Expected</urgency><severity>Moderate</severity><certainty>Likely</certainty>
    <onset>2030-06-01T12:00:00+02:00</onset><expires>2030-06-02T12:00:00+02:00</expires>
    <headline>Ostrzeżenie {n}</headline><instruction>Zabezpiecz przedmioty na balkonach.</instruction>
    <area><areaDesc>obszar {n}</areaDesc><polygon>{polygon}</polygon></area></info>
</alert>"""


def _polygon(n: int) -> str:
    """A 40-point ring: every third over Poznań (16.85-17.0 E, 52.36-52.46 N), the others across Poland."""
    import math

    if n % 3 == 0:
        lat, lon, r = 52.36 + (n % 10) * 0.01, 16.85 + (n % 15) * 0.01, 0.01
    else:
        lat, lon, r = 49.5 + (n % 40) * 0.1, 14.5 + (n % 70) * 0.12, 0.05
    ring = [(lat + r * math.sin(2 * math.pi * i / 39), lon + r * math.cos(2 * math.pi * i / 39)) for i in range(39)]
    ring.append(ring[0])
    return " ".join(f"{a:.5f},{b:.5f}" for a, b in ring)


def feed(run: int, entries: int = ENTRIES) -> bytes:
    items = "".join(
        f"<entry><id>urn:bench:{run}:{n}</id><title>w</title><updated>2026-12-06T08:00:00+01:00</updated>"
        f'<content type="application/cap+xml">{ALERT.format(run=run, n=n, polygon=_polygon(n))}</content></entry>'
        for n in range(entries)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:bench</id><title>bench</title><updated>2026-12-06T08:00:00+01:00</updated>{items}</feed>"
    ).encode()


def main() -> dict:
    from sqlalchemy import select

    from feeds import cap
    from feeds.service import _ZONES_HIT, poll_source
    from syrena_core.config import FeedSettings, FeedSource, replace
    from syrena_core.db import session_factory, session_scope
    from zones.models import Zone
    from zones.service import import_features, read_feature_collection

    if not OSIEDLA.exists():
        raise FileNotFoundError(f"{OSIEDLA} is missing: the benchmark matches against the real Poznań osiedla")
    services = ExitStack()
    url = services.enter_context(fresh_database("syrena_bench_feeds"))
    settings = use_environment({"SYRENA_DATABASE__URL": url})
    try:
        with session_scope(url) as session:
            import_features(session, read_feature_collection(OSIEDLA.read_bytes()), repair=True, limits=settings.zones)
            zones = len(session.scalars(select(Zone.id)).all())
        document = feed(0)

        def parse_only() -> int:
            return len(cap.read_document(cap.parse_xml(document), 1000))

        matched: list[int] = []

        def parse_validate_match() -> None:
            session = session_factory(url)()
            try:
                hits = 0
                for entry in cap.read_document(cap.parse_xml(document), 1000):
                    alert = cap.read_alert(entry.alert)
                    area = cap.area_geometry(alert, settings.feeds.max_points)
                    hits += bool(session.scalars(_ZONES_HIT, {"area": area.wkb}).all())
                matched.append(hits)
            finally:
                session.close()

        def timed(fn) -> list[float]:
            fn()  # warm-up: the schema, plans, caches
            out = []
            for _ in range(RUNS):
                started = time.perf_counter()
                fn()
                out.append(time.perf_counter() - started)
            return out

        baseline = timed(parse_only)
        work = timed(parse_validate_match)

        # The whole poll over HTTP, alerts kept and drafts made: a new feed (new identifiers) each run.
        body = {"feed": b""}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body["feed"])))
                self.end_headers()
                self.wfile.write(body["feed"])

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        source = FeedSource(name="bench", url=f"http://127.0.0.1:{server.server_port}/feed.atom")
        poll_settings = replace(settings, feeds=FeedSettings(sources=(source,)))
        polls, drafts = [], []
        for run in range(1, RUNS + 1):
            body["feed"] = feed(run)
            started = time.perf_counter()
            result = poll_source(url, source, poll_settings)
            polls.append(time.perf_counter() - started)
            drafts.append(len(result.drafts))
        server.shutdown()
        median = statistics.median(work)
        return {
            "entries": ENTRIES,
            "zones": zones,
            "runs": RUNS,
            "entries_over_the_city": matched[-1],
            "parse_validate_match_s_median": round(median, 3),
            "parse_validate_match_s_range": f"{min(work):.3f}-{max(work):.3f}",
            "goal_s": 2.0,
            "baseline_parse_only_s_median": round(statistics.median(baseline), 3),
            "ratio_to_parse_only": round(median / statistics.median(baseline), 1),
            "whole_poll_with_drafts_s_median": round(statistics.median(polls), 3),
            "drafts_per_poll": drafts[-1],
        }
    finally:
        services.close()


if __name__ == "__main__":
    print(main())
