"""Structured logs: JSON lines with the campaign and job as fields, the level from [logging], and phone
numbers masked at INFO and above."""

from __future__ import annotations

import io
import json
import logging

from tests.factories import make_campaign
from tests.helpers import enqueue, statuses


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_worker_logs_are_json_with_the_campaign_and_job_ids(
    db, start_simulator, start_worker, gateway_redis_url, monkeypatch, wait
):
    simulator = start_simulator()
    worker = start_worker(simulator)
    wait(lambda: simulator.stats()["binds"] == 1, 60, "a bind")
    campaign_id, _phones = make_campaign(db, 50)
    enqueue(db, gateway_redis_url, campaign_id, chunk_size=50)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 50, 60, "delivered")
    wait(lambda: "accepted" in worker.log(), 30, "the chunk's summary line")

    records = _records(worker.log())  # every line parses as JSON
    summary = [r for r in records if r["logger"] == "syrena.campaigns.jobs" and "accepted" in r["message"]]
    assert len(summary) == 1
    assert summary[0]["campaign_id"] == campaign_id and summary[0]["job_id"]
    assert {"time", "level", "logger", "message", "process"} <= set(summary[0])
    assert any("bound to" in r["message"] and r["level"] == "INFO" for r in records)

    monkeypatch.setenv("SYRENA_LOGGING__LEVEL", "WARNING")
    quiet = start_worker(simulator)
    wait(lambda: simulator.stats()["binds"] == 2, 60, "the second worker's bind")
    assert all(r["level"] != "INFO" for r in _records(quiet.log()))  # [logging] level = WARNING: no "bound to"


def test_phone_numbers_are_masked_at_info_and_kept_only_at_debug():
    from syrena_core.logging import configure_logging

    stream = io.StringIO()
    log = logging.getLogger("syrena.test.masking")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", "json", stream=stream)
        log.info("reply to %s refused", "+48691234567", extra={"campaign_id": 7})
        log.warning("no subscriber 691234567; campaign 12345, at 1764388800")
        log.debug("raw destination 48691234567")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    info, warning, debug = _records(stream.getvalue())
    assert info["message"] == "reply to +4869*****67 refused" and info["campaign_id"] == 7
    assert warning["message"] == "no subscriber 6912***67; campaign 12345, at 1764388800"
    assert debug["message"] == "raw destination 48691234567"  # deliberate troubleshooting only
