"""`flask demo load`: an offline, deterministic demo city of 12 zones and 10,000 subscribers."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from app.demo import SUBSCRIBERS, generate_demo_city, load_demo_city
from app.demo_history import RealCampaigns, history_month, load_demo_history
from billing.models import CostEntry, ReconciliationImport, Tariff
from billing.reconciliation import reconcile
from billing.reports import monthly_report, summary_differences
from campaigns.models import Campaign, DeliveryReceipt, Message, MessagePart
from campaigns.service import create_campaign
from subscribers.models import AddressPoint, Subscriber, SubscriberLocation
from subscribers.phones import normalise_phone
from syrena_core.db import utcnow
from tests.helpers import run_flask
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


# ------------------------------------------------------------------ last month's history (issue 17)
@pytest.fixture
def history(db, settings, loaded):
    summary = load_demo_history(db, settings)
    db.commit()
    return summary


def _history_counts(db) -> dict[str, int]:
    return {
        model.__tablename__: db.scalar(select(func.count()).select_from(model))
        for model in (Tariff, Campaign, Message, MessagePart, DeliveryReceipt, CostEntry, ReconciliationImport)
    }


def test_the_seed_tariff_is_a_row_from_the_first_day_of_last_month(db, settings, history):
    tariffs = db.scalars(select(Tariff)).all()
    assert len(tariffs) == 1
    tariff = tariffs[0]
    assert (tariff.price_per_part, tariff.monthly_fee, tariff.setup_fee, tariff.vat_rate) == (
        Decimal("0.18"),
        Decimal("400.00"),
        Decimal("20000.00"),
        Decimal("0.23"),
    )
    month = history_month(utcnow(), "Europe/Warsaw")
    local = tariff.valid_from.astimezone(ZoneInfo("Europe/Warsaw"))
    assert (local.date(), local.hour, local.minute) == (month, 0, 0)


def test_last_month_has_four_campaigns_sent_receipted_and_charged_and_a_cancelled_draft(db, settings, history):
    month = history_month(utcnow(), "Europe/Warsaw")
    assert history.startswith(f"demo history of {month:%Y-%m} loaded: 5 campaigns")
    campaigns = db.scalars(select(Campaign).order_by(Campaign.id)).all()
    assert [(c.kind, c.msg_type, c.status) for c in campaigns] == [
        ("info", "Alert", "completed"),
        ("alert", "Alert", "completed"),
        ("alert", "Cancel", "completed"),
        ("alert", "Alert", "completed"),
        ("alert", "Alert", "cancelled"),
    ]
    info, flood, clear, water, draft = campaigns
    assert len(flood.zones) == 2 and clear.reference_id == flood.id and clear.recipients == flood.recipients
    assert draft.sent_at is None and draft.recipients is None
    tz = ZoneInfo("Europe/Warsaw")
    for c in campaigns:
        assert c.created_at.astimezone(tz).date().replace(day=1) == month
        assert datetime.fromisoformat(c.edits[0]["at"]) == c.created_at  # "written by … at …" on its page
    for c in (info, flood, clear, water):
        assert c.recipients > 100
        assert c.sent_at.astimezone(tz).date().replace(day=1) == month
        assert c.completed_at.astimezone(tz).date().replace(day=1) == month
        statuses = dict(
            db.execute(
                select(Message.status, func.count()).where(Message.campaign_id == c.id).group_by(Message.status)
            ).all()
        )
        assert sum(statuses.values()) == c.recipients
        assert statuses["delivered"] > 0.85 * c.recipients
        charged = db.scalar(select(func.count()).where(CostEntry.campaign_id == c.id))
        assert charged == c.recipients - statuses.get("failed", 0) + db.scalar(
            select(func.count()).where(
                Message.campaign_id == c.id, Message.status == "failed", Message.submitted_at.is_not(None)
            )
        )
    # The water alert had failures: refused at submit (never charged) and undelivered (charged).
    failed = db.execute(select(Message.error).where(Message.campaign_id == water.id, Message.status == "failed")).all()
    errors = {e for (e,) in failed}
    assert "ESME_RINVDSTADR" in errors and any(e and e.startswith("UNDELIV") for e in errors)
    assert db.scalar(select(func.count()).select_from(DeliveryReceipt).where(DeliveryReceipt.matched_at.is_(None))) == 0
    # Every charge lies in last month, as the ledger and its daily summary agree.
    first, last = db.execute(select(func.min(CostEntry.charged_at), func.max(CostEntry.charged_at))).one()
    assert first.astimezone(tz).date().replace(day=1) == last.astimezone(tz).date().replace(day=1) == month
    assert summary_differences(db, month, "Europe/Warsaw") == []


def test_the_finance_report_and_reconciliation_of_last_month_have_real_numbers(db, settings, history):
    month = history_month(utcnow(), "Europe/Warsaw")
    report = monthly_report(db, month, "campaign", settings.billing)
    assert report.totals.messages > 1000 and report.totals.sms_cost > 0
    assert report.totals.setup == Decimal("20000.00") and report.totals.subscription == Decimal("400.00")
    assert report.totals.gross > report.totals.net > Decimal("20400")
    assert len(report.rows) == 4
    imported = db.scalars(select(ReconciliationImport)).one()
    result = reconcile(db, imported.id, "Europe/Warsaw")
    assert result.totals.matched > 1000
    problems = {d.problem for d in result.discrepancies}
    assert {"missing_at_operator", "missing_in_ledger", "amount_differs"} <= problems


def test_loading_the_history_twice_changes_nothing(db, settings, history):
    before = _history_counts(db)
    again = load_demo_history(db, settings)
    db.commit()
    assert "already loaded" in again and "nothing changed" in again
    assert _history_counts(db) == before
    next_month = load_demo_history(db, settings, now=utcnow() + timedelta(days=40))  # make run a month later
    db.commit()
    assert "nothing changed" in next_month and _history_counts(db) == before


def test_a_database_with_real_campaigns_is_refused_unless_forced(db, settings, loaded):
    zone_id = db.scalar(select(Zone.id).where(Zone.slug == "wilda"))
    create_campaign(db, None, "alert", "severe", "Gas leak on Górna Wilda.", [zone_id], department="Straż")
    db.commit()
    with pytest.raises(RealCampaigns, match="--force"):
        load_demo_history(db, settings)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Campaign)) == 1
    summary = load_demo_history(db, settings, force=True)
    db.commit()
    assert "loaded: 5 campaigns" in summary
    assert db.scalar(select(func.count()).select_from(Campaign)) == 6


def test_flask_demo_load_refuses_beside_real_campaigns_with_a_clear_message(db, settings):
    """The command as make run calls it: exit status 3 and why (scripts/run.sh goes on); --force passes the
    refusal, and then finds no demo city to send to (the real zones stay alone): nothing changes."""
    zone = create_zone(
        db,
        "Centrum",
        {
            "type": "Polygon",
            "coordinates": [[[16.92, 52.40], [16.94, 52.40], [16.94, 52.41], [16.92, 52.41], [16.92, 52.40]]],
        },
    )
    create_campaign(db, None, "alert", "severe", "Gas leak in the centre.", [zone.id], department="Straż")
    db.commit()
    refused = run_flask("demo", "load")
    assert refused.returncode == 3, refused.stderr
    assert "1 campaign(s) the demo did not make" in refused.stderr and "--force" in refused.stderr
    forced = run_flask("demo", "load", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "no demo history" in forced.stdout and "nothing changed" in forced.stdout
    assert db.scalar(select(func.count()).select_from(Campaign)) == 1
    assert db.scalar(select(func.count()).select_from(Tariff)) == 0
