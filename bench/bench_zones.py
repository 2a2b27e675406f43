"""Zones with 1,000,000 subscriber locations: counting the subscribers in one zone, looking up the zones
of a point, counting every zone at once, and importing the real Poznań osiedla file (42 zones, ~11,700
vertices) and the same file densified to ~50,000 vertices (the issue's size). Baselines in the same run: the
same count and lookup with PostgreSQL's index scans switched off
(what the GiST indexes buy), the import's geometry checks alone without the database, and for the
whole-city counts the whole-polygon query they replaced, with the locations in random order and after CLUSTER.

    make bench BENCH_ARGS=zones          # ZONES_LOCATIONS=1000000 ZONES_RUNS=7 ZONES_LOOKUPS=300
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import fresh_database, use_environment  # noqa: E402

LOCATIONS = int(os.environ.get("ZONES_LOCATIONS", "1000000"))
RUNS = int(os.environ.get("ZONES_RUNS", "7"))
LOOKUPS = int(os.environ.get("ZONES_LOOKUPS", "300"))
OSIEDLA = ROOT.parent / "shared" / "data" / "poznan_osiedla.geojson"
# Poznań's extent (the osiedla's bounding box): subscribers are scattered over it.
EXTENT = (16.73, 52.29, 17.07, 52.51)
NO_INDEX = "SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off"
DENSE_VERTICES = int(os.environ.get("ZONES_DENSE_VERTICES", "50000"))


def _densified(features: list[dict], target: int) -> tuple[bytes, int]:
    """The FeatureCollection with every edge split so that it holds about `target` vertices in all."""
    import json

    import shapely
    from shapely.geometry import mapping, shape

    geoms = [shape(f["geometry"]) for f in features]
    now = sum(shapely.get_num_coordinates(g) for g in geoms)
    perimeter = sum(g.boundary.length for g in geoms)
    step = perimeter / max(target - now, 1)
    for _ in range(3):  # short edges are not split: correct the step by what the last try gave
        dense = [shapely.segmentize(g, step) for g in geoms]
        got = sum(shapely.get_num_coordinates(g) for g in dense)
        step *= (got - now) / max(target - now, 1)
    out = [dict(f, geometry=mapping(g)) for f, g in zip(features, dense)]
    return (
        json.dumps({"type": "FeatureCollection", "features": out}).encode(),
        int(sum(shapely.get_num_coordinates(g) for g in dense)),
    )


# Baseline for the whole-city counts: the query before zone_part (each whole zone polygon against the
# locations' index, then a hash join with every subscriber), same settings.
WHOLE_POLYGON_COUNTS = """
WITH live AS MATERIALIZED (SELECT id, geom FROM zone WHERE archived_at IS NULL),
hits AS MATERIALIZED (
    SELECT z.id AS zone_id, l.subscriber_id FROM live z JOIN subscriber_location l ON ST_Covers(z.geom, l.geom)
    UNION ALL
    SELECT z.id, l.subscriber_id FROM live z
      JOIN zone sz ON ST_Intersects(z.geom, sz.geom) AND ST_Relate(z.geom, sz.geom, 'T********')
      JOIN subscriber_location l ON l.zone_id = sz.id
)
SELECT h.zone_id, count(DISTINCT h.subscriber_id) FROM hits h JOIN subscriber s ON s.id = h.subscriber_id
WHERE s.status = 'active' GROUP BY h.zone_id
"""


def _ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 2)


def _timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: caches, plans
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> dict:
    from sqlalchemy import text

    from syrena_core.db import engine_for, session_factory, session_scope
    from zones import queries, reach
    from zones.geometry import validate
    from zones.service import import_features, read_feature_collection

    if not OSIEDLA.exists():
        raise FileNotFoundError(f"{OSIEDLA} is missing: the benchmark imports the real Poznań osiedla")
    services = ExitStack()  # the database of this run (tests.harness), gone at the end
    url = services.enter_context(fresh_database("syrena_bench_zones"))
    settings = use_environment({"SYRENA_DATABASE__URL": url})
    try:
        raw = OSIEDLA.read_bytes()
        features = read_feature_collection(raw)
        vertices = sum(len(ring) for f in features for poly in f["geometry"]["coordinates"] for ring in poly)

        # Import: the whole real file in one transaction (rolled back between runs, kept after the last).
        def import_once(keep: bool = False, source: bytes = raw) -> None:
            session = session_factory(url)()
            try:
                import_features(session, read_feature_collection(source), repair=True, limits=settings.zones)
                session.commit() if keep else session.rollback()
            finally:
                session.close()

        import_times = _timed(import_once, RUNS)
        checks_only = _timed(
            lambda: [validate(f["geometry"], repair=True, limits=settings.zones) for f in read_feature_collection(raw)],
            RUNS,
        )
        # The issue's size: the same zones with ~50,000 vertices in all (every edge split evenly).
        dense_raw, dense_vertices = _densified(features, DENSE_VERTICES)
        dense_times = _timed(lambda: import_once(source=dense_raw), RUNS)
        import_once(keep=True)

        t0 = time.perf_counter()
        with session_scope(url) as s:
            min_lon, min_lat, max_lon, max_lat = EXTENT
            s.execute(
                text("""
                INSERT INTO subscriber (phone, language, status, source, created_at)
                SELECT '+48' || (500000000 + n)::text, 'pl', 'active', 'import', now()
                FROM generate_series(1, :n) n"""),
                {"n": LOCATIONS},
            )
            s.execute(
                text("""
                INSERT INTO subscriber_location (subscriber_id, label, geom)
                SELECT id, 'home', ST_SetSRID(ST_MakePoint(:x0 + random() * :dx, :y0 + random() * :dy), 4326)
                FROM subscriber"""),
                {"x0": min_lon, "dx": max_lon - min_lon, "y0": min_lat, "dy": max_lat - min_lat},
            )
        with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE subscriber, subscriber_location, zone"))
        load_seconds = time.perf_counter() - t0

        with session_scope(url) as s:
            # A zone of middling size: the one whose subscriber count is the median of all zones.
            counts = reach.active_subscribers_per_zone(s)
            zone_id = sorted(counts, key=counts.get)[len(counts) // 2]
            zone_name = s.execute(text("SELECT name FROM zone WHERE id = :id"), {"id": zone_id}).scalar_one()
            zone_vertices = s.execute(
                text("SELECT ST_NPoints(geom) FROM zone WHERE id = :id"), {"id": zone_id}
            ).scalar_one()

        session = session_factory(url)()
        try:
            count_one = _timed(lambda: reach.active_subscribers_in_zone(session, zone_id), RUNS)
            session.commit()

            def count_without_index():
                session.execute(text(NO_INDEX))
                n = reach.active_subscribers_in_zone(session, zone_id)
                session.rollback()
                return n

            count_one_seq = _timed(count_without_index, RUNS)
            assert count_without_index() == reach.active_subscribers_in_zone(session, zone_id)

            rng = random.Random(7)
            points = [(rng.uniform(EXTENT[1], EXTENT[3]), rng.uniform(EXTENT[0], EXTENT[2])) for _ in range(LOOKUPS)]

            def lookups(disable_index: bool) -> list[float]:
                times = []
                for lat, lon in points:
                    if disable_index:
                        session.execute(text(NO_INDEX))
                    t = time.perf_counter()
                    reach.zones_at(session, lat, lon)
                    times.append(time.perf_counter() - t)
                    session.rollback()
                return times

            lookups(False)
            lookup = lookups(False)
            lookup_seq = lookups(True)

            # Whole-city counts: the current query and the whole-polygon baseline, alternating run by run so
            # both see the same load; first on the locations as loaded (random order), then after CLUSTER.
            def whole_polygon():
                session.execute(reach._QUERY_SETTINGS)
                return dict(session.execute(text(WHOLE_POLYGON_COUNTS)).all())

            def counts_both(runs: int) -> tuple[list[float], list[float]]:
                assert reach.active_subscribers_per_zone(session) == whole_polygon()
                session.rollback()
                now, before = [], []
                for _ in range(runs):
                    for fn, into in ((reach.active_subscribers_per_zone, now), (lambda _s: whole_polygon(), before)):
                        t = time.perf_counter()
                        fn(session)
                        into.append(time.perf_counter() - t)
                        session.rollback()
                return now, before

            all_runs = max(5, RUNS)
            all_zones_scattered, whole_polygon_scattered = counts_both(all_runs)
            t0 = time.perf_counter()
            queries.cluster_locations(session)
            session.commit()
            cluster_seconds = time.perf_counter() - t0
            all_zones, whole_polygon_clustered = counts_both(all_runs)
        finally:
            session.close()

        # The same lookup through the REST API (token check, JSON) with Flask's test client.
        from app import create_app
        from syrena_core import accounts

        app = create_app(settings, {"TESTING": True})
        with session_scope(url) as s:
            token = accounts.issue_token(
                s, accounts.create_user(s, "bench@syrena.local", "operator", "Bench-Password-1")
            )
        client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        api_lookup = []
        for lat, lon in points[:100]:
            t = time.perf_counter()
            assert client.get(f"/api/v1/zones/lookup?lat={lat}&lon={lon}", headers=headers).status_code == 200
            api_lookup.append(time.perf_counter() - t)
    finally:
        services.close()

    return {
        "subscriber_locations": LOCATIONS,
        "zones": len(features),
        "vertices_in_file": vertices,
        "runs": RUNS,
        "load_1m_locations_s": round(load_seconds, 1),
        "import_real_file_ms_median": _ms(import_times),
        "import_real_file_ms_range": f"{min(import_times) * 1000:.0f}-{max(import_times) * 1000:.0f}",
        "import_geometry_checks_only_ms_median": _ms(checks_only),
        "import_densified_file_vertices": dense_vertices,
        "import_densified_file_ms_median": _ms(dense_times),
        "import_densified_file_ms_range": f"{min(dense_times) * 1000:.0f}-{max(dense_times) * 1000:.0f}",
        "count_one_zone": {
            "zone": f"{zone_name} ({zone_vertices} vertices, {counts[zone_id]:,} subscribers)",
            "gist_ms_median": _ms(count_one),
            "gist_ms_range": f"{min(count_one) * 1000:.0f}-{max(count_one) * 1000:.0f}",
            "no_index_ms_median": _ms(count_one_seq),
            "speed_up_vs_no_index": round(statistics.median(count_one_seq) / statistics.median(count_one), 1),
        },
        "lookup_point": {
            "points": LOOKUPS,
            "gist_ms_median": _ms(lookup),
            "gist_ms_p95": round(sorted(lookup)[int(len(lookup) * 0.95)] * 1000, 2),
            "no_index_ms_median": _ms(lookup_seq),
            "speed_up_vs_no_index": round(statistics.median(lookup_seq) / statistics.median(lookup), 1),
            "via_rest_api_ms_median": _ms(api_lookup),
        },
        "counts_all_zones": {
            "runs": all_runs,
            "clustered_ms_median": _ms(all_zones),
            "clustered_ms_range": f"{min(all_zones) * 1000:.0f}-{max(all_zones) * 1000:.0f}",
            "clustered_whole_polygon_baseline_ms_median": _ms(whole_polygon_clustered),
            "clustered_ratio_baseline_to_now": round(
                statistics.median(whole_polygon_clustered) / statistics.median(all_zones), 2
            ),
            "scattered_ms_median": _ms(all_zones_scattered),
            "scattered_ms_range": f"{min(all_zones_scattered) * 1000:.0f}-{max(all_zones_scattered) * 1000:.0f}",
            "scattered_whole_polygon_baseline_ms_median": _ms(whole_polygon_scattered),
            "scattered_ratio_baseline_to_now": round(
                statistics.median(whole_polygon_scattered) / statistics.median(all_zones_scattered), 2
            ),
            "cluster_locations_s": round(cluster_seconds, 1),
        },
    }


if __name__ == "__main__":
    print(main())
