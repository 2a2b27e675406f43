"""Costs are recorded as the SMSC answers: through the API, RQ, `flask worker`, SMPP and the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from billing.models import CostEntry
from campaigns.delivery import match_receipts, record_send_results, store_receipts
from smsc_gateway.interface import DeliveryReceipt, SendResult
from tests.factories import IN_A, IN_A_2, IN_B, ZONE_A, ZONE_B, create_subscriber, create_zone, sending_campaign
from tests.harness import body_closed_before_sending

# 71 characters with Polish letters: UCS-2, one past the 70 of a single part → 2 parts.
POLISH_71 = "Uwaga! Awaria wodociągu na Wildzie. Nie pij wody z kranu do odwołania!!"


def _completed(api, campaign_id):
    def check():
        status, c = api.get(f"/api/v1/campaigns/{campaign_id}")
        assert status == 200
        return c if c["status"] == "completed" else None

    return check


def _month() -> str:
    """This month as finance counts it: Warsaw's."""
    return f"{datetime.now(ZoneInfo('Europe/Warsaw')):%Y-%m}"


def test_accepted_messages_are_charged_per_part_to_one_zone_each(api, finance_api, worker, simulator, wait):
    assert len(POLISH_71) == 71
    wilda = create_zone(api, "Wilda", ZONE_A)
    rataje = create_zone(api, "Rataje", ZONE_B)
    create_subscriber(api, "+48601100001", IN_A)
    create_subscriber(api, "+48601100002", IN_A_2, IN_B)  # homes in both target zones: the lower id, Wilda
    create_subscriber(api, "+48601100003", IN_B)
    status, campaign = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": POLISH_71,
            "zone_ids": [rataje, wilda],
            "department": "Wydział Zarządzania Kryzysowego",
        },
    )
    assert status == 201, campaign
    assert campaign["department"] == "Wydział Zarządzania Kryzysowego"
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/send")[0] == 202
    done = wait(_completed(api, campaign["id"]), 60, "the campaign to complete")

    assert all(m["parts"] == 2 for m in simulator.messages())
    assert done["cost"] == "1.0800"  # 3 messages × 2 UCS-2 parts × 0.18 PLN

    status, by_zone = finance_api.get(f"/api/v1/billing/report?month={_month()}&group_by=zone")
    assert status == 200, by_zone
    rows = {r["key"]: r for r in by_zone["rows"]}
    assert rows[wilda]["label"] == "Wilda"
    assert (rows[wilda]["messages"], rows[wilda]["parts"], rows[wilda]["amount"]) == (2, 4, "0.7200")
    assert (rows[rataje]["messages"], rows[rataje]["parts"], rows[rataje]["amount"]) == (1, 2, "0.3600")
    assert sum(Decimal(r["amount"]) for r in by_zone["rows"]) == Decimal(done["cost"])

    _, by_department = finance_api.get(f"/api/v1/billing/report?month={_month()}&group_by=department")
    assert [(r["key"], r["amount"]) for r in by_department["rows"]] == [("Wydział Zarządzania Kryzysowego", "1.0800")]
    _, by_encoding = finance_api.get(f"/api/v1/billing/report?month={_month()}&group_by=encoding")
    assert [(r["key"], r["messages"], r["parts"]) for r in by_encoding["rows"]] == [("ucs2", 3, 6)]
    _, by_kind = finance_api.get(f"/api/v1/billing/report?month={_month()}&group_by=kind")
    assert [(r["key"], r["amount"]) for r in by_kind["rows"]] == [("alert", "1.0800")]
    assert by_kind["totals"]["sms_cost"] == "1.0800"
    _, by_smsc = finance_api.get(f"/api/v1/billing/report?month={_month()}&group_by=smsc")
    (connection,) = by_smsc["rows"]
    assert connection["key"] and connection["amount"] == "1.0800"  # the named SMSC connection that took them


def _sending_campaign(db, *phones):
    return sending_campaign(db, *phones, kind="info", severity="minor", department="Straż Miejska")


def test_a_refused_submission_costs_nothing(db, settings):
    _campaign, (taken, refused) = _sending_campaign(db, "+48601200001", "+48601200002")
    record_send_results(
        db,
        [
            SendResult(ref=taken.id, accepted=True, smsc_message_ids=["R1"], parts=1, encoding="gsm7"),
            SendResult(ref=refused.id, accepted=False, parts=1, encoding="gsm7", error="ESME_RINVDSTADR"),
        ],
        settings.billing,
    )
    db.commit()
    entries = db.scalars(select(CostEntry)).all()
    assert [(e.message_id, e.amount, e.smsc_message_ids, e.department, e.kind) for e in entries] == [
        (taken.id, Decimal("0.1800"), ["R1"], "Straż Miejska", "info")
    ]


def test_results_recorded_twice_charge_once(db, settings):
    _campaign, (message,) = _sending_campaign(db, "+48601200003")
    result = SendResult(ref=message.id, accepted=True, smsc_message_ids=["D1", "D2"], parts=2, encoding="ucs2")
    record_send_results(db, [result], settings.billing)
    db.commit()
    from billing.ledger import charge_accepted

    charge_accepted(db, [message.id], datetime.now(UTC), settings.billing)
    db.commit()
    assert db.scalar(text("SELECT count(*) FROM cost_entry")) == 1


@pytest.fixture
def charge_on_delivery(monkeypatch, settings):
    from syrena_core.config import get_settings

    monkeypatch.setenv("SYRENA_BILLING__CHARGE_ON", "delivered")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.delenv("SYRENA_BILLING__CHARGE_ON")
    get_settings.cache_clear()


def test_with_charge_on_delivered_only_delivered_messages_cost(db, charge_on_delivery):
    _campaign, (delivered, failed) = _sending_campaign(db, "+48601300001", "+48601300002")
    record_send_results(
        db,
        [
            SendResult(ref=delivered.id, accepted=True, smsc_message_ids=["L1", "L2"], parts=2, encoding="ucs2"),
            SendResult(ref=failed.id, accepted=True, smsc_message_ids=["L3"], parts=1, encoding="gsm7"),
        ],
        charge_on_delivery.billing,
    )
    db.commit()
    assert db.scalar(text("SELECT count(*) FROM cost_entry")) == 0  # accepted is not enough

    store_receipts(db, [DeliveryReceipt("L1", "DELIVRD"), DeliveryReceipt("L3", "UNDELIV", "001")])
    db.commit()
    match_receipts(db)
    db.commit()
    assert db.scalar(text("SELECT count(*) FROM cost_entry")) == 0  # one part of two delivered: not yet

    store_receipts(db, [DeliveryReceipt("L2", "DELIVRD")])
    db.commit()
    match_receipts(db)
    db.commit()
    entries = db.scalars(select(CostEntry)).all()
    assert [(e.message_id, e.parts, e.amount) for e in entries] == [(delivered.id, 2, Decimal("0.3600"))]


def test_ledger_entries_cannot_be_changed_or_deleted(db, settings):
    _campaign, (message,) = _sending_campaign(db, "+48601400001")
    record_send_results(
        db,
        [SendResult(ref=message.id, accepted=True, smsc_message_ids=["I1"], parts=1, encoding="gsm7")],
        settings.billing,
    )
    db.commit()
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE cost_entry SET amount = 0", "DELETE FROM cost_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
    assert db.scalar(text("SELECT amount FROM cost_entry")) == Decimal("0.1800")


# ---------------------------------------------------------------- refusals and receipts over real SMPP
ESME_RINVDSTADR = 0x0B
OK, REFUSED, UNDELIVERABLE = "+48601600001", "+48601600002", "+48601600003"


@pytest.fixture
def faulty_numbers(simulator):
    """The simulator refuses REFUSED's submit_sm (invalid destination) and receipts UNDELIVERABLE UNDELIV."""
    simulator.inject_faults(reject={REFUSED: ESME_RINVDSTADR}, undeliverable=[UNDELIVERABLE])
    yield
    simulator.inject_faults(reject={}, undeliverable=[])


def _send_to_three(api, wait) -> dict:
    zone = create_zone(api, "Wilda", ZONE_A)
    for phone in (OK, REFUSED, UNDELIVERABLE):
        create_subscriber(api, phone, IN_A)
    status, campaign = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "zone_ids": [zone], "body": "Alarm powodziowy", "department": "Drogi"},
    )
    assert status == 201, campaign
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/send")[0] == 202
    return wait(_completed(api, campaign["id"]), 60, "the campaign to complete")


def _charged(db) -> dict[str, Decimal]:
    return dict(db.execute(text("SELECT phone, amount FROM cost_entry WHERE entry_type = 'charge'")).all())


@pytest.mark.usefixtures("faulty_numbers")
def test_refused_submissions_cost_nothing_over_smpp(api, finance_api, db, worker, simulator, wait):
    done = _send_to_three(api, wait)
    assert (done["counts"]["delivered"], done["counts"]["failed"]) == (1, 2), done["counts"]  # refused, UNDELIV
    assert simulator.fault_stats()["errors"] >= 1  # the refusal really went over SMPP
    # The simulator took (and stored) the two others only.
    assert sorted(m["destination_addr"].lstrip("+") for m in simulator.messages()) == [
        OK.lstrip("+"),
        UNDELIVERABLE.lstrip("+"),
    ]
    # Charged on acceptance: the undeliverable one was accepted and costs; the refused one does not.
    assert _charged(db) == {OK: Decimal("0.1800"), UNDELIVERABLE: Decimal("0.1800")}
    assert done["cost"] == "0.3600"
    _, report = finance_api.get(f"/api/v1/billing/report?month={_month()}&group_by=campaign")
    assert [(r["key"], r["messages"], r["amount"]) for r in report["rows"]] == [(done["id"], 2, "0.3600")]


@pytest.fixture
def charging_on_delivery(settings, private_redis, tmp_path, monkeypatch, worker):
    """The app and a `flask worker` with `[billing] charge_on = "delivered"`, on a Redis database of their own.
    The session's worker charges on acceptance: it is paused meanwhile, or it would find this worker's claims
    (whose heartbeat it cannot see) abandoned and send them itself."""
    import os
    import signal
    import threading

    from werkzeug.serving import make_server

    from app import create_app
    from syrena_core.config import get_settings
    from syrena_core.queues import redis_connection
    from tests.helpers import launch_worker, stop_workers

    redis_url = private_redis.rsplit("/", 1)[0] + "/3"
    redis_connection(redis_url).flushdb()
    # In this process too (code that reads get_settings() rather than the app's settings), until the test ends.
    monkeypatch.setenv("SYRENA_REDIS__URL", redis_url)
    monkeypatch.setenv("SYRENA_BILLING__CHARGE_ON", "delivered")
    get_settings.cache_clear()
    changed = get_settings()
    assert (changed.redis.url, changed.billing.charge_on) == (redis_url, "delivered")
    server = make_server(
        "127.0.0.1", 0, body_closed_before_sending(create_app(changed, {"TESTING": True})), threaded=True
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.kill(worker.pid, signal.SIGSTOP)
    delivery_worker = launch_worker(dict(os.environ), tmp_path / "worker.log")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        stop_workers([delivery_worker])
        os.kill(worker.pid, signal.SIGCONT)
        server.shutdown()
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.usefixtures("faulty_numbers")
def test_with_charge_on_delivered_only_delivered_messages_cost_over_smpp(
    charging_on_delivery, make_user, db, simulator, wait
):
    from tests.helpers import ApiClient

    api = ApiClient(charging_on_delivery, make_user("admin")[1])
    done = _send_to_three(api, wait)
    assert (done["counts"]["delivered"], done["counts"]["failed"]) == (1, 2), done["counts"]  # refused, UNDELIV
    assert _charged(db) == {OK: Decimal("0.1800")}  # neither the refused nor the UNDELIV one
    assert done["cost"] == "0.1800"  # the campaign's cost is the ledger's
    finance = ApiClient(charging_on_delivery, make_user("finance")[1])
    _, report = finance.get(f"/api/v1/billing/report?month={_month()}&group_by=kind")
    assert report["totals"]["sms_cost"] == "0.1800"
