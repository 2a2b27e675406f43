"""No message stranded by a dying job (issue 14): whatever ends a job mid-chunk — a failed write, a bug, a thread
that dies — its claimed messages leave `submitting` within a bounded time and the campaign completes. A failing
job hands its claims back itself; the sweeper on the workers' heartbeat frees what is left by any other cause,
never the claims of a job still running. The status panel counts the rescued messages by reason."""

from __future__ import annotations

from contextlib import contextmanager

from rq import Queue
from rq.job import Job
from sqlalchemy import text

from app.worker import _fleet
from syrena_core.queues import redis_connection
from tests.factories import make_campaign
from tests.helpers import enqueue, statuses, submitted_per_phone
from tests.security.conftest import Web

BOUND = 60  # seconds: the longest a stranded message may wait (campaigns.stranded_after + a sweep round)


def _completed(db, campaign_id: int):
    def check():
        db.rollback()
        return db.execute(text("SELECT status FROM campaign WHERE id = :c"), {"c": campaign_id}).scalar() == "completed"

    return check


def _rescued(db) -> dict[str, int]:
    db.rollback()
    return dict(db.execute(text("SELECT reason, sum(messages) FROM claim_rescue GROUP BY reason")).all())


def _panel(ops_server, make_user) -> dict:
    email, _token = make_user("operator")
    browser = Web(ops_server)
    assert browser.login(email).status_code == 302
    response = browser.get("/admin/status.json")
    assert response.status_code == 200
    html = browser.get("/admin/status").text
    return {"json": response.json(), "html": html}


@contextmanager
def _failing_write(db, message_id: int, times: int):
    """Recording message_id's result fails the first `times` times (a sequence is not rolled back with the
    transaction that failed)."""
    db.execute(text("CREATE SEQUENCE test_fail_once"))
    db.execute(
        text(f"""
        CREATE FUNCTION test_fail_once() RETURNS trigger AS $$ BEGIN
            IF NEW.id = {int(message_id)} AND NEW.status = 'submitted'
               AND nextval('test_fail_once') <= {int(times)} THEN
                RAISE EXCEPTION 'injected failure recording message %', NEW.id;
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""")
    )
    db.execute(
        text("CREATE TRIGGER test_fail_once BEFORE UPDATE ON message FOR EACH ROW EXECUTE FUNCTION test_fail_once()")
    )
    db.commit()
    try:
        yield
    finally:
        db.rollback()
        db.execute(text("DROP TRIGGER IF EXISTS test_fail_once ON message"))
        db.execute(text("DROP FUNCTION IF EXISTS test_fail_once()"))
        db.execute(text("DROP SEQUENCE IF EXISTS test_fail_once"))
        db.commit()


def _poisoned(db, campaign_id: int) -> int:
    return db.execute(
        text("SELECT id FROM message WHERE campaign_id = :c ORDER BY id OFFSET 150 LIMIT 1"), {"c": campaign_id}
    ).scalar()


def test_a_recording_that_fails_mid_chunk_is_handed_back_and_the_campaign_completes(
    db, start_simulator, spawn_worker, gateway_redis_url, ops_server, make_user, wait
):
    simulator = start_simulator()
    campaign_id, phones = make_campaign(db, 400, kind="alert")
    with _failing_write(db, _poisoned(db, campaign_id), times=1):
        worker = spawn_worker(simulator, gateway_redis_url, smsc__tps=300, smsc__window=20)
        enqueue(db, gateway_redis_url, campaign_id, "alert")
        wait(_completed(db, campaign_id), BOUND, "the campaign to complete despite the failed write")

    assert "injected failure" in worker.log() and "handing its claims back" in worker.log()
    per_phone = submitted_per_phone(simulator)
    assert set(per_phone) == set(phones)
    assert set(per_phone.values()) == {1}  # what the SMSC had accepted was recorded, not sent again
    assert statuses(db, campaign_id) == {"delivered": 400}
    rescued = _rescued(db)
    assert rescued.get("job_error_recorded", 0) >= 1

    panel = _panel(ops_server, make_user)
    reasons = {r["reason"]: r for r in panel["json"]["rescued"]["by_reason"]}
    assert reasons["job_error_recorded"]["messages"] == rescued["job_error_recorded"]
    assert panel["json"]["rescued"]["total"] == sum(rescued.values())
    assert 'data-reason="job_error_recorded"' in panel["html"]


def test_a_result_that_cannot_be_recorded_even_alone_goes_back_to_the_queue_flagged(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    campaign_id, phones = make_campaign(db, 400, kind="alert")
    poisoned = _poisoned(db, campaign_id)
    with _failing_write(db, poisoned, times=2):  # the batch's write, then the hand-back's own
        spawn_worker(simulator, gateway_redis_url, smsc__tps=300, smsc__window=20)
        enqueue(db, gateway_redis_url, campaign_id, "alert")
        wait(_completed(db, campaign_id), BOUND, "the campaign to complete despite the failed writes")

    assert statuses(db, campaign_id) == {"delivered": 400}
    assert _rescued(db).get("job_error_requeued") == 1
    phone, flagged = db.execute(
        text("SELECT phone, possible_duplicate FROM message WHERE id = :m"), {"m": poisoned}
    ).one()
    per_phone = submitted_per_phone(simulator)
    assert set(per_phone) == set(phones)
    # Its first answer was lost with the failed writes: it went twice, and says so.
    assert {p for p, n in per_phone.items() if n > 1} == {phone} and flagged


def test_the_sweeper_frees_claims_of_a_job_that_no_longer_runs_and_never_those_of_a_running_one(
    db, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    campaign_id, phones = make_campaign(db, 100, kind="alert")
    redis = redis_connection(gateway_redis_url)
    # A worker that is alive (its heartbeat key is there) holds claims of two jobs: one that died without
    # handing them back, one that still runs.
    owner = f"{_fleet(gateway_redis_url)}/ghost:1:abcdef01"
    redis.set(f"syrena:worker-alive:{owner}", "1", ex=300)
    running = Queue("alerts", connection=redis).enqueue("math.sqrt", 4)
    running.set_status("started")
    ids = (
        db.execute(text("SELECT id FROM message WHERE campaign_id = :c ORDER BY id"), {"c": campaign_id})
        .scalars()
        .all()
    )
    for job_id, chosen in (("a-job-that-died", ids[:30]), (running.id, ids[30:40])):
        db.execute(
            text("""UPDATE message SET status = 'submitting', attempts = 1, claimed_by = :owner,
                           claim_job = :job, claimed_at = now() - interval '1 minute' WHERE id = ANY(:ids)"""),
            {"owner": owner, "job": job_id, "ids": chosen},
        )
    db.commit()
    Queue("alerts", connection=redis).remove(running)  # it "runs": nothing may take it from the queue

    worker = spawn_worker(simulator, gateway_redis_url, campaigns__stranded_after=2)
    enqueue(db, gateway_redis_url, campaign_id, "alert")  # the 60 queued ones
    wait(lambda: statuses(db, campaign_id).get("delivered") == 90, BOUND, "the dead job's claims to be sent")
    assert _rescued(db) == {"job_gone": 30}
    assert statuses(db, campaign_id) == {"delivered": 90, "submitting": 10}  # the running job's are untouched
    flagged = set(
        db.execute(
            text("SELECT id FROM message WHERE campaign_id = :c AND possible_duplicate"), {"c": campaign_id}
        ).scalars()
    )
    assert flagged == set(ids[:30])

    Job.fetch(running.id, connection=redis).set_status("failed")  # now it has ended without handing back
    wait(_completed(db, campaign_id), BOUND, "the campaign to complete")
    assert _rescued(db) == {"job_gone": 40}
    per_phone = submitted_per_phone(simulator)
    assert set(per_phone) == set(phones) and set(per_phone.values()) == {1}
    assert "jobs no longer running" in worker.log()
