"""Nearest the danger first (issue 14): the snapshot writes a campaign's messages in order of distance from the
hazard — a circle's centre, a buffered line, or the operator's hazard point for zones and drawn polygons — and
the worker sends them in that order. Bad hazard points are refused with a 422 that names the problem."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from campaigns import service
from tests.factories import ZONE_A, ZONE_B, create_subscriber, create_zone
from tests.helpers import submitted_in_order

# A row of homes going east from the west edge of ZONE_A (16.90–16.93 E, 52.38–52.40 N), shuffled so that the
# subscribers' ids (the order they signed up in) say nothing about where they live.
ROW = [(52.39, 16.9005 + 0.0009 * i) for i in range(30)]
SHUFFLED = [ROW[(7 * i) % 30] for i in range(30)]  # 7 is prime to 30: a permutation


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance: what the ordering uses, and within a city as good as the true one."""
    k = math.cos(math.radians((a[0] + b[0]) / 2))
    return 6_371_000 * math.hypot(math.radians(a[0] - b[0]), math.radians(a[1] - b[1]) * k)


def _people(api, places: list[tuple[float, float]], prefix: str = "+4860150") -> dict[str, tuple[float, float]]:
    phones = {}
    for n, (lat, lon) in enumerate(places):
        phone = f"{prefix}{n:04d}"
        create_subscriber(api, phone, {"lat": lat, "lon": lon})
        phones[phone] = (lat, lon)
    return phones


def _written_order(db, campaign_id: int) -> list[str]:
    db.rollback()
    return list(db.scalars(text("SELECT phone FROM message WHERE campaign_id = :c ORDER BY id"), {"c": campaign_id}))


def _send(api, payload: dict) -> dict:
    status, campaign = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": "Uwaga: wyciek gazu. Zamknij okna.", **payload},
    )
    assert status == 201, campaign
    status, sent = api.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert status == 202, sent
    return sent


def _is_nearest_first(
    order: list[str], where: dict[str, tuple[float, float]], hazard: tuple[float, float], slack: int = 0
) -> bool:
    distances = [_metres(where[p], hazard) for p in order]
    # `slack`: a message may come at most that many places before a nearer one (several in flight at once).
    return all(distances[i] <= distances[j] + 1e-6 for i in range(len(order)) for j in range(i + slack + 1, len(order)))


def test_a_circle_is_sent_from_its_centre_outwards_through_the_worker(api, db, worker, simulator, wait):
    where = _people(api, SHUFFLED)
    centre = (52.39, 16.915)  # the middle of the row: the homes on both sides alternate by distance
    sent = _send(api, {"area": {"circle": {"lat": centre[0], "lon": centre[1], "radius_m": 2000}}})
    assert sent["recipients"] == 30

    written = _written_order(db, sent["id"])
    wait(lambda: len(simulator.messages()) == 30, 60, "every SMS submitted")
    order = submitted_in_order(simulator)
    assert sorted(order) == sorted(where)
    # One worker, one bind: the SMSC gets them in the order they were written; nearest first.
    assert _is_nearest_first(order, where, centre)
    assert written == order


def test_zones_with_a_hazard_point_start_next_to_it_and_a_zone_code_counts_at_its_zone(
    api, db, worker, simulator, wait
):
    a = create_zone(api, "Wilda", ZONE_A)
    b = create_zone(api, "Rataje", ZONE_B)  # 16.94–16.97 E: its nearest edge is ~0.8 km east of the row's end
    where = _people(api, SHUFFLED)
    # A resident who texted "START RATAJE": no point of their own, only the zone.
    db.execute(
        text("""
        WITH s AS (INSERT INTO subscriber (phone, language, status, source, created_at)
                   VALUES ('+48601509999', 'pl', 'active', 'sms', now()) RETURNING id)
        INSERT INTO subscriber_location (subscriber_id, label, zone_id) SELECT id, 'sms', :zone FROM s"""),
        {"zone": b},
    )
    db.commit()
    hazard = (52.39, 16.901)  # a chemical fire at the west edge of Wilda

    sent = _send(api, {"zone_ids": [a, b], "hazard": {"lat": hazard[0], "lon": hazard[1]}})
    assert sent["hazard"] == {"lat": hazard[0], "lon": hazard[1]}
    assert sent["recipients"] == 31
    wait(lambda: len(simulator.messages()) == 31, 60, "every SMS submitted")
    order = submitted_in_order(simulator)
    # The homes in Wilda from the fire eastwards, and last the resident who subscribed to Rataje by its code
    # (Rataje's nearest point is farther than every home in Wilda).
    assert order[-1] == "+48601509999"
    assert _is_nearest_first(order[:-1], where, hazard)


def test_a_line_with_a_buffer_is_sent_from_the_line_outwards(api, db):
    # Homes north of a river running west–east at 52.385: the nearer the bank, the sooner.
    places = [(52.3855 + 0.0003 * i, 16.91 + 0.0001 * ((5 * i) % 17)) for i in range(17)]
    where = _people(api, [places[(5 * i) % 17] for i in range(17)])
    river = {"type": "LineString", "coordinates": [[16.90, 52.385], [16.93, 52.385]]}
    sent = _send(api, {"area": {"line": river, "buffer_m": 1500}})
    assert sent["recipients"] == 17
    order = _written_order(db, sent["id"])
    distances = [where[p][0] - 52.385 for p in order]  # due north of the line: the distance is the latitude's
    assert distances == sorted(distances)


def test_the_nearest_go_in_the_first_step_of_a_large_snapshot(api, db, settings):
    zone = create_zone(api, "Wilda", ZONE_A)
    where = _people(api, SHUFFLED)
    hazard = (52.39, 16.93)  # the east edge: the far end of the row comes first
    status, created = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": "Test",
            "zone_ids": [zone],
            "hazard": {"lat": hazard[0], "lon": hazard[1]},
        },
    )
    assert status == 201, created
    campaign = service.get_campaign(db, created["id"])
    service.start_sending(db, campaign, None, require_approval=False, first=5)
    db.commit()
    first = _written_order(db, campaign.id)
    assert sorted(first, key=lambda p: _metres(where[p], hazard)) == first
    assert set(first) == set(sorted(where, key=lambda p: _metres(where[p], hazard))[:5])
    service.finish_snapshot(db, campaign.id)
    db.commit()
    everyone = _written_order(db, campaign.id)
    assert len(everyone) == 30 and everyone[:5] == first
    assert _is_nearest_first(everyone, where, hazard)


def test_without_a_hazard_point_zones_are_sent_from_a_point_inside_the_target(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    where = _people(api, SHUFFLED)
    sent = _send(api, {"zone_ids": [zone]})
    focus = db.execute(
        text("SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM zone WHERE id = :z) q"),
        {"z": zone},
    ).one()
    assert 52.38 < focus[0] < 52.40 and 16.90 < focus[1] < 16.93  # inside Wilda
    assert _is_nearest_first(_written_order(db, sent["id"]), where, tuple(focus))


def test_a_follow_up_keeps_the_original_order(api, db, worker, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    _people(api, SHUFFLED)
    sent = _send(api, {"zone_ids": [zone], "hazard": {"lat": 52.39, "lon": 16.929}})
    wait(lambda: api.get(f"/api/v1/campaigns/{sent['id']}")[1]["status"] == "completed", 60, "the alert sent")
    status, follow = api.post(f"/api/v1/campaigns/{sent['id']}/all-clear", {"body": "Odwolanie alarmu."})
    assert status == 202, follow
    assert _written_order(db, follow["id"]) == _written_order(db, sent["id"])


def test_the_hazard_point_is_kept_changed_and_cleared(api):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, created = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": "Test",
            "zone_ids": [zone],
            "hazard": {"lat": 52.39, "lon": 16.91},
        },
    )
    assert status == 201, created
    assert created["hazard"] == {"lat": 52.39, "lon": 16.91}
    status, got = api.get(f"/api/v1/campaigns/{created['id']}")
    assert got["hazard"] == {"lat": 52.39, "lon": 16.91}
    status, edited = api.call("PATCH", f"/api/v1/campaigns/{created['id']}", {"title": "Nowy tytuł"})
    assert status == 200 and edited["hazard"] == {"lat": 52.39, "lon": 16.91}  # other edits keep it
    status, edited = api.call("PATCH", f"/api/v1/campaigns/{created['id']}", {"hazard": {"lat": 52.385, "lon": 16.92}})
    assert status == 200 and edited["hazard"] == {"lat": 52.385, "lon": 16.92}
    status, edited = api.call("PATCH", f"/api/v1/campaigns/{created['id']}", {"hazard": None})
    assert status == 200 and edited["hazard"] is None
    status, preview = api.post(
        "/api/v1/campaigns/preview",
        {
            "kind": "alert",
            "severity": "severe",
            "body": "Test",
            "zone_ids": [zone],
            "hazard": {"lat": 52.39, "lon": 16.91},
        },
    )
    assert status == 200 and preview["hazard"] == {"lat": 52.39, "lon": 16.91}


@pytest.mark.parametrize(
    "hazard, named",
    [
        ({"lat": 40.0, "lon": 16.91}, "outside the service area"),  # south of Poland
        ({"lat": 16.91, "lon": 52.39}, "latitude and longitude swapped"),  # a classic
        ({"lat": "52.39", "lon": 16.91}, "lat (the latitude) must be a number"),
        ({"lat": 52.39, "lon": None}, "lon (the longitude) is missing"),
        ({"lat": 52.39}, "lon (the longitude) is missing"),
        ({"lat": 52.39, "lon": True}, "must be a number"),
        ({"lat": 52.39, "lon": 16.91, "radius": 5}, "unknown field"),
        ([52.39, 16.91], "hazard must be"),
        ("52.39,16.91", "hazard must be"),
    ],
)
def test_a_bad_hazard_point_is_refused_naming_the_problem(api, hazard, named):
    zone = create_zone(api, "Wilda", ZONE_A)
    payload = {"kind": "alert", "severity": "severe", "body": "Test", "zone_ids": [zone], "hazard": hazard}
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/preview"):
        status, body = api.post(path, payload)
        assert status == 422, body
        assert body["error"]["code"] == "invalid_hazard"
        assert named in body["error"]["message"]
    status, listed = api.get("/api/v1/campaigns")
    assert listed == []  # nothing was created
    status, created = api.post("/api/v1/campaigns", {**payload, "hazard": None})
    status, body = api.call("PATCH", f"/api/v1/campaigns/{created['id']}", {"hazard": hazard})
    assert status == 422 and body["error"]["code"] == "invalid_hazard"


def test_a_hazard_point_without_a_target_is_refused(api):
    status, body = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": "Test", "zone_ids": [], "hazard": {"lat": 52.39, "lon": 16.91}},
    )
    assert status == 422, body
    assert body["error"]["code"] == "invalid_hazard"
    assert "needs a target" in body["error"]["message"]


def test_two_circles_are_each_sent_from_their_own_centre(api, db):
    where = _people(api, SHUFFLED)
    west, east = (52.39, 16.9005), (52.39, 16.9266)  # the row's two ends
    sent = _send(
        api,
        {
            "area": [
                {"circle": {"lat": west[0], "lon": west[1], "radius_m": 1000}},
                {"circle": {"lat": east[0], "lon": east[1], "radius_m": 1000}},
            ]
        },
    )
    assert sent["recipients"] == 30
    order = _written_order(db, sent["id"])
    nearest = [min(_metres(where[p], west), _metres(where[p], east)) for p in order]
    assert nearest == sorted(nearest)
