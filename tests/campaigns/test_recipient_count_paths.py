"""The campaign's recipient statement (campaigns.service._RECIPIENTS, through its count) skips testing the reach
rule where it knows the answer: zones nobody subscribed to by SMS code are not tried, and a target zone meets
itself. These shortcuts must never change whom it reaches: for every target below, the count per language equals
the rule (zones.reach's predicates) applied literally, with no shortcut — on borders, in a hole, on a hole's ring,
for a zone merely touching, for an archived one, for a zone whose geometry is empty, for a drawn area that is a
zone's own shape."""

from __future__ import annotations

from itertools import combinations

from shapely.geometry import MultiPolygon, shape
from sqlalchemy import text

from campaigns import service as campaigns
from subscribers.service import NewLocation, register_subscriber, subscribe
from tests.factories import create_zone
from zones import reach

LANGUAGES = ["en", "uk"]


def _box(west: float, south: float, east: float, north: float) -> list:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


SHAPES = {
    "A": {"type": "Polygon", "coordinates": [_box(16.90, 52.40, 16.92, 52.42)]},
    "B": {"type": "Polygon", "coordinates": [_box(16.91, 52.40, 16.93, 52.42)]},  # overlaps A
    "C": {"type": "Polygon", "coordinates": [_box(16.88, 52.40, 16.90, 52.42)]},  # touches A along lon 16.90
    # D has a hole; H fills the hole exactly (touches D along the ring only).
    "D": {"type": "Polygon", "coordinates": [_box(16.94, 52.40, 16.98, 52.44), _box(16.95, 52.41, 16.97, 52.43)]},
    "H": {"type": "Polygon", "coordinates": [_box(16.95, 52.41, 16.97, 52.43)]},
    "X": {"type": "Polygon", "coordinates": [_box(16.905, 52.405, 16.915, 52.415)]},  # archived below
    "E": {"type": "Polygon", "coordinates": [_box(16.99, 52.40, 17.00, 52.41)]},  # its geometry emptied below
}

# The rule written out, no shortcut: a location covered by a target, or a subscribed zone meeting one.
_REFERENCE = text(f"""
WITH targets AS (
    SELECT z.geom FROM zone z WHERE z.id = ANY(CAST(:zone_ids AS int[]))
    UNION ALL
    SELECT ST_GeomFromWKB(CAST(:area AS bytea), 4326) WHERE CAST(:area AS bytea) IS NOT NULL
)
SELECT CASE WHEN s.language = ANY(CAST(:languages AS text[])) THEN s.language END, count(*) FROM subscriber s
WHERE {reach.active("s")} AND EXISTS (
    SELECT 1 FROM subscriber_location l JOIN targets t ON true
    WHERE l.subscriber_id = s.id AND (
        (l.geom IS NOT NULL AND {reach.location_in("t.geom", "l.geom")})
        OR EXISTS (SELECT 1 FROM zone sz WHERE sz.id = l.zone_id AND {reach.zone_meets("t.geom", "sz.geom")})))
GROUP BY 1
""")


def test_the_count_reaches_exactly_whom_the_rule_reaches_for_every_target(api, db):
    zones = {name: create_zone(api, f"Strefa {name}", geometry) for name, geometry in SHAPES.items()}
    assert api.call("DELETE", f"/api/v1/zones/{zones['X']}")[0] == 200
    db.execute(text("UPDATE zone SET geom = 'SRID=4326;MULTIPOLYGON EMPTY' WHERE id = :id"), {"id": zones["E"]})
    phones = iter(range(48602000100, 48602000200))
    languages = iter(["pl", "en", "uk"] * 40)

    def by_code(zone: str) -> None:
        subscribe(
            db,
            f"+{next(phones)}",
            [NewLocation(zone, zone_id=zones[zone])],
            language=next(languages),
            source="sms",
            consent_version="test",
        )

    def at(*places: tuple[float, float]) -> None:
        person = register_subscriber(db, f"+{next(phones)}", [{"lon": x, "lat": y} for x, y in places], verified=True)
        db.execute(text("UPDATE subscriber SET language = :l WHERE id = :id"), {"l": next(languages), "id": person.id})

    for zone in SHAPES:  # several by SMS code in each zone, the archived and the emptied one too
        for _ in range(3):
            by_code(zone)
    for place in [
        (16.90, 52.41),  # on the line between A and C
        (16.90, 52.40),  # a corner shared by A and C
        (16.91, 52.40),  # B's corner on A's edge
        (16.92, 52.42),  # A's corner inside B's edge
        (16.915, 52.41),  # in the overlap
        (16.96, 52.42),  # in D's hole: H's, not D's
        (16.95, 52.42),  # on the hole's ring: D's and H's
        (16.94, 52.44),  # D's outer corner
        (16.995, 52.405),  # in the emptied zone: nobody's
        (16.87, 52.41),  # outside everything
    ]:
        at(place)
    at((16.905, 52.41), (16.96, 52.42))  # two places, in A and in the hole
    db.commit()

    live = ["A", "B", "C", "D", "H", "E"]
    targets = [[name] for name in live] + [list(pair) for pair in combinations(live, 2)] + [live]
    cases = [(names, None) for names in targets]
    for name in ("A", "D", "H"):  # the zone's own shape drawn as an area, alone and with the zone itself
        area = MultiPolygon([shape(SHAPES[name])]).wkb
        cases += [([], (name, area)), ([name], (name, area)), (["C"], (name, area))]

    for names, drawn in cases:
        params = {
            "cid": None,
            "zone_ids": sorted(zones[n] for n in names),
            "frozen": None,
            "code_zone_ids": None,
            "languages": LANGUAGES,
            "topic": None,
            "area": drawn[1] if drawn else None,
        }
        counted = dict(db.execute(campaigns._COUNT_RECIPIENTS, params).all())
        expected = dict(db.execute(_REFERENCE, params).all())
        assert counted == expected, (names, drawn and drawn[0], counted, expected)
        assert sum(expected.values()) > 0 or names in (["E"],), (names, "a target reaching nobody tests little")
