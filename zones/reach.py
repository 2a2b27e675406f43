"""Who an area reaches: the one home of the rule that campaigns send by, previews and per-zone tables count by,
and the ledger charges zones by.

An area reaches an active subscriber, once however many ways it does, when
  - one of their locations lies inside the area or on its border (LOCATION_IN: ST_Covers, not ST_Contains,
    so a point on the line between two zones belongs to both), or
  - they subscribed by SMS code to a zone (subscriber_location.zone_id, no point of their own) whose interior
    meets the area's (ZONE_MEETS: zones that merely touch along a border do not count). The subscribed zone
    may be archived: archiving takes away no one's subscription, only the zone as a target.
Archived zones are no target: they have no row in the per-zone table, and `zones_at` does not return them.

The predicates are SQL fragments, composed into every statement that applies the rule (here, in
campaigns.service._RECIPIENTS and _CODE_ZONES, in billing.ledger._CHARGE_MESSAGES), so that each statement
keeps the plan measured for it and the rule itself is written once. tests/zones/test_reach_rule.py pins every
caller to the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shapely.geometry import MultiPolygon
from sqlalchemy import Integer, Row, TextualSelect, func, select, text
from sqlalchemy.orm import Session

from syrena_core.config import ZoneSettings
from zones.geometry import area_km2, geometry_from_geojson, validate
from zones.models import Zone
from zones.service import get_zone

# A location inside the area or on its border. {area} and {location} are SQL expressions of geometries.
LOCATION_IN = "ST_Covers({area}, {location})"
# A subscribed zone whose interior meets the area's interior ('T********': the interiors share a point).
# ST_Intersects comes first so that the planner can use the zones' GiST index; ST_Relate then decides.
ZONE_MEETS = "ST_Intersects({area}, {zone}) AND ST_Relate({area}, {zone}, 'T********')"
# Only active subscribers are reached (pending, unsubscribed: nobody).
ACTIVE = "{subscriber}.status = 'active'"


def location_in(area: str, location: str) -> str:
    return LOCATION_IN.format(area=area, location=location)


def zone_meets(area: str, zone: str) -> str:
    return ZONE_MEETS.format(area=area, zone=zone)


def active(subscriber: str) -> str:
    return ACTIVE.format(subscriber=subscriber)


# Whom an area ({area}, its geometry) reaches, as subscriber ids, once each (UNION). Counting, only the active
# ones (_ONLY_ACTIVE): the status is checked per hit through the subscriber's primary key — an area holds a small
# share of everyone, and the planner then never scans the whole subscriber table.
_SUBSCRIBERS_IN_AREA = f"""
    SELECT l.subscriber_id FROM subscriber_location l{{join_active}}
    WHERE {location_in("{area}", "l.geom")}{{and_active}}
    UNION
    SELECT l.subscriber_id FROM zone sz JOIN subscriber_location l ON l.zone_id = sz.id{{join_active}}
    WHERE {zone_meets("{area}", "sz.geom")}{{and_active}}
"""
_ONLY_ACTIVE = {
    "join_active": "\n      JOIN subscriber s ON s.id = l.subscriber_id",
    "and_active": f" AND {active('s')}",
}
_ANY_STATUS = {"join_active": "", "and_active": ""}
_ZONE_GEOM = "(SELECT geom FROM zone WHERE id = :{})"
_IN_GEOMETRY = text(
    "SELECT count(*) FROM ("
    + _SUBSCRIBERS_IN_AREA.format(area="ST_GeomFromWKB(:area, 4326)", **_ONLY_ACTIVE)
    + ") hits"
)
_IN_ZONE = text(
    "SELECT count(*) FROM (" + _SUBSCRIBERS_IN_AREA.format(area=_ZONE_GEOM.format("zone_id"), **_ONLY_ACTIVE) + ") hits"
)
# Whom a zone reaches, whatever their status: staff looking up a zone's residents see the pending and the
# unsubscribed too (the counts are of the active ones).
_REACHED_BY_ZONE = text(_SUBSCRIBERS_IN_AREA.format(area=_ZONE_GEOM.format("reached_by_zone"), **_ANY_STATUS))
# Every live zone at once: the hits are collected first (a materialised CTE), piece by piece of each zone
# (zone_part: at most 64 vertices each). The piece must be the outer side, probing the locations' GiST index
# once each: OFFSET 0 keeps the planner from flattening the lateral subquery and turning the join round —
# a million probes of the pieces' index instead, 10× slower when the statistics mislead it. Then the few
# inactive subscribers are taken out in one hash anti-join and the rest counted once per zone. Measured
# against the whole-polygon query in bench/bench_zones.py.
# JIT compiling costs more than it saves here, and the distinct count wants memory.
_QUERY_SETTINGS = text("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
_REACH_PER_ZONE = text(f"""
WITH hits AS MATERIALIZED (
    SELECT p.zone_id, l.subscriber_id
    FROM zone_part p JOIN zone z ON z.id = p.zone_id AND z.archived_at IS NULL
    CROSS JOIN LATERAL (SELECT subscriber_id FROM subscriber_location l WHERE {location_in("p.geom", "l.geom")}
                        OFFSET 0) l
    UNION ALL
    SELECT z.id, l.subscriber_id FROM zone z
      JOIN zone sz ON {zone_meets("z.geom", "sz.geom")}
      JOIN subscriber_location l ON l.zone_id = sz.id
    WHERE z.archived_at IS NULL
)
SELECT h.zone_id, count(DISTINCT h.subscriber_id) FROM hits h
WHERE NOT EXISTS (SELECT 1 FROM subscriber s WHERE s.id = h.subscriber_id AND NOT {active("s")})
GROUP BY h.zone_id
""")
# The other way round: the live zones whose campaigns reach each of these subscribers (whatever their status),
# by name. A subscriber has a few locations and a city some hundreds of zones: each branch probes the zones'
# GiST index once per location.
_ZONES_REACHING = text(f"""
SELECT DISTINCT r.subscriber_id, z.id, z.name, z.code FROM (
    SELECT l.subscriber_id, z.id AS zone_id FROM subscriber_location l JOIN zone z ON {location_in("z.geom", "l.geom")}
    WHERE l.subscriber_id = ANY(CAST(:ids AS bigint[]))
    UNION
    SELECT l.subscriber_id, z.id FROM subscriber_location l JOIN zone sz ON sz.id = l.zone_id
      JOIN zone z ON {zone_meets("z.geom", "sz.geom")}
    WHERE l.subscriber_id = ANY(CAST(:ids AS bigint[]))
) r JOIN zone z ON z.id = r.zone_id AND z.archived_at IS NULL
ORDER BY r.subscriber_id, z.name, z.id
""")


def zones_at(session: Session, lat: float, lon: float) -> Sequence[Row]:
    """The live zones (id, name, code, colour) holding the point, by name; a point on a border belongs to both
    sides, one in a hole to neither. Geometries are not fetched: a lookup must stay cheap."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return session.execute(
        select(Zone.id, Zone.name, Zone.code, Zone.colour)
        .where(Zone.archived_at.is_(None), func.ST_Covers(Zone.geom, point))
        .order_by(Zone.name, Zone.id)
    ).all()


def zones_reaching(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[Row]]:
    """For each subscriber, the live zones (id, name, code) a campaign to which reaches them, by name; those
    that no zone reaches are absent."""
    zones: dict[int, list[Row]] = {}
    if subscriber_ids:
        for row in session.execute(_ZONES_REACHING, {"ids": list(subscriber_ids)}):
            zones.setdefault(row.subscriber_id, []).append(row)
    return zones


def reached_by_zone(zone_id: int) -> TextualSelect:
    """The ids of the subscribers (any status) the zone reaches, as a subquery: `Subscriber.id.in_(...)`."""
    return _REACHED_BY_ZONE.bindparams(reached_by_zone=zone_id).columns(subscriber_id=Integer)


def active_subscribers_in_area(session: Session, area: MultiPolygon) -> int:
    """How many active subscribers a campaign to this drawn area would reach."""
    return session.execute(_IN_GEOMETRY, {"area": area.wkb}).scalar_one()


def active_subscribers_in_zone(session: Session, zone_id: int) -> int:
    """How many active subscribers a campaign to this zone would reach (ZoneNotFound for no such zone)."""
    get_zone(session, zone_id)
    return session.execute(_IN_ZONE, {"zone_id": zone_id}).scalar_one()


def reach_of_zone(session: Session, zone: Zone) -> int:
    """The count shown with a zone: whom a campaign to it would reach; nobody for an archived zone (no
    campaign may target it)."""
    if zone.archived:
        return 0
    return session.execute(_IN_ZONE, {"zone_id": zone.id}).scalar_one()  # the zone is in hand: no lookup again


def preview_area(session: Session, geojson: Any, repair: bool, limits: ZoneSettings) -> dict[str, Any]:
    """A drawn area before it is saved (the API's and the map page's preview): whom it reaches, its size, what
    repairing it changed; ZoneError when it is no usable area (within the preview's limits)."""
    checked = validate(geometry_from_geojson(geojson), repair=repair, limits=limits.preview_limits())
    return {
        "subscribers": active_subscribers_in_area(session, checked.geom),
        "area_km2": round(area_km2(checked.geom), 4),
        "repairs": checked.repairs,
    }


def active_subscribers_per_zone(session: Session) -> dict[int, int]:
    """For every live zone, the active subscribers a campaign to it would reach (zones with none are absent):
    the per-zone table of the dashboard, the zones page and the API. Sets planner options for the rest of the
    caller's transaction (SET LOCAL)."""
    session.execute(_QUERY_SETTINGS)
    return dict(session.execute(_REACH_PER_ZONE).all())
