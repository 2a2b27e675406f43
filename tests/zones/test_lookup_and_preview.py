"""Point lookup and subscriber previews against PostGIS: points inside, on borders, in holes and outside."""

from __future__ import annotations

import math

import pytest

from tests.factories import create_subscriber
from tests.zones.shapes import (
    DONUT,
    EAST,
    IN_THE_HOLE,
    INSIDE_DONUT,
    INSIDE_EAST,
    ON_OUTER_CORNER,
    ON_SHARED_EDGE,
    OUTSIDE,
    feature,
)


def names_at(api, lat_lon) -> list[str]:
    status, body = api.get(f"/api/v1/zones/lookup?lat={lat_lon[0]}&lon={lat_lon[1]}")
    assert status == 200, body
    return [z["name"] for z in body["zones"]]


def loc(lat_lon) -> dict:
    return {"lat": lat_lon[0], "lon": lat_lon[1]}


@pytest.fixture
def two_zones(api):
    api.post("/api/v1/zones", feature("Pierścień", DONUT))
    api.post("/api/v1/zones", feature("Wschód", EAST))


@pytest.mark.parametrize(
    "point, expected",
    [
        (INSIDE_DONUT, ["Pierścień"]),
        (INSIDE_EAST, ["Wschód"]),
        (ON_SHARED_EDGE, ["Pierścień", "Wschód"]),  # on a border: both sides are warned
        (ON_OUTER_CORNER, ["Pierścień"]),
        (IN_THE_HOLE, []),
        (OUTSIDE, []),
    ],
)
def test_lookup_finds_the_zones_containing_a_point(api, two_zones, point, expected):
    assert names_at(api, point) == expected


def test_lookup_answers_with_codes_and_colours(api, two_zones):
    (zone,) = api.get(f"/api/v1/zones/lookup?lat={INSIDE_EAST[0]}&lon={INSIDE_EAST[1]}")[1]["zones"]
    assert zone["code"] == "WSCHOD" and zone["colour"].startswith("#")


@pytest.mark.parametrize(
    "query", ["", "lat=52.4", "lon=16.9", "lat=abc&lon=16.9", "lat=95&lon=16.9", "lat=52.4&lon=190", "lat=nan&lon=16.9"]
)
def test_lookup_with_a_bad_point_is_422(api, query):
    status, body = api.get(f"/api/v1/zones/lookup?{query}")
    assert status == 422, body
    assert body["error"]["message"]


def test_preview_counts_active_subscribers_once_whatever_their_locations(api, db, two_zones):
    create_subscriber(api, "+48601000001", loc(INSIDE_DONUT))
    create_subscriber(api, "+48601000002", loc(ON_SHARED_EDGE))  # on the edge: inside
    create_subscriber(api, "+48601000003", loc(IN_THE_HOLE))  # in the hole: not
    create_subscriber(api, "+48601000004", loc(OUTSIDE))
    create_subscriber(api, "+48601000005", loc(INSIDE_DONUT), loc(ON_OUTER_CORNER))  # two homes, one message
    create_subscriber(api, "+48601000006", loc(INSIDE_EAST))
    pending = {"phone": "+48601000007", "verified": False, "locations": [dict(loc(INSIDE_DONUT), label="dom")]}
    assert api.post("/api/v1/subscribers", pending)[0] == 201  # not confirmed: not counted

    status, body = api.post("/api/v1/zones/preview", DONUT)
    assert status == 200, body
    assert body["subscribers"] == 3
    # 0.04° squared less a 0.02° hole, at Poznań's latitude.
    assert body["area_km2"] == pytest.approx(
        (0.04**2 - 0.02**2) * 111.32 * 110.574 * math.cos(math.radians(52.4)), rel=0.01
    )
    # Both zones as one MultiPolygon: its parts share an edge, which is invalid until repaired (merged);
    # the neighbour's resident joins, still nobody twice.
    both = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "MultiPolygon", "coordinates": [DONUT["coordinates"], EAST["coordinates"]]},
    }
    assert api.post("/api/v1/zones/preview", both)[0] == 422
    status, body = api.post("/api/v1/zones/preview?repair=true", both)
    assert status == 200, body
    assert body["subscribers"] == 4 and body["repairs"]
    # The zone list agrees with the preview of the same shape.
    counts = {f["properties"]["name"]: f["properties"]["subscribers"] for f in api.get("/api/v1/zones")[1]["features"]}
    assert counts == {"Pierścień": 3, "Wschód": 2}


def test_residents_subscribed_by_zone_code_count_where_their_zone_is(api, db, two_zones):
    from subscribers.models import Subscriber, SubscriberLocation

    east_id = next(f["id"] for f in api.get("/api/v1/zones")[1]["features"] if f["properties"]["code"] == "WSCHOD")
    db.add(
        Subscriber(
            phone="+48601000009",
            status="active",
            source="sms",
            locations=[SubscriberLocation(label="WSCHOD", zone_id=east_id)],
        )
    )
    db.commit()
    assert api.post("/api/v1/zones/preview", EAST)[1]["subscribers"] == 1
    assert api.post("/api/v1/zones/preview", DONUT)[1]["subscribers"] == 0  # only touches EAST along the edge


def test_preview_writes_nothing_and_refuses_bad_shapes(api):
    assert api.post("/api/v1/zones/preview", DONUT)[0] == 200
    assert api.get("/api/v1/zones")[1]["features"] == []
    status, body = api.post("/api/v1/zones/preview", {"type": "Point", "coordinates": [16.9, 52.4]})
    assert status == 422 and "Point" in body["error"]["message"]


def _circle(lon: float, lat: float, radius: float, vertices: int) -> dict:
    ring = [
        [lon + radius * math.cos(2 * math.pi * k / vertices), lat + radius * math.sin(2 * math.pi * k / vertices)]
        for k in range(vertices)
    ]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def test_zone_list_counts_a_many_vertex_zone_like_its_preview_and_follows_edits(api, db):
    """The list counts through zone pieces of ≤ 64 vertices (zone_part); residents on the cuts between
    pieces, or on the zone's own edge, still count once, and an edited or archived zone is counted anew."""
    from sqlalchemy import text

    from subscribers.models import Subscriber, SubscriberLocation

    big = _circle(16.95, 52.40, 0.02, 600)
    status, body = api.post("/api/v1/zones", feature("Koło", big))
    assert status == 201, body
    zone_id = body["id"]
    assert db.execute(text("SELECT count(*) FROM zone_part WHERE zone_id = :id"), {"id": zone_id}).scalar() > 5
    # A 41 × 41 grid over the circle's box, every 0.001°: many points fall on the pieces' cut lines.
    points = [(16.93 + i / 1000, 52.38 + j / 1000) for i in range(41) for j in range(41)]
    db.add_all(
        Subscriber(
            phone=f"+4860200{n:04d}",
            status="active",
            source="import",
            locations=[SubscriberLocation(label="home", geom=f"SRID=4326;POINT({x} {y})")],
        )
        for n, (x, y) in enumerate(points)
    )
    db.commit()

    def listed() -> int:
        features = api.get("/api/v1/zones")[1]["features"]
        return next((f["properties"]["subscribers"] for f in features if f["id"] == zone_id), None)

    expected = api.post("/api/v1/zones/preview", big)[1]["subscribers"]
    assert 1000 < expected < 41 * 41
    assert listed() == expected

    def move_to(geometry: dict) -> None:
        status, body = api.call(
            "PUT", f"/api/v1/zones/{zone_id}", {"type": "Feature", "properties": {}, "geometry": geometry}
        )
        assert status == 200, body

    move_to(_circle(17.05, 52.40, 0.02, 600))  # east of every resident
    assert listed() == 0
    move_to(big)
    assert listed() == expected
    assert api.call("DELETE", f"/api/v1/zones/{zone_id}")[0] in (200, 204)
    assert listed() is None


def test_zones_are_listed_in_polish_alphabetical_order(api):
    from tests.zones.shapes import square

    names = ["Łazarz", "Żegrze", "Wilda", "Ostrów Tumski", "Śródka", "Stare Miasto", "Lawica", "Zielony Dębiec"]
    for n, name in enumerate(names):
        assert api.post("/api/v1/zones", feature(name, square(16.80 + n * 0.02, 52.40)))[0] == 201
    polish = ["Lawica", "Łazarz", "Ostrów Tumski", "Stare Miasto", "Śródka", "Wilda", "Zielony Dębiec", "Żegrze"]
    assert [f["properties"]["name"] for f in api.get("/api/v1/zones")[1]["features"]] == polish
    assert [f["properties"]["name"] for f in api.get("/api/v1/zones.geojson")[1]["features"]] == polish
