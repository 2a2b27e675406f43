"""Monthly reports: grouping sums to the grosz, fees whole or prorated, a tariff change mid-month, VAT,
the maintained summary equal to the ledger, and clear errors for bad requests."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from billing.exceptions import InvalidTariff
from billing.reports import GROUPINGS, monthly_report, summary_differences
from tests.billing.conftest import CRISIS, warsaw


@pytest.fixture
def september(add_tariff, charge):
    """Service set up on 1 September at 0.18/part, 400/month; from 16 September 0.20/part, 500/month."""
    add_tariff(warsaw(2026, 9, 1), "0.18", monthly="400.00", setup="20000.00")
    add_tariff(warsaw(2026, 9, 16), "0.20", monthly="500.00")
    charge(warsaw(2026, 9, 3, 10), parts=1)
    charge(warsaw(2026, 9, 15, 23, 59, 59), parts=2, encoding="ucs2")
    charge(warsaw(2026, 9, 16, 0, 0, 0), parts=3, encoding="ucs2")
    charge(warsaw(2026, 9, 30, 23, 59), parts=1)
    charge(warsaw(2026, 10, 1, 0, 0), parts=5)  # October: not in September's report


@pytest.mark.usefixtures("september")
def test_a_tariff_change_mid_month_prices_each_message_at_its_moment(db, settings):
    report = monthly_report(db, "2026-09", "day", settings.billing)
    assert report.totals.messages == 4
    assert report.totals.parts == 7
    # 3 parts at 0.18 before the 16th, 4 parts at 0.20 from it
    assert report.totals.sms_cost == Decimal("0.54") + Decimal("0.80")
    assert [(r.key, r.amount) for r in report.rows] == [
        (date(2026, 9, 3), Decimal("0.1800")),
        (date(2026, 9, 15), Decimal("0.3600")),
        (date(2026, 9, 16), Decimal("0.6000")),
        (date(2026, 9, 30), Decimal("0.2000")),
    ]


@pytest.mark.usefixtures("september")
def test_the_monthly_fee_is_prorated_between_tariffs_and_vat_added(db, settings):
    report = monthly_report(db, "2026-09", "kind", settings.billing)
    # 15 days at 400/30 and 15 days at 500/30
    assert report.totals.subscription == Decimal("450.00")
    assert report.totals.setup == Decimal("20000.00")
    assert report.totals.net == Decimal("20451.34")
    assert report.totals.vat == Decimal("4703.81")  # 23% of 20451.34 = 4703.8082
    assert report.totals.gross == Decimal("25155.15")


@pytest.mark.usefixtures("september")
def test_the_whole_monthly_fee_is_that_of_the_tariff_the_month_began_with(db, settings):
    from syrena_core.config import replace

    report = monthly_report(db, "2026-09", "kind", replace(settings.billing, monthly_fee_mode="whole"))
    assert report.totals.subscription == Decimal("400.00")
    october = monthly_report(db, "2026-10", "kind", replace(settings.billing, monthly_fee_mode="whole"))
    assert october.totals.subscription == Decimal("500.00")
    assert october.totals.setup == Decimal("0")


@pytest.mark.parametrize("group_by", GROUPINGS)
@pytest.mark.usefixtures("september")
def test_every_grouping_sums_to_the_month_total_to_the_grosz(db, settings, group_by):
    report = monthly_report(db, "2026-09", group_by, settings.billing)
    assert sum(r.amount for r in report.rows) == report.totals.sms_cost == Decimal("1.3400")
    assert sum(r.parts for r in report.rows) == report.totals.parts
    assert sum(r.messages for r in report.rows) == report.totals.messages


@pytest.mark.usefixtures("september")
def test_the_summary_equals_the_ledger(db, settings):
    assert summary_differences(db, date(2026, 9, 1)) == []
    for group_by in GROUPINGS:
        assert monthly_report(db, "2026-09", group_by, settings.billing, source="ledger") == monthly_report(
            db, "2026-09", group_by, settings.billing
        )


@pytest.mark.usefixtures("september")
def test_a_tariff_cannot_start_before_costs_already_recorded(add_tariff):
    with pytest.raises(InvalidTariff, match="re-price"):
        add_tariff(warsaw(2026, 9, 20), "0.10")


@pytest.mark.usefixtures("september")
def test_the_api_answers_json_and_csv(finance_api):
    status, body = finance_api.get("/api/v1/billing/report?month=2026-09&group_by=day")
    assert status == 200
    assert body["totals"]["sms_cost"] == "1.3400"
    assert body["totals"]["gross"] == "25155.15"
    assert [r["key"] for r in body["rows"]] == ["2026-09-03", "2026-09-15", "2026-09-16", "2026-09-30"]

    import urllib.request

    for path, headers in (
        ("/api/v1/billing/report?month=2026-09&group_by=day", {"Accept": "text/csv"}),
        ("/api/v1/billing/report.csv?month=2026-09&group_by=day", {}),
    ):
        request = urllib.request.Request(
            finance_api.base + path, headers={"Authorization": f"Bearer {finance_api.token}", **headers}
        )
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Type"].startswith("text/csv")
            lines = list(csv.reader(io.StringIO(response.read().decode())))
        assert lines[0] == ["day", "name", "messages", "parts", "amount_pln"]
        assert lines[-1][0] == "total"
        assert sum(Decimal(line[4]) for line in lines[1:-1]) == Decimal(lines[-1][4]) == Decimal("1.3400")


@pytest.mark.parametrize(
    "query, code",
    [
        ("month=2026-13&group_by=day", "invalid_report_request"),
        ("month=September&group_by=day", "invalid_report_request"),
        ("group_by=day", "invalid_report_request"),
        ("month=2026-09&group_by=colour", "invalid_report_request"),
    ],
)
def test_a_bad_month_or_grouping_is_a_clear_error(finance_api, query, code):
    status, body = finance_api.get(f"/api/v1/billing/report?{query}")
    assert status == 422
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_tariffs_are_added_by_admins_and_bad_ones_refused(api, finance_api):
    status, tariff = api.post(
        "/api/v1/billing/tariffs",
        {
            "valid_from": "2030-01-01T00:00:00+00:00",
            "price_per_part": "0.16",
            "monthly_fee": "380.00",
            "vat_rate": "0.23",
        },
    )
    assert status == 201, tariff
    assert tariff["price_per_part"] == "0.1600"
    assert finance_api.post("/api/v1/billing/tariffs", {"price_per_part": "0.1", "monthly_fee": "1"})[0] == 403
    for bad in (
        {"price_per_part": 0.16, "monthly_fee": "1"},
        {"price_per_part": "-1", "monthly_fee": "1"},
        {"price_per_part": "0.16", "monthly_fee": "1", "valid_from": "tomorrow"},
        {"price_per_part": "0.16", "monthly_fee": "1", "vat_rate": "23"},
    ):
        status, body = api.post("/api/v1/billing/tariffs", bad)
        assert status == 422, bad
        assert body["error"]["code"] == "invalid_tariff"
    status, listed = finance_api.get("/api/v1/billing/tariffs")
    assert [t["valid_from"] for t in listed] == ["2030-01-01T00:00:00+00:00"]


@pytest.mark.parametrize("role", ["operator", "approver"])
def test_only_finance_and_admin_see_money(live_server, make_user, role, api, finance_api):
    from tests.helpers import ApiClient

    _email, token = make_user(role)
    other = ApiClient(live_server, token)
    for path in (
        "/api/v1/billing/report?month=2026-09&group_by=day",
        "/api/v1/billing/tariffs",
        "/api/v1/billing/report.csv?month=2026-09",
    ):
        status, body = other.get(path)
        assert status == 403, path
        assert body["error"]["code"] == "forbidden"
        assert finance_api.get(path)[0] == 200
        assert api.get(path)[0] == 200


@pytest.mark.usefixtures("september")
def test_a_correction_is_a_new_entry_and_changes_the_month(db, settings, finance_api):
    from sqlalchemy import text

    entry_id = db.scalar(text("SELECT id FROM cost_entry WHERE charged_at = '2026-09-03 10:00+02'"))
    status, correction = finance_api.post(
        "/api/v1/billing/corrections",
        {"corrects": entry_id, "amount": "-0.1800", "parts": -1, "note": "operator refunded a duplicate"},
    )
    assert status == 201, correction
    assert db.scalar(text("SELECT amount FROM cost_entry WHERE id = :id"), {"id": entry_id}) == Decimal("0.1800")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    this_month = f"{datetime.now(ZoneInfo('Europe/Warsaw')):%Y-%m}"
    status, now_month = finance_api.get(f"/api/v1/billing/report?month={this_month}&group_by=kind")
    assert [(r["key"], r["messages"], r["parts"], r["amount"]) for r in now_month["rows"]] == [
        ("transactional", 0, -1, "-0.1800")
    ]  # booked when it was made; September stays as invoiced
    assert monthly_report(db, "2026-09", "kind", settings.billing).totals.sms_cost == Decimal("1.3400")
    for bad in (
        {"corrects": 999999, "amount": "1", "note": "x"},
        {"corrects": entry_id, "amount": 1, "note": "x"},
        {"corrects": entry_id, "amount": "-0.18"},
    ):
        status, body = finance_api.post("/api/v1/billing/corrections", bad)
        assert (status, body["error"]["code"]) == (422, "invalid_correction"), bad


def test_an_smsc_connection_with_its_own_tariff_is_charged_and_billed_by_it(db, settings, add_tariff, charge):
    from billing.ledger import create_tariff

    add_tariff(warsaw(2026, 8, 1), "0.18", monthly="400.00")
    create_tariff(
        db,
        None,
        valid_from=warsaw(2026, 8, 16),
        smsc="orange",
        price_per_part="0.15",
        monthly_fee="300.00",
        setup_fee="0",
        vat_rate="0.23",
        currency="PLN",
    )
    db.commit()
    from billing.ledger import record_transactional_charge

    record_transactional_charge(
        db,
        phone="+48600000009",
        parts=2,
        encoding="gsm7",
        smsc_message_ids=["O1", "O2"],
        at=warsaw(2026, 8, 20),
        smsc="orange",
        billing=settings.billing,
    )
    record_transactional_charge(
        db,
        phone="+48600000009",
        parts=2,
        encoding="gsm7",
        smsc_message_ids=["P1", "P2"],
        at=warsaw(2026, 8, 20),
        smsc="plus",
        billing=settings.billing,
    )
    db.commit()
    report = monthly_report(db, "2026-08", "smsc", settings.billing)
    assert [(r.key, r.amount) for r in report.rows] == [("orange", Decimal("0.3000")), ("plus", Decimal("0.3600"))]
    # the general contract all month, orange's from the 16th: 16 of 31 days of 300
    assert [(f.smsc, f.amount) for f in report.fees] == [(None, Decimal("400.00")), ("orange", Decimal("154.84"))]


def test_months_and_days_are_warsaw_calendar_months_and_days(db, settings, add_tariff, charge):
    from tests.billing.conftest import utc

    add_tariff(warsaw(2026, 9, 1), "0.18")
    charge(utc(2026, 9, 30, 21, 59), parts=1)  # 23:59 on 30 September in Warsaw (CEST, UTC+2)
    charge(utc(2026, 9, 30, 22, 30), parts=2)  # 00:30 on 1 October in Warsaw
    charge(utc(2026, 10, 31, 22, 30), parts=3)  # 23:30 on 31 October (CET, UTC+1 after 25 October)
    charge(utc(2026, 10, 31, 23, 30), parts=4)  # 00:30 on 1 November
    october = monthly_report(db, "2026-10", "day", settings.billing)
    assert october.timezone == "Europe/Warsaw"
    assert [(r.key, r.parts) for r in october.rows] == [(date(2026, 10, 1), 2), (date(2026, 10, 31), 3)]
    assert october.totals.parts == 5 and october.totals.sms_cost == Decimal("0.9000")
    assert [(r.key, r.parts) for r in monthly_report(db, "2026-09", "day", settings.billing).rows] == [
        (date(2026, 9, 30), 1)
    ]
    assert monthly_report(db, "2026-11", "day", settings.billing).totals.parts == 4
    for month in (date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)):
        assert summary_differences(db, month) == []


def test_the_fee_is_prorated_over_the_local_month_with_its_extra_autumn_hour(db, settings, add_tariff):
    """October 2026 in Warsaw lasts 745 hours (clocks go back on the 25th); a tariff from local midnight on
    the 16th was in force for 385 of them, the first one for 360."""
    add_tariff(warsaw(2026, 10, 1), "0.18", monthly="400.00")
    add_tariff(warsaw(2026, 10, 16), "0.20", monthly="500.00")
    report = monthly_report(db, "2026-10", "kind", settings.billing)
    assert [(f.period_from, f.period_to, f.amount) for f in report.fees] == [
        (warsaw(2026, 10, 1), warsaw(2026, 10, 16), Decimal("193.29")),  # 400 × 360 / 745
        (warsaw(2026, 10, 16), warsaw(2026, 11, 1), Decimal("258.39")),
    ]  # 500 × 385 / 745
    assert report.totals.subscription == Decimal("451.68")
    assert report.totals.gross == report.totals.net + report.totals.vat


def test_changing_the_billing_timezone_rebuilds_the_summary(db, settings, add_tariff, charge):
    from sqlalchemy import text

    from syrena_core.config import replace
    from tests.billing.conftest import utc

    add_tariff(warsaw(2026, 9, 1), "0.18")
    charge(utc(2026, 9, 30, 22, 30), parts=2)  # September in UTC, October in Warsaw
    in_utc = replace(settings.billing, timezone="UTC")
    assert monthly_report(db, "2026-09", "day", in_utc).totals.parts == 2
    assert db.scalar(text("SELECT timezone FROM billing_calendar")) == "UTC"
    assert db.scalar(text("SELECT day FROM cost_summary")) == date(2026, 9, 30)
    assert summary_differences(db, date(2026, 9, 1), "UTC") == []
    charge(utc(2026, 9, 30, 23, 0), parts=1)  # summarised by the new calendar at once
    assert monthly_report(db, "2026-09", "day", in_utc).totals.parts == 3

    assert monthly_report(db, "2026-09", "day", settings.billing).totals.parts == 0
    assert [(r.key, r.parts) for r in monthly_report(db, "2026-10", "day", settings.billing).rows] == [
        (date(2026, 10, 1), 3)
    ]
    assert db.scalar(text("SELECT timezone FROM billing_calendar")) == "Europe/Warsaw"
    assert summary_differences(db, date(2026, 10, 1)) == []


# ---------------------------------------------------------------- call-outs (issue 20): internal, a line apart
@pytest.mark.parametrize("group_by", GROUPINGS)
def test_internal_call_outs_are_a_line_of_their_own_outside_every_grouping(
    db, settings, november_with_callouts, group_by
):
    report = monthly_report(db, "2026-11", group_by, settings.billing)
    t = report.totals
    assert (t.internal_messages, t.internal_parts, t.internal_cost) == (3, 4, Decimal("0.7200"))
    assert (t.exercise_messages, t.exercise_parts, t.exercise_cost) == (1, 3, Decimal("0.5400"))
    # The rows are what warning and informing the residents cost: alert, info, transactional.
    assert (t.messages, t.parts, t.sms_cost) == (3, 4, Decimal("0.7200"))
    assert sum(r.amount for r in report.rows) == t.sms_cost
    if group_by == "campaign":
        assert november_with_callouts.id not in [r.key for r in report.rows]
    if group_by == "department":  # the call-out's department is charged only its alert here
        assert [(r.key, r.amount) for r in report.rows if r.key == CRISIS] == [(CRISIS, Decimal("0.3600"))]
    if group_by == "kind":
        assert [(r.key, r.amount) for r in report.rows] == [
            ("alert", Decimal("0.3600")),
            ("info", Decimal("0.1800")),
            ("transactional", Decimal("0.1800")),
        ]


def test_alert_info_transactional_exercise_internal_and_fees_add_up_to_net(db, settings, november_with_callouts):
    report = monthly_report(db, "2026-11", "kind", settings.billing)
    kinds = {r.key: r.amount for r in report.rows}
    t = report.totals
    fees = sum((f.amount for f in report.fees), Decimal(0))
    assert fees == Decimal("20400.00")
    parts = (kinds["alert"], kinds["info"], kinds["transactional"], t.exercise_cost, t.internal_cost, fees)
    assert sum(parts) == t.net == Decimal("20401.98")
    assert t.vat == Decimal("4692.46")  # 23% of everything paid for, internal included
    assert t.gross == Decimal("25094.44")


@pytest.mark.usefixtures("november_with_callouts")
def test_the_internal_line_is_the_same_from_the_summary_and_from_the_ledger(db, settings):
    assert summary_differences(db, date(2026, 11, 1)) == []
    for group_by in GROUPINGS:
        assert monthly_report(db, "2026-11", group_by, settings.billing, source="ledger") == monthly_report(
            db, "2026-11", group_by, settings.billing
        )


@pytest.mark.usefixtures("november_with_callouts")
def test_the_api_gives_the_internal_line_beside_the_exercises(finance_api):
    status, body = finance_api.get("/api/v1/billing/report?month=2026-11&group_by=campaign")
    assert status == 200, body
    totals = body["totals"]
    assert (totals["internal_messages"], totals["internal_parts"], totals["internal_cost"]) == (3, 4, "0.7200")
    assert (totals["exercise_messages"], totals["exercise_cost"]) == (1, "0.5400")
    assert totals["sms_cost"] == "0.7200" and totals["net"] == "20401.98"
