"""Temporary failures are retried with back-off, from the database, until [campaigns] max_attempts; permanent
ones are recorded with the SMPP status name (issues 5 and 6). Through a real `flask worker` and the simulator."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import make_campaign
from tests.helpers import control, enqueue, statuses, submitted_per_phone


def _attempts(db, campaign_id: int) -> dict[str, tuple[str, int, str | None]]:
    db.rollback()
    return {
        phone: (status, attempts, error)
        for phone, status, attempts, error in db.execute(
            text("SELECT phone, status, attempts, error FROM message WHERE campaign_id = :c"), {"c": campaign_id}
        )
    }


def test_a_throttled_message_is_queued_again_and_sent_once_later(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    # No retries inside the session: the SMSC's refusal comes straight back to the job.
    spawn_worker(
        simulator,
        gateway_redis_url,
        smsc__max_retries=0,
        smsc__throttle_retries=0,
        smsc__window=1,
        campaigns__retry_delay=0.2,
    )
    campaign_id, _phones = make_campaign(db, 30, "alert")
    control(simulator, "POST", "/faults", {"throttle": 5})
    enqueue(db, gateway_redis_url, campaign_id, "alert")

    wait(lambda: statuses(db, campaign_id).get("delivered") == 30, 60, "every message delivered")
    assert control(simulator, "GET", "/faults")["throttled"] == 5
    assert set(submitted_per_phone(simulator).values()) == {1}
    attempts = sorted(a for _status, a, _error in _attempts(db, campaign_id).values())
    assert attempts == [1] * 25 + [2] * 5


def test_a_message_throttled_on_every_attempt_fails_after_max_attempts(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    spawn_worker(
        simulator,
        gateway_redis_url,
        smsc__max_retries=0,
        smsc__throttle_retries=0,
        campaigns__retry_delay=0.1,
        campaigns__max_attempts=3,
    )
    campaign_id, _phones = make_campaign(db, 4, "alert")
    control(simulator, "POST", "/faults", {"throttle": 1_000_000})
    enqueue(db, gateway_redis_url, campaign_id, "alert")

    wait(lambda: statuses(db, campaign_id).get("failed") == 4, 90, "every message failed")
    assert set(_attempts(db, campaign_id).values()) == {("failed", 3, "ESME_RTHROTTLED")}
    assert control(simulator, "GET", "/faults")["throttled"] == 12
    assert not submitted_per_phone(simulator)
    assert db.execute(text("SELECT status FROM campaign WHERE id = :c"), {"c": campaign_id}).scalar() == "completed"


def test_permanent_refusals_fail_at_once_with_the_status_name(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    # A random mix of ESME_RSYSERR and ESME_RMSGQFUL (temporary) and ESME_RINVDSTADR (permanent).
    simulator = start_simulator(error_ratio=0.3)
    spawn_worker(simulator, gateway_redis_url, smsc__retry_delay=0.05)
    campaign_id, phones = make_campaign(db, 200, "alert")
    enqueue(db, gateway_redis_url, campaign_id, "alert")

    wait(
        lambda: (
            set(statuses(db, campaign_id)) <= {"delivered", "failed"} and sum(statuses(db, campaign_id).values()) == 200
        ),
        90,
        "every message settled",
    )
    rows = _attempts(db, campaign_id)
    failed = {phone for phone, (status, _a, _e) in rows.items() if status == "failed"}
    assert failed  # with 30 % errors, a third of them permanent, some must fail ...
    assert {rows[p][2] for p in failed} == {"ESME_RINVDSTADR"}  # ... with the status name
    per_phone = submitted_per_phone(simulator)
    assert set(per_phone) == set(phones) - failed
    assert set(per_phone.values()) == {1}
