"""Claiming and settling must cost what the batch costs, not what the message table holds, even when
PostgreSQL's statistics describe the table as it was before the campaign: after a quiet night every old
message is final, so a new campaign id and the status "submitted" both look like one row to the planner.

Each statement is run as the workers run it, under EXPLAIN ANALYZE, and the rows its plan went through are
compared with the batch's size. Before the fix, a claim of 250 went through the whole campaign (20,000
rows) and settling 1,000 messages re-ran its aggregate for every submitted one (millions of rows).
"""

from __future__ import annotations

import json

from sqlalchemy import text

from billing.ledger import _NEWLY_DELIVERED
from campaigns.delivery import _MATCH_RECEIPTS, _REQUEUE, _SETTLE_MESSAGES, CLOCK_SLACK, FALLBACK_GRACE
from campaigns.jobs import _CLAIM
from tests.factories import delivered_history

HISTORY = 60_000
CAMPAIGN = 20_000


def _rows_examined(db, statement, params) -> tuple[int, int]:
    """(rows every plan node produced or filtered out, over all its loops; rows the statement returned)
    of one run of `statement`, rolled back."""
    plan = db.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + statement.text), params).scalar()
    db.rollback()
    root = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]

    def examined(node) -> int:
        own = sum(
            node.get(k, 0)
            for k in (
                "Actual Rows",
                "Rows Removed by Filter",
                "Rows Removed by Join Filter",
                "Rows Removed by Index Recheck",
            )
        )
        return own * node.get("Actual Loops", 1) + sum(examined(child) for child in node.get("Plans", []))

    return examined(root), root["Actual Rows"]


def _seed(db) -> tuple[int, list[int]]:
    """A delivered history that ANALYZE has seen, then a new sending campaign nobody has analyzed."""
    delivered_history(db, HISTORY, smsc="default", body="old", receipts=False)
    db.commit()
    db.connection().exec_driver_sql("ANALYZE message, message_part")
    db.commit()
    new = db.execute(
        text(
            "INSERT INTO campaign (kind, severity, body, status, created_at) "
            "VALUES ('alert', 'severe', 'new', 'sending', now()) RETURNING id"
        )
    ).scalar()
    ids = db.scalars(
        text("""
        INSERT INTO message (campaign_id, phone, status, attempts, queued_at, possible_duplicate)
        SELECT :c, '+4869' || lpad(n::text, 7, '0'), 'queued', 0, now(), false FROM generate_series(1, :n) n
        RETURNING id"""),
        {"c": new, "n": CAMPAIGN},
    ).all()
    db.commit()
    return new, sorted(ids)


def test_a_claim_reads_its_slice_not_the_whole_campaign(settings, db):
    campaign, ids = _seed(db)
    middle = ids[CAMPAIGN // 2 : CAMPAIGN // 2 + 500]
    rows, claimed = _rows_examined(
        db, _CLAIM, {"cid": campaign, "first": middle[0], "last": middle[-1], "n": 250, "owner": "test", "job": None}
    )
    assert claimed == 250
    assert rows < 10 * 250, f"{rows} rows gone through to claim 250 of a {CAMPAIGN:,}-message campaign"


def test_settling_a_batch_reads_the_batch_not_every_submitted_message(settings, db):
    _campaign, ids = _seed(db)
    submitted, batch = ids[:5000], ids[:1000]
    db.execute(
        text(
            "UPDATE message SET status = 'submitted', submitted_at = now(), parts = 1 "
            "WHERE id = ANY(CAST(:ids AS bigint[]))"
        ),
        {"ids": submitted},
    )
    db.execute(
        text(
            "INSERT INTO message_part (message_id, part_no, smsc, smsc_message_id, status) "
            "SELECT id, 1, 'default', 'new-' || id, 'delivered' FROM unnest(CAST(:ids AS bigint[])) id"
        ),
        {"ids": batch},
    )
    db.commit()
    rows, settled = _rows_examined(db, _SETTLE_MESSAGES, {"ids": batch, "at": None})
    assert settled == len(batch)
    # The planner may prefer one pass over the table to a thousand index lookups; what it must not do is
    # go through the table again for every message of the batch.
    assert rows < HISTORY + CAMPAIGN + 10 * len(batch), f"{rows} rows gone through to settle {len(batch)} messages"

    db.execute(text("UPDATE message SET status = 'delivered' WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": batch})
    db.commit()
    rows, delivered = _rows_examined(db, _NEWLY_DELIVERED, {"ids": batch})
    assert delivered == len(batch)
    assert rows < 10 * len(batch), f"{rows} rows gone through to find {len(batch)} delivered messages"


def test_requeueing_a_batch_reads_the_batch(settings, db):
    _campaign, ids = _seed(db)
    batch = ids[:1000]
    db.execute(
        text("UPDATE message SET status = 'submitting', attempts = 1 WHERE id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": ids[:5000]},
    )
    db.commit()
    rows, _ = _rows_examined(
        db,
        _REQUEUE,
        {
            "ids": batch,
            "errors": ["throttled"] * len(batch),
            "duplicates": [False] * len(batch),
            "withdrawn": [False] * len(batch),
            "max_attempts": 5,
            "delay": 1.0,
            "delay_max": 60.0,
            "fleet": "test",
        },
    )
    assert rows < HISTORY + CAMPAIGN + 10 * len(batch), f"{rows} rows gone through to requeue {len(batch)} messages"


def test_matching_a_batch_of_receipts_reads_the_batch_even_when_every_id_was_used_before(settings, db):
    """SMSC ids are reused (issue 14): each receipt is an index probe, newest part first, not a pass over
    every part ever sent with that id or over the history."""
    _campaign, ids = _seed(db)
    batch = ids[:1000]
    old_parts = db.execute(text("SELECT smsc_message_id FROM message_part ORDER BY id LIMIT 1000")).scalars().all()
    db.execute(
        text(
            "UPDATE message SET status = 'submitted', submitted_at = now(), parts = 1 "
            "WHERE id = ANY(CAST(:ids AS bigint[]))"
        ),
        {"ids": batch},
    )
    db.execute(
        text("""INSERT INTO message_part (message_id, part_no, smsc, smsc_message_id, status, submitted_at)
                       SELECT b.id, 1, 'default', b.sid, 'submitted', now()
                       FROM unnest(CAST(:ids AS bigint[]), CAST(:sids AS text[])) AS b(id, sid)"""),
        {"ids": batch, "sids": old_parts},
    )  # every id is one the history already used
    db.execute(
        text("""INSERT INTO delivery_receipt (smsc, smsc_message_id, state, received_at, message_id, part_no)
                       SELECT 'default', b.sid, 'DELIVRD', now() + interval '1 second',
                              CASE WHEN b.n % 2 = 0 THEN b.id END, CASE WHEN b.n % 2 = 0 THEN 1 END
                       FROM unnest(CAST(:ids AS bigint[]), CAST(:sids AS text[])) WITH ORDINALITY AS b(id, sid, n)"""),
        {"ids": batch, "sids": old_parts},
    )  # half named by their session, half left to the database
    db.commit()
    params = {"final_states": ["DELIVRD"], "slack": CLOCK_SLACK, "grace": FALLBACK_GRACE, "ttl": 3600.0}
    rows, _ = _rows_examined(db, _MATCH_RECEIPTS, params)
    assert rows < 20 * len(batch), f"{rows} rows gone through to match {len(batch)} receipts"
    touched = db.execute(_MATCH_RECEIPTS, params).scalar()
    db.commit()
    assert sorted(touched) == batch  # the new parts, never the history's parts with the same ids
    assert db.execute(
        text("SELECT count(*) FROM message_part WHERE status = 'delivered' AND receipt_at IS NOT NULL")
    ).scalar() == len(batch)
