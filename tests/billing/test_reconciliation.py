"""The operator's CSV against the ledger: matched, missing on either side, amounts that differ, per day;
malformed files refused whole."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from billing.ledger import charge_accepted
from campaigns.delivery import record_send_results
from smsc_gateway.interface import SendResult
from tests.billing.test_ledger_real_path import _sending_campaign


def _post_csv(client, path: str, body: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        client.base + path,
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {client.token}", "Content-Type": "text/csv"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _charged_messages(db, settings):
    _campaign, messages = _sending_campaign(db, "+48601500001", "+48601500002", "+48601500003", "+48601500004")
    a, b, c, d = messages
    record_send_results(
        db,
        [
            SendResult(ref=a.id, accepted=True, smsc_message_ids=["A1"], parts=1, encoding="gsm7"),
            SendResult(ref=b.id, accepted=True, smsc_message_ids=["B1", "B2"], parts=2, encoding="ucs2"),
            SendResult(ref=c.id, accepted=True, smsc_message_ids=["C1"], parts=1, encoding="gsm7"),
            SendResult(ref=d.id, accepted=True, smsc_message_ids=["D1"], parts=1, encoding="gsm7"),
        ],
        settings.billing,
    )
    db.commit()


def test_the_operator_csv_is_matched_against_the_ledger_per_day(db, settings, finance_api):
    _charged_messages(db, settings)
    now = datetime.now(UTC)
    month, stamp = f"{now:%Y-%m}", now.strftime("%Y-%m-%d %H:%M:%S")
    operator_csv = (
        "message id;time;parts;amount\n"
        f"A1;{stamp};1;0,18\n"
        f"B1;{stamp};1;0,18\n"  # a long message billed per part
        f"B2;{stamp};1;0,18\n"
        f"C1;{stamp};1;0,20\n"  # billed dearer than the tariff
        f"X9;{stamp};1;0,18\n"
    )  # we never sent it
    status, result = _post_csv(finance_api, f"/api/v1/billing/reconciliations?month={month}", operator_csv)
    assert status == 201, result
    assert result["rows"] == 5
    totals = result["totals"]
    assert (
        totals["matched"],
        totals["missing_at_operator"],
        totals["missing_in_ledger"],
        totals["amount_differences"],
    ) == (3, 1, 1, 1)
    assert totals["our_amount"] == "0.9000"  # A 0.18 + B 0.36 + C 0.18 + D 0.18
    assert totals["operator_amount"] == "0.9200"  # A, B1, B2 0.54 + C 0.20 + X9 0.18
    assert totals["difference"] == "0.0200"
    (day,) = result["days"]
    assert day["day"] == now.date().isoformat()
    problems = {(d["problem"], tuple(d["smsc_message_ids"])) for d in result["discrepancies"]}
    assert problems == {("missing_at_operator", ("D1",)), ("missing_in_ledger", ("X9",)), ("amount_differs", ("C1",))}

    status, again = finance_api.get(f"/api/v1/billing/reconciliations/{result['id']}")
    assert status == 200
    assert again["totals"] == totals


def test_a_malformed_operator_csv_is_refused_whole_with_the_bad_lines_named(db, settings, finance_api):
    _charged_messages(db, settings)
    month = f"{datetime.now(UTC):%Y-%m}"
    operator_csv = (
        "message_id,time,parts,amount\n"
        "A1,2026-11-02T10:00:00Z,1,0.18\n"
        "B1,yesterday,1,0.18\n"
        "C1,2026-11-02T10:00:00Z,two,0.18\n"
        "A1,2026-11-02T10:00:00Z,1,0.18\n"
    )
    status, body = _post_csv(finance_api, f"/api/v1/billing/reconciliations?month={month}", operator_csv)
    assert status == 422
    assert body["error"]["code"] == "invalid_operator_csv"
    assert "nothing was imported" in body["error"]["message"]
    assert [p["line"] for p in body["error"]["details"]] == [3, 4, 5]
    assert db.scalar(text("SELECT count(*) FROM reconciliation_import")) == 0
    assert db.scalar(text("SELECT count(*) FROM operator_charge")) == 0

    for bad in ("", "id,when,amount\nA1,2026-11-02T10:00:00Z,0.18\n", "message_id,time,parts,amount\n"):
        status, body = _post_csv(finance_api, f"/api/v1/billing/reconciliations?month={month}", bad)
        assert status == 422, bad
        assert body["error"]["code"] == "invalid_operator_csv"
    status, body = _post_csv(
        finance_api,
        "/api/v1/billing/reconciliations?month=13-2026",
        "message_id,time,parts,amount\nA1,2026-11-02T10:00:00Z,1,0.18\n",
    )
    assert status == 422
    assert db.scalar(text("SELECT count(*) FROM operator_charge")) == 0


def test_a_reused_smsc_id_is_matched_by_its_time_never_to_the_older_send(db, settings, finance_api):
    """SMSCs reuse ids (a restart, a wrapped counter): the operator lists the same id twice, at two times."""
    _campaign, (old, new) = _sending_campaign(db, "+48601500011", "+48601500012")
    # The first send was three hours ago (but this month, as finance counts it).
    now = datetime.now(UTC)
    earlier = now - timedelta(hours=3)
    if earlier.astimezone(ZoneInfo("Europe/Warsaw")).month != now.astimezone(ZoneInfo("Europe/Warsaw")).month:
        earlier = now - timedelta(minutes=20)
    record_send_results(
        db,
        [SendResult(ref=old.id, accepted=True, smsc_message_ids=["R7"], parts=1, encoding="gsm7")],
        settings.billing,
        charge=False,
    )
    charge_accepted(db, [old.id], earlier, settings.billing)
    db.commit()
    record_send_results(
        db, [SendResult(ref=new.id, accepted=True, smsc_message_ids=["R7"], parts=1, encoding="gsm7")], settings.billing
    )
    db.commit()
    month = f"{now.astimezone(ZoneInfo('Europe/Warsaw')):%Y-%m}"
    operator_csv = (
        "message_id,time,parts,amount\n"
        f"R7,{earlier:%Y-%m-%dT%H:%M:%SZ},1,0.18\n"
        f"R7,{now:%Y-%m-%dT%H:%M:%SZ},1,0.25\n"
    )  # the newer send billed dearer
    status, result = _post_csv(finance_api, f"/api/v1/billing/reconciliations?month={month}", operator_csv)
    assert status == 201, result
    totals = result["totals"]
    assert (
        totals["matched"],
        totals["missing_at_operator"],
        totals["missing_in_ledger"],
        totals["amount_differences"],
    ) == (2, 0, 0, 1)
    [difference] = result["discrepancies"]
    assert (difference["problem"], difference["operator_amount"]) == ("amount_differs", "0.2500")

    # A line of that id from long before either send is not ours: it must not land on an older send.
    stale = now - timedelta(days=20)
    stale_csv = f"message_id,time,parts,amount\nR7,{stale:%Y-%m-%dT%H:%M:%SZ},1,0.18\n"
    status, result = _post_csv(finance_api, f"/api/v1/billing/reconciliations?month={month}", stale_csv)
    assert status == 201, result
    assert (result["totals"]["matched"], result["totals"]["missing_in_ledger"]) == (0, 1)


def test_call_outs_internal_charges_are_reconciled_like_every_other(db, settings, november_with_callouts):
    from decimal import Decimal

    from billing.reconciliation import import_operator_csv, reconcile
    from billing.reports import monthly_report

    lines = ["message id;time;parts;amount"]
    for charged_at, ids in db.execute(text("SELECT charged_at, smsc_message_ids FROM cost_entry ORDER BY id")):
        lines += [f"{sid};{charged_at.astimezone(UTC):%Y-%m-%d %H:%M:%S};1;0,18" for sid in ids]  # billed per part
    batch = import_operator_csv(db, None, "2026-11", "\n".join(lines) + "\n")
    db.commit()
    result = reconcile(db, batch.id)
    totals = monthly_report(db, "2026-11", "kind", settings.billing).totals
    assert result.discrepancies == []
    assert result.totals.matched == 7  # alert, info, reply, exercise, two members and the duty officer
    assert result.totals.our_amount == totals.sms_cost + totals.exercise_cost + totals.internal_cost
    assert result.totals.our_amount == Decimal("1.98") == result.totals.operator_amount
