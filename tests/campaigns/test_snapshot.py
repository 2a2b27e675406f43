"""A large target is snapshotted in two steps: the first recipients are committed and enqueued at once (the
first SMS must not wait for 500,000 rows), the rest follow — or a worker's heartbeat writes them when the
process that started sending died in between."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from campaigns import control, dispatch, service
from campaigns.models import Campaign
from syrena_core.db import utcnow

BOX = {
    "type": "Polygon",
    "coordinates": [[[16.90, 52.38], [16.93, 52.38], [16.93, 52.40], [16.90, 52.40], [16.90, 52.38]]],
}


def _campaign_to(db, settings, residents: int) -> Campaign:
    from zones.service import create_zone

    zone = create_zone(db, "Wilda", BOX)
    db.execute(
        text("""
        WITH new AS (INSERT INTO subscriber (phone, language, status, source, created_at)
                     SELECT '+4860100' || lpad(n::text, 4, '0'), 'pl', 'active', 'web', now()
                     FROM generate_series(1, :n) n RETURNING id)
        INSERT INTO subscriber_location (subscriber_id, label, geom)
        SELECT id, 'home', ST_SetSRID(ST_MakePoint(16.91, 52.39), 4326) FROM new"""),
        {"n": residents},
    )
    campaign = service.create_campaign(db, None, "alert", "severe", "Test syreny", [zone.id])
    db.commit()
    return campaign


def _messages(db, campaign_id: int) -> dict[str, int]:
    db.rollback()
    return dict(
        db.execute(
            text("SELECT status, count(*) FROM message WHERE campaign_id = :c GROUP BY status"), {"c": campaign_id}
        ).all()
    )


def test_the_first_recipients_are_committed_before_the_rest_and_nobody_twice(db, settings):
    campaign = _campaign_to(db, settings, 10)
    assert service.send(db, campaign, None, settings.campaigns, first=4)
    db.commit()
    assert campaign.recipients is None and _messages(db, campaign.id) == {"queued": 4}

    assert service.finish_snapshot(db, campaign.id) is not None
    db.commit()
    assert campaign.recipients == 10 and _messages(db, campaign.id) == {"queued": 10}
    assert (
        db.scalar(text("SELECT count(DISTINCT subscriber_id) FROM message WHERE campaign_id = :c"), {"c": campaign.id})
        == 10
    )
    assert service.finish_snapshot(db, campaign.id) is None  # complete: nothing more to do


def test_a_target_smaller_than_the_first_step_is_complete_at_once(db, settings):
    campaign = _campaign_to(db, settings, 3)
    service.send(db, campaign, None, settings.campaigns, first=4)
    db.commit()
    assert campaign.recipients == 3


def test_a_worker_finishes_a_snapshot_whose_process_died(db, settings):
    campaign = _campaign_to(db, settings, 10)
    service.send(db, campaign, None, settings.campaigns, first=4)
    db.commit()
    assert dispatch.finish_abandoned_snapshots(db, 500) == []  # too recent: its process may still be writing
    campaign.sent_at = utcnow() - timedelta(minutes=5)
    db.commit()
    assert dispatch.finish_abandoned_snapshots(db, 500) == [campaign.id]
    db.refresh(campaign)
    assert campaign.recipients == 10


def test_a_campaign_cancelled_before_its_snapshot_finished_gets_no_more_messages(db, settings):
    campaign = _campaign_to(db, settings, 10)
    service.send(db, campaign, None, settings.campaigns, first=4)
    db.commit()
    control.cancel(db, campaign, None, "fałszywy alarm")
    db.commit()
    service.finish_snapshot(db, campaign.id)
    db.commit()
    assert campaign.recipients == 4 and _messages(db, campaign.id) == {"cancelled": 4}


def test_a_target_larger_than_a_chunk_reaches_everyone_once_through_the_api(db, settings, api, worker, simulator, wait):
    from collections import Counter

    from tests.factories import ZONE_A, create_zone

    zone_id = create_zone(api, "Wilda", ZONE_A)
    residents = settings.campaigns.chunk_size * 2 + 37  # a first chunk, then the rest in a second step
    db.execute(
        text("""
        WITH new AS (INSERT INTO subscriber (phone, language, status, source, created_at)
                     SELECT '+4860200' || lpad(n::text, 4, '0'), 'pl', 'active', 'web', now()
                     FROM generate_series(1, :n) n RETURNING id)
        INSERT INTO subscriber_location (subscriber_id, label, geom)
        SELECT new.id, 'home', ST_PointOnSurface(z.geom) FROM new, zone z WHERE z.id = :zone"""),
        {"n": residents, "zone": zone_id},
    )
    db.commit()
    status, campaign = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Test syreny", "zone_ids": [zone_id]}
    )
    assert status == 201, campaign
    status, sent = api.post(f"/api/v1/campaigns/{campaign['id']}/send")
    assert status == 202 and sent["recipients"] == residents, sent

    def completed():
        _status, c = api.get(f"/api/v1/campaigns/{campaign['id']}")
        return c if c["status"] == "completed" else None

    done = wait(completed, 120, "the campaign to complete")
    assert done["counts"]["delivered"] == residents
    per_phone = Counter(m["destination_addr"] for m in simulator.messages())
    assert len(per_phone) == residents and set(per_phone.values()) == {1}
