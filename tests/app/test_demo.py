"""`flask demo load`: an offline, deterministic demo city of 12 zones and 10,000 subscribers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.demo import SUBSCRIBERS, generate_demo_city, load_demo_city
from subscribers.models import AddressPoint, Subscriber, SubscriberLocation
from subscribers.phones import normalise_phone
from zones.models import Zone
from zones.service import create_zone


@pytest.fixture
def loaded(db):
    summary = load_demo_city(db)
    db.commit()
    return summary


def _counts(db) -> dict[str, int]:
    return {
        model.__tablename__: db.scalar(select(func.count()).select_from(model))
        for model in (Zone, AddressPoint, Subscriber, SubscriberLocation)
    }


def test_twelve_named_zones_tile_the_city_without_overlapping(db, loaded):
    zones = db.execute(select(Zone.name, Zone.code)).all()
    assert len(zones) == 12
    assert {"WILDA", "LAZARZ", "JEZYCE"} <= {code for _name, code in zones}
    overlapping = db.execute(
        text("""
        SELECT a.name, b.name FROM zone a JOIN zone b ON a.id < b.id
        WHERE ST_Overlaps(a.geom, b.geom) OR ST_Relate(a.geom, b.geom, '2********')""")
    ).all()
    assert overlapping == []
    # Together the zones make one city with no holes, about 15 km × 13 km around Poznań's centre.
    parts, holes, area_km2, width_km, height_km, lon, lat = db.execute(
        text("""
        WITH city AS (SELECT ST_Union(geom) AS g FROM zone)
        SELECT ST_NumGeometries(g), ST_NumInteriorRings(ST_GeometryN(g, 1)), ST_Area(g::geography) / 1e6,
               ST_Distance(ST_SetSRID(ST_MakePoint(ST_XMin(g), ST_Y(ST_Centroid(g))), 4326)::geography,
                           ST_SetSRID(ST_MakePoint(ST_XMax(g), ST_Y(ST_Centroid(g))), 4326)::geography) / 1e3,
               ST_Distance(ST_SetSRID(ST_MakePoint(ST_X(ST_Centroid(g)), ST_YMin(g)), 4326)::geography,
                           ST_SetSRID(ST_MakePoint(ST_X(ST_Centroid(g)), ST_YMax(g)), 4326)::geography) / 1e3,
               ST_X(ST_Centroid(g)), ST_Y(ST_Centroid(g))
        FROM city""")
    ).one()
    assert (parts, holes) == (1, 0)
    assert 120 < area_km2 < 200
    assert 13 < width_km < 18 and 11 < height_km < 16
    assert abs(lon - 16.9252) < 0.02 and abs(lat - 52.4064) < 0.02


def test_every_subscriber_has_a_home_inside_exactly_one_zone(db, loaded):
    assert db.scalar(select(func.count()).select_from(Subscriber)) == SUBSCRIBERS
    homes_per_subscriber = db.execute(
        text("""
        SELECT count(*) FILTER (WHERE homes <> 1) FROM (
            SELECT s.id, count(l.id) AS homes FROM subscriber s
            LEFT JOIN subscriber_location l ON l.subscriber_id = s.id AND l.label = 'home'
            GROUP BY s.id) t""")
    ).scalar()
    assert homes_per_subscriber == 0
    outside_or_ambiguous = db.execute(
        text("""
        SELECT count(*) FROM subscriber_location l
        WHERE (SELECT count(*) FROM zone z WHERE ST_Covers(z.geom, l.geom)) <> 1""")
    ).scalar()
    assert outside_or_ambiguous == 0
    per_zone = dict(
        db.execute(
            text("""
        SELECT z.name, count(l.id) FROM zone z
        LEFT JOIN subscriber_location l ON l.label = 'home' AND ST_Covers(z.geom, l.geom)
        GROUP BY z.name""")
        ).all()
    )
    assert sum(per_zone.values()) == SUBSCRIBERS
    assert min(per_zone.values()) >= 0.02 * SUBSCRIBERS, per_zone  # every zone has people to alert
    assert max(per_zone.values()) <= 0.30 * SUBSCRIBERS, per_zone


def test_locations_are_gazetteer_addresses(db, loaded):
    work = db.scalar(select(func.count()).where(SubscriberLocation.label == "work"))
    assert 0.15 * SUBSCRIBERS < work < 0.25 * SUBSCRIBERS
    # Each location's text and point are those of an address point; the gazetteer's keys are unique.
    unmatched = db.execute(
        text("""
        SELECT count(*) FROM subscriber_location l WHERE NOT EXISTS (
            SELECT 1 FROM address_point a
            WHERE ST_Equals(a.geom, l.geom)
              AND l.address = a.street || ' ' || a.house_number || ', ' || a.postcode || ' ' || a.city)""")
    ).scalar()
    assert unmatched == 0
    addresses, keys = db.execute(select(func.count(), func.count(func.distinct(AddressPoint.normalised_key)))).one()
    assert 2000 <= addresses == keys
    assert db.scalar(select(func.count()).where(~AddressPoint.postcode.regexp_match(r"^6[01]-\d{3}$"))) == 0


def test_subscribers_look_like_real_ones(db, loaded):
    phones = db.scalars(select(Subscriber.phone)).all()
    assert len(set(phones)) == SUBSCRIBERS
    assert all(normalise_phone(p) == p and p[3] in "5678" and len(p) == 12 for p in phones)
    status = dict(db.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all())
    assert set(status) == {"active", "pending", "unsubscribed"}
    assert 0.93 * SUBSCRIBERS <= status["active"] <= 0.97 * SUBSCRIBERS
    assert set(db.scalars(select(Subscriber.source).distinct())) == {"web", "sms", "import"}
    languages = dict(db.execute(select(Subscriber.language, func.count()).group_by(Subscriber.language)).all())
    assert set(languages) == {"pl", "en", "uk"} and languages["pl"] > 0.85 * SUBSCRIBERS
    assert db.scalar(select(func.count()).where(Subscriber.consent_version != "2026-01")) == 0
    assert db.scalar(select(func.count()).where(Subscriber.consent_at.is_(None))) == 0
    # Active means the phone was confirmed; pending means it was not (yet).
    assert db.scalar(select(func.count()).where(Subscriber.status == "active", Subscriber.verified_at.is_(None))) == 0
    assert (
        db.scalar(select(func.count()).where(Subscriber.status == "pending", Subscriber.verified_at.is_not(None))) == 0
    )


def test_loading_again_changes_nothing(db, loaded):
    assert loaded.startswith("demo city loaded: 12 zones, ") and "10,000 subscribers" in loaded
    before = _counts(db)
    phones = set(db.scalars(select(Subscriber.phone)))
    again = load_demo_city(db)
    db.commit()
    assert "already loaded" in again and "nothing changed" in again
    assert _counts(db) == before
    assert set(db.scalars(select(Subscriber.phone))) == phones


def test_a_database_with_other_zones_is_left_alone(db):
    create_zone(
        db,
        "Centrum",
        {
            "type": "Polygon",
            "coordinates": [[[16.92, 52.40], [16.94, 52.40], [16.94, 52.41], [16.92, 52.41], [16.92, 52.40]]],
        },
    )
    db.commit()
    summary = load_demo_city(db)
    db.commit()
    assert "already holds data" in summary and "nothing changed" in summary
    assert _counts(db) == {"zone": 1, "address_point": 0, "subscriber": 0, "subscriber_location": 0}


def test_the_city_is_the_same_every_time():
    first, second = generate_demo_city(), generate_demo_city()
    assert [(n, z.wkb) for n, z in first.zones] == [(n, z.wkb) for n, z in second.zones]
    assert first.addresses == second.addresses
    assert first.subscribers == second.subscribers
    assert generate_demo_city(seed=7).subscribers != first.subscribers
