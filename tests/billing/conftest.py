"""Billing fixtures: tariffs and ledger entries at chosen times, a finance API client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import ApiClient


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def warsaw(*args: int) -> datetime:
    """A wall-clock time in Poland: finance months and days are Warsaw's ([billing] timezone)."""
    return datetime(*args, tzinfo=ZoneInfo("Europe/Warsaw"))


@pytest.fixture
def finance_api(live_server, make_user):
    _email, token = make_user("finance")
    return ApiClient(live_server, token)


@pytest.fixture
def add_tariff(db):
    """add_tariff(valid_from, price, monthly='400.00', setup='0.00', vat='0.23') through billing.ledger."""
    from billing.ledger import create_tariff

    def add(valid_from: datetime, price: str, monthly: str = "400.00", setup: str = "0.00", vat: str = "0.23"):
        tariff = create_tariff(
            db,
            None,
            valid_from=valid_from,
            price_per_part=price,
            monthly_fee=monthly,
            setup_fee=setup,
            vat_rate=vat,
            currency="PLN",
        )
        db.commit()
        return tariff

    return add


@pytest.fixture
def charge(db, settings):
    """charge(at, parts, encoding='gsm7', phone=...) → a transactional ledger entry through the public function."""
    from billing.ledger import record_transactional_charge

    counter = {"n": 0}

    def add(at: datetime, parts: int = 1, encoding: str = "gsm7", phone: str = "+48600000001"):
        counter["n"] += 1
        entry = record_transactional_charge(
            db,
            phone=phone,
            parts=parts,
            encoding=encoding,
            smsc_message_ids=[f"T{counter['n']}-{p}" for p in range(parts)],
            at=at,
            billing=settings.billing,
        )
        db.commit()
        return entry

    return add


def money(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def charge_campaign(db, settings):
    """charge_campaign(at, kind='alert', parts=1, cap_status='actual') → (campaign, message): one message of a
    new campaign of that kind accepted by the SMSC at `at`, charged through the sending path
    (campaigns.delivery.record_send_results → billing.ledger)."""
    from campaigns.delivery import record_send_results
    from smsc_gateway.interface import SendResult
    from tests.factories import sending_campaign

    counter = {"n": 0}

    def add(at: datetime, kind: str = "alert", parts: int = 1, cap_status: str = "actual", **fields):
        counter["n"] += 1
        campaign, (message,) = sending_campaign(
            db, f"+4860990{counter['n']:04d}", kind=kind, cap_status=cap_status, **fields
        )
        ids = [f"C{counter['n']}-{p}" for p in range(parts)]
        result = SendResult(ref=message.id, accepted=True, smsc_message_ids=ids, parts=parts, encoding="gsm7")
        record_send_results(db, [result], settings.billing, at=at)
        db.commit()
        return campaign, message

    return add


CRISIS = "Wydział Zarządzania Kryzysowego"


@pytest.fixture
def november_with_callouts(db, settings, add_tariff, charge, charge_campaign):
    """November 2026 at 0.18/part, 400/month, 20,000 set-up: an alert (2 parts, crisis department), an info
    (1), a keyword reply (1, transactional), an exercise (3), and a call-out (issue 20) of the same department:
    two members' SMS (2 + 1 parts) and the warning to its duty officer (1 part, no message row), all internal.
    Returns the call-out campaign."""
    from billing.ledger import record_transactional_charges

    add_tariff(warsaw(2026, 11, 1), "0.18", monthly="400.00", setup="20000.00")
    charge_campaign(warsaw(2026, 11, 2, 8), kind="alert", parts=2, department=CRISIS)  # 0.36
    charge_campaign(warsaw(2026, 11, 2, 9), kind="info", parts=1)  # 0.18
    charge(warsaw(2026, 11, 2, 10), parts=1)  # 0.18
    charge_campaign(warsaw(2026, 11, 4, 10), kind="alert", parts=3, cap_status="exercise")  # 0.54
    callout, _ = charge_campaign(warsaw(2026, 11, 5, 3), kind="callout", parts=2, department=CRISIS)  # 0.36
    charge_campaign(warsaw(2026, 11, 5, 3), kind="callout", parts=1, department=CRISIS)  # 0.18
    record_transactional_charges(
        db,
        [
            {
                "phone": "+48601999001",
                "parts": 1,
                "encoding": "gsm7",
                "smsc_message_ids": ["DUTY-1"],
                "campaign_id": callout.id,
            }
        ],
        at=warsaw(2026, 11, 5, 3, 10),
        billing=settings.billing,
        kind="internal",
    )  # 0.18
    db.commit()
    return callout
