"""Send and watch (issue 6): cancel, pause and resume a campaign while the session's `flask worker` sends it,
and resend to the failed — through the HTTP API, RQ, SMPP and the simulator."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import text

from campaigns.dispatch import enqueue_queued
from campaigns.models import Campaign
from tests.factories import make_campaign
from tests.helpers import control, statuses


def _start(db, settings, count: int, kind: str = "info") -> tuple[int, list[str]]:
    """A campaign of `count` queued messages, already `sending`, enqueued for the session's worker."""
    campaign_id, phones = make_campaign(db, count, kind=kind)
    enqueue_queued(db, db.get(Campaign, campaign_id), settings.campaigns.chunk_size)
    return campaign_id, phones


def _sent(simulator) -> Counter:
    return Counter("+" + m["destination_addr"] for m in control(simulator, "GET", "/messages"))


def _status(api, campaign_id: int) -> dict:
    status, campaign = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert status == 200
    return campaign


def _settled(db, campaign_id: int):
    """Nothing left that a worker could still send or record."""

    def check():
        counts = statuses(db, campaign_id)
        return counts if not counts.get("queued") and not counts.get("submitting") else None

    return check


def test_cancel_mid_send_stops_the_unsent_messages(db, settings, api, worker, simulator, wait):
    campaign_id, _phones = _start(db, settings, 6000)
    wait(lambda: len(simulator.messages()) >= 300, 60, "the campaign to be sending")

    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/cancel", {"reason": "fałszywy alarm"})
    assert status == 200, body
    assert body["status"] == "cancelled"
    assert body["cancelled_messages"] > 0
    counts = wait(_settled(db, campaign_id), 30, "no message left queued or being submitted")
    wait(lambda: not statuses(db, campaign_id).get("submitted"), 30, "receipts of what went out")

    counts = statuses(db, campaign_id)
    sent = _sent(simulator)
    assert counts["cancelled"] >= 1000  # most of the campaign never went out ...
    assert sum(sent.values()) == counts.get("delivered", 0)  # ... and what did, went once
    assert set(sent.values()) == {1}
    cancelled = set(
        db.execute(
            text("SELECT phone FROM message WHERE campaign_id = :c AND status = 'cancelled'"), {"c": campaign_id}
        ).scalars()
    )
    assert not cancelled & set(sent)
    assert _status(api, campaign_id)["status"] == "cancelled"
    audit = db.execute(
        text(
            "SELECT action, note FROM audit_log WHERE object_type = 'campaign' AND object_id = :c "
            "AND action = 'campaign.cancel'"
        ),
        {"c": str(campaign_id)},
    ).all()
    assert audit == [("campaign.cancel", "fałszywy alarm")]


def test_pause_leaves_messages_queued_and_resume_sends_each_exactly_once(db, settings, api, worker, simulator, wait):
    campaign_id, phones = _start(db, settings, 5000)
    wait(lambda: len(simulator.messages()) >= 200, 60, "the campaign to be sending")

    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/pause")
    assert status == 200, body
    assert body["status"] == "paused"
    wait(lambda: not statuses(db, campaign_id).get("submitting"), 30, "the worker to stop taking messages")
    paused_at = len(simulator.messages())
    assert statuses(db, campaign_id).get("queued", 0) > 0
    assert paused_at < 5000
    # Paused means paused: a while later nothing more has gone out.
    time.sleep(1.5)
    assert len(simulator.messages()) == paused_at
    assert _status(api, campaign_id)["status"] == "paused"
    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/pause")
    assert status == 409 and body["error"]["code"] == "invalid_state"

    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/resume")
    assert status == 200, body
    assert body["status"] == "sending"
    wait(lambda: _status(api, campaign_id)["status"] == "completed", 90, "the campaign to complete")

    sent = _sent(simulator)
    assert set(sent) == set(phones)
    assert set(sent.values()) == {1}
    assert statuses(db, campaign_id) == {"delivered": 5000}


def test_resend_to_failed_goes_to_the_failed_recipients_only(db, settings, api, worker, simulator, wait):
    campaign_id, phones = _start(db, settings, 40, kind="alert")
    wait(lambda: _status(api, campaign_id)["status"] == "completed", 60, "the campaign to complete")
    # Receipts said UNDELIV for five of them (as an operator's network would when phones are off).
    failed = phones[3:8]
    db.execute(text("UPDATE message SET status = 'failed', error = 'UNDELIV:001' WHERE phone = ANY(:p)"), {"p": failed})
    db.execute(
        text("""UPDATE message_part SET status = 'failed' FROM message m
                       WHERE m.id = message_part.message_id AND m.phone = ANY(:p)"""),
        {"p": failed},
    )
    db.commit()
    simulator.clear_messages()

    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/resend-failed")
    assert status == 200, body
    assert body["resent_messages"] == 5
    wait(lambda: _status(api, campaign_id)["status"] == "completed", 60, "the resent messages to be delivered")

    assert sorted(_sent(simulator)) == sorted(failed)
    assert statuses(db, campaign_id) == {"delivered": 40}
    # The first, failed attempt stays on record beside the new one.
    parts = dict(
        db.execute(
            text("""SELECT p.status, count(*) FROM message_part p JOIN message m ON m.id = p.message_id
                                    WHERE m.campaign_id = :c GROUP BY p.status"""),
            {"c": campaign_id},
        ).all()
    )
    assert parts == {"delivered": 40, "superseded": 5}
    # The operator charged the first sends (accepted, then undeliverable) and charges the new ones too.
    charges = Counter(
        db.execute(
            text("SELECT phone FROM cost_entry WHERE campaign_id = :c AND entry_type = 'charge'"), {"c": campaign_id}
        ).scalars()
    )
    assert charges == Counter({**dict.fromkeys(phones, 1), **dict.fromkeys(failed, 2)})
    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/resend-failed")
    assert status == 409 and "failed" in body["error"]["message"]


def test_control_in_the_wrong_state_is_refused_and_changes_nothing(db, settings, api, worker, wait):
    campaign_id, _phones = _start(db, settings, 5, kind="alert")
    wait(lambda: _status(api, campaign_id)["status"] == "completed", 60, "the campaign to complete")

    for action in ("cancel", "pause", "resume"):
        status, body = api.post(f"/api/v1/campaigns/{campaign_id}/{action}")
        assert status == 409, (action, body)
        assert body["error"]["code"] == "invalid_state"
    assert api.post("/api/v1/campaigns/999999/cancel")[0] == 404
    assert api.post(f"/api/v1/campaigns/{campaign_id}/cancel", raw=b"{not json")[0] == 400
    assert _status(api, campaign_id)["status"] == "completed"
    assert statuses(db, campaign_id) == {"delivered": 5}


def test_a_finance_user_may_not_cancel(db, settings, api, make_user, worker):
    campaign_id, _phones = make_campaign(db, 3)
    db.execute(text("UPDATE campaign SET status = 'approved' WHERE id = :c"), {"c": campaign_id})
    db.commit()
    _email, token = make_user("finance")
    status, body = api.with_token(token).post(f"/api/v1/campaigns/{campaign_id}/cancel")
    assert status == 403
    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/cancel")
    assert status == 200 and body["status"] == "cancelled"
