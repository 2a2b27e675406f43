"""Spatial questions about zones: which zones hold a point, how many active subscribers an area reaches.

Counts follow the rule campaigns send by (campaigns.service._SNAPSHOT_RECIPIENTS), so a preview promises
what a send delivers: a subscriber counts once if one of their locations lies in the area (on its edge
included), or if they subscribed by SMS code to a zone whose interior meets the area's.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from shapely.geometry import MultiPolygon
from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session

from zones.exceptions import ZoneError
from zones.models import Zone
from zones.service import get_zone

# The status is checked per hit through the subscriber's primary key: an area holds a small share of
# everyone, and the planner then never scans the whole subscriber table.
_ACTIVE_SUBSCRIBERS_IN_AREA = """
SELECT count(*) FROM (
    SELECT l.subscriber_id FROM subscriber_location l JOIN subscriber s ON s.id = l.subscriber_id
    WHERE ST_Covers({area}, l.geom) AND s.status = 'active'
    UNION
    SELECT l.subscriber_id FROM zone sz JOIN subscriber_location l ON l.zone_id = sz.id
      JOIN subscriber s ON s.id = l.subscriber_id
    WHERE ST_Intersects({area}, sz.geom) AND ST_Relate({area}, sz.geom, 'T********') AND s.status = 'active'
) hits
"""
_IN_GEOMETRY = text(_ACTIVE_SUBSCRIBERS_IN_AREA.format(area="ST_GeomFromWKB(:area, 4326)"))
_IN_ZONE = text(_ACTIVE_SUBSCRIBERS_IN_AREA.format(area="(SELECT geom FROM zone WHERE id = :zone_id)"))
# Every zone at once: the hits are collected first (a materialised CTE), piece by piece of each zone
# (zone_part: at most 64 vertices each). The piece must be the outer side, probing the locations' GiST index
# once each: OFFSET 0 keeps the planner from flattening the lateral subquery and turning the join round —
# a million probes of the pieces' index instead, 10× slower when the statistics mislead it. Then the few
# inactive subscribers are taken out in one hash anti-join and the rest counted once per zone. Measured
# against the whole-polygon query in bench/bench_zones.py.
# JIT compiling costs more than it saves here, and the distinct count wants memory.
_QUERY_SETTINGS = text("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
_REACH_PER_ZONE = text("""
WITH hits AS MATERIALIZED (
    SELECT p.zone_id, l.subscriber_id
    FROM zone_part p JOIN zone z ON z.id = p.zone_id AND z.archived_at IS NULL
    CROSS JOIN LATERAL (SELECT subscriber_id FROM subscriber_location l WHERE ST_Covers(p.geom, l.geom)
                        OFFSET 0) l
    UNION ALL
    SELECT z.id, l.subscriber_id FROM zone z
      JOIN zone sz ON ST_Intersects(z.geom, sz.geom) AND ST_Relate(z.geom, sz.geom, 'T********')
      JOIN subscriber_location l ON l.zone_id = sz.id
    WHERE z.archived_at IS NULL
)
SELECT h.zone_id, count(DISTINCT h.subscriber_id) FROM hits h
WHERE NOT EXISTS (SELECT 1 FROM subscriber s WHERE s.id = h.subscriber_id AND s.status <> 'active')
GROUP BY h.zone_id
""")
# Locations written in random order lie scattered over the table, and counting a zone then reads a page per
# location; stored in the order of their GiST index, neighbours share pages (about 2× faster for a city).
_CLUSTER_LOCATIONS = text("CLUSTER subscriber_location USING idx_subscriber_location_geom; "
                          "ANALYZE subscriber_location")


def coordinate(value: Any, name: str, low: float, high: float) -> float:
    """A latitude or longitude from a query string or JSON, or ZoneError naming the problem."""
    if value is None or value == "":
        raise ZoneError(f"{name} is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZoneError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ZoneError(f"{name} {value} is outside {low:g}…{high:g}")
    return number


def zones_at(session: Session, lat: float, lon: float) -> Sequence[Row]:
    """The live zones (id, name, code, colour) containing the point; a point on a border belongs to both
    sides, one in a hole to neither. Geometries are not fetched: a lookup must stay cheap."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return session.execute(select(Zone.id, Zone.name, Zone.code, Zone.colour)
                           .where(Zone.archived_at.is_(None), func.ST_Covers(Zone.geom, point))
                           .order_by(Zone.name, Zone.id)).all()


def active_subscribers_in_area(session: Session, area: MultiPolygon) -> int:
    return session.execute(_IN_GEOMETRY, {"area": area.wkb}).scalar_one()


def active_subscribers_in_zone(session: Session, zone_id: int) -> int:
    get_zone(session, zone_id)
    return session.execute(_IN_ZONE, {"zone_id": zone_id}).scalar_one()


def active_subscribers_per_zone(session: Session) -> dict[int, int]:
    """For every live zone, the active subscribers a campaign to it would reach (zones with none are absent).
    Sets planner options for the rest of the caller's transaction (SET LOCAL)."""
    session.execute(_QUERY_SETTINGS)
    return {zone_id: n for zone_id, n in session.execute(_REACH_PER_ZONE).all()}


def cluster_locations(session: Session) -> None:
    """Rewrite subscriber_location in spatial order, after a bulk load (demo, import). Locks the table
    against writes and reads until the caller commits: a maintenance step, not for busy hours."""
    session.execute(_CLUSTER_LOCATIONS)
