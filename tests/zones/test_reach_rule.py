"""Who an area reaches (zones.reach) is one rule, and every place that counts, sends to, charges or looks up by
it gives the same answer: overlapping zones, a point on a border, subscriptions by SMS code (to a zone meeting the
target, to one merely touching it, to an archived one), an archived zone, a pending resident, a resident reached
three ways at once. Any caller drifting from the rule fails here."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import text

from billing.ledger import charge_accepted
from campaigns import service as campaigns
from campaigns.models import Campaign
from subscribers.service import (
    NewLocation,
    register_subscriber,
    search_subscribers,
    subscribe,
    zone_codes_of_subscribers,
    zones_of_subscriber,
)
from syrena_core.config import BillingSettings
from syrena_core.db import utcnow
from tests.factories import create_zone
from zones import reach


def _box(west: float, south: float, east: float, north: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


# A and B overlap (16.91–16.92); C touches A along the line lon 16.90 only; X lies across A and B, archived.
SHAPES = {
    "A": _box(16.90, 52.40, 16.92, 52.42),
    "B": _box(16.91, 52.40, 16.93, 52.42),
    "C": _box(16.88, 52.40, 16.90, 52.42),
    "X": _box(16.905, 52.405, 16.915, 52.415),
}
# Which live zones' campaigns reach whom, by the rule.
EXPECTED = {
    "A": {"only_a", "a_and_b", "on_border", "code_b", "a_twice", "code_x"},
    "B": {"a_and_b", "code_b", "code_x", "a_twice"},  # a_twice subscribed to A, which meets B
    "C": {"on_border", "code_c"},
}


@pytest.fixture
def city(api, db):
    """The zones (ids by letter, X archived) and the residents (ids by name)."""
    zones = {name: create_zone(api, f"Strefa {name}", shape) for name, shape in SHAPES.items()}
    assert api.call("DELETE", f"/api/v1/zones/{zones['X']}")[0] == 200
    people: dict[str, int] = {}

    def point(name: str, phone: str, *places: tuple[float, float], verified: bool = True) -> None:
        people[name] = register_subscriber(
            db, phone, [{"lon": lon, "lat": lat} for lon, lat in places], verified=verified
        ).id

    def code(name: str, phone: str, *places: NewLocation) -> None:
        people[name] = subscribe(db, phone, list(places), language="pl", source="sms", consent_version="test").id

    point("only_a", "+48601000101", (16.905, 52.41))
    point("a_and_b", "+48601000102", (16.915, 52.41))  # in the overlap
    point("on_border", "+48601000103", (16.90, 52.41))  # on the line between A and C
    code("code_b", "+48601000104", NewLocation("B", zone_id=zones["B"]))  # B's interior meets A's
    code("code_c", "+48601000105", NewLocation("C", zone_id=zones["C"]))  # C only touches A: not reached by A
    # Two places in A and a subscription to A itself: counted once.
    point("a_twice", "+48601000106", (16.901, 52.401), (16.902, 52.419))
    code("a_twice", "+48601000106", NewLocation("A", zone_id=zones["A"]))
    # Subscribed (before it was archived) to X: archiving a zone takes it out of targets, not its subscribers.
    code("code_x", "+48601000107", NewLocation("X", zone_id=zones["X"]))
    point("pending", "+48601000108", (16.906, 52.41), verified=False)  # not active: nobody reaches them
    db.commit()
    return zones, people


def _staff_browser(base: str, email: str, password: str = "Correct-Horse-42") -> requests.Session:
    """A logged-in staff browser without JavaScript (cookie and the login form's CSRF token)."""
    http = requests.Session()
    form = http.get(base + "/login", timeout=30).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', form)
    assert csrf, "the login page has no CSRF token"
    r = http.post(
        base + "/login",
        data={"email": email, "password": password, "csrf_token": csrf.group(1) or csrf.group(2)},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text[:500]
    return http


def _names(people: dict[str, int], ids) -> set[str]:
    by_id = {v: k for k, v in people.items()}
    return {by_id[i] for i in ids}


def _campaign(api, db, zone_ids: list[int]) -> Campaign:
    status, body = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Uwaga: test.", "zone_ids": zone_ids}
    )
    assert status == 201, body
    return db.get(Campaign, body["id"])


def test_every_caller_reaches_whom_the_rule_says(city, api, db, make_user, live_server):
    zones, people = city
    live = {name: zones[name] for name in EXPECTED}
    expected_counts = {zones[name]: len(who) for name, who in EXPECTED.items()}

    # The per-zone table (no archived zone in it), one zone, the same zone drawn as an area.
    assert reach.active_subscribers_per_zone(db) == expected_counts
    db.rollback()
    for name, zone_id in live.items():
        assert reach.active_subscribers_in_zone(db, zone_id) == len(EXPECTED[name]), name
        status, preview = api.post("/api/v1/zones/preview", SHAPES[name])
        assert (status, preview["subscribers"]) == (200, len(EXPECTED[name])), (name, preview)

    # The API's zone list and the zones page's data, the dashboard's table: the same numbers.
    status, listed = api.get("/api/v1/zones")
    assert {f["id"]: f["properties"]["subscribers"] for f in listed["features"]} == expected_counts
    email, _token = make_user("operator")
    staff = _staff_browser(live_server, email)
    page = staff.get(live_server + "/zones/data.geojson", timeout=30).json()
    assert {f["id"]: f["properties"]["subscribers"] for f in page["features"]} == expected_counts
    dashboard = staff.get(live_server + "/", timeout=30).text
    rows = re.findall(r'<tr data-zone-id="(\d+)">.*?<td class="num" data-subscribers>([\d\s]+)</td>', dashboard, re.S)
    assert {int(z): int(n) for z, n in rows} == expected_counts

    # Staff searching residents by zone find whom a campaign to it reaches (the pending one too).
    for name, zone_id in live.items():
        _total, found = search_subscribers(db, zone_id=zone_id, limit=100)
        also_pending = {"pending"} if name == "A" else set()
        assert _names(people, (s.id for s in found)) == EXPECTED[name] | also_pending, name

    # The other way round: the zones a resident is told they are in (SMS replies, their data, the staff page).
    zones_of = {who: {name for name, reached in EXPECTED.items() if who in reached} for who in people}
    zones_of["pending"] = {"A"}  # whatever their status
    codes = zone_codes_of_subscribers(db, list(people.values()))
    for who, subscriber_id in people.items():
        assert {z.id for z in zones_of_subscriber(db, subscriber_id)} == {zones[n] for n in zones_of[who]}, who
        assert sorted(codes.get(subscriber_id, [])) == sorted(f"STREFA{n}" for n in zones_of[who]), who

    # Campaigns: the preview (recipients and the cost estimate), then the snapshot of a frozen target, then the
    # ledger putting each charge in the lowest-id target zone that reaches the resident.
    for targets in (["A"], ["B"], ["C"], ["A", "B"], ["B", "C"]):
        ids = sorted(zones[t] for t in targets)
        whom = set().union(*(EXPECTED[t] for t in targets))
        campaign = _campaign(api, db, ids)
        status, preview = api.get(f"/api/v1/campaigns/{campaign.id}/preview")
        assert preview["recipients"] == len(whom), (targets, preview)
        assert float(preview["cost"]) == pytest.approx(len(whom) * float(preview["price_per_part"]))
        campaigns.freeze_target(db, campaign)
        db.execute(campaigns._SNAPSHOT_RECIPIENTS, campaigns._params(campaign))
        sent = dict(
            db.execute(text("SELECT id, subscriber_id FROM message WHERE campaign_id = :c"), {"c": campaign.id}).all()
        )
        assert _names(people, sent.values()) == whom, targets
        db.execute(text("UPDATE message SET parts = 1, encoding = 'GSM7' WHERE campaign_id = :c"), {"c": campaign.id})
        charge_accepted(db, list(sent), utcnow(), BillingSettings())
        charged = dict(
            db.execute(
                text("SELECT message_id, zone_id FROM cost_entry WHERE campaign_id = :c"), {"c": campaign.id}
            ).all()
        )
        by_id = {v: k for k, v in people.items()}
        for message_id, subscriber_id in sent.items():
            reaching = [zones[t] for t in targets if by_id[subscriber_id] in EXPECTED[t]]
            assert charged[message_id] == min(reaching), (targets, by_id[subscriber_id])
        db.commit()


def test_a_point_lookup_names_the_live_zones_on_both_sides_of_a_border_and_never_an_archived_one(city, api, db):
    zones, _people = city
    inside_x = {"lon": 16.912, "lat": 52.41}  # in A, B and the archived X
    assert [z.id for z in reach.zones_at(db, inside_x["lat"], inside_x["lon"])] == [zones["A"], zones["B"]]
    _status, found = api.get(f"/api/v1/zones/lookup?lat={inside_x['lat']}&lon={inside_x['lon']}")
    assert [z["id"] for z in found["zones"]] == [zones["A"], zones["B"]]
    on_border = reach.zones_at(db, 52.41, 16.90)
    assert {z.id for z in on_border} == {zones["A"], zones["C"]}
