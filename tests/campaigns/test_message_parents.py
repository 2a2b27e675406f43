"""message rows have no row-level foreign keys (they doubled the snapshot's insert time); statement triggers
do what the keys did when a campaign or a subscriber is deleted."""

from __future__ import annotations

from sqlalchemy import text


def _campaign_with_two_messages(db) -> tuple[int, list[int]]:
    subscribers = db.scalars(
        text("""
        INSERT INTO subscriber (phone, language, status, source, created_at)
        VALUES ('+48601000001', 'pl', 'active', 'web', now()), ('+48601000002', 'pl', 'active', 'web', now())
        RETURNING id""")
    ).all()
    campaign = db.scalar(
        text(
            "INSERT INTO campaign (kind, severity, body, status, created_at) "
            "VALUES ('alert', 'severe', 'Test', 'sending', now()) RETURNING id"
        )
    )
    db.execute(
        text(
            "INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at) "
            "SELECT :c, id, phone, 'queued', 0, now() FROM subscriber"
        ),
        {"c": campaign},
    )
    db.commit()
    return campaign, list(subscribers)


def test_erasing_a_subscriber_keeps_the_campaigns_messages_but_unlinks_them(db):
    campaign, (erased, kept) = _campaign_with_two_messages(db)
    db.execute(text("DELETE FROM subscriber WHERE id = :id"), {"id": erased})
    db.commit()
    rows = dict(
        db.execute(text("SELECT phone, subscriber_id FROM message WHERE campaign_id = :c"), {"c": campaign}).all()
    )
    assert rows == {"+48601000001": None, "+48601000002": kept}


def test_deleting_a_campaign_deletes_its_messages_only(db):
    campaign, _ = _campaign_with_two_messages(db)
    other = db.scalar(
        text(
            "INSERT INTO campaign (kind, severity, body, status, created_at) "
            "VALUES ('info', 'minor', 'Inna', 'sending', now()) RETURNING id"
        )
    )
    db.execute(
        text(
            "INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at) "
            "SELECT :c, id, phone, 'queued', 0, now() FROM subscriber"
        ),
        {"c": other},
    )
    db.commit()
    db.execute(text("DELETE FROM campaign WHERE id = :id"), {"id": campaign})
    db.commit()
    left = db.execute(text("SELECT campaign_id, count(*) FROM message GROUP BY campaign_id")).all()
    assert left == [(other, 2)]
