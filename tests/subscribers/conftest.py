"""Fixtures of the subscribers tests: the real Poznań gazetteer, zones around it, codes read from the
simulator (rate-limit counters are emptied before every test by tests/conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import ZONE_A, ZONE_B, create_zone

ROOT = Path(__file__).resolve().parents[2]
POZNAN_ADDRESSES = ROOT.parent / "shared" / "data" / "poznan_adresy_punkty.csv"
PHONE = "+48601234567"
SHORT_NUMBER = "4800"


@pytest.fixture
def poznan_addresses_file() -> Path:
    if not POZNAN_ADDRESSES.exists():
        pytest.fail(
            f"the real Poznań addresses are missing: expected {POZNAN_ADDRESSES} "
            "(the shared/ folder beside the repository)",
            pytrace=False,
        )
    return POZNAN_ADDRESSES


@pytest.fixture
def gazetteer(settings, poznan_addresses_file):
    """The 1,186 real Poznań addresses, imported."""
    from subscribers.gazetteer import import_address_points, read_address_file
    from syrena_core.db import session_scope

    with session_scope(settings.database.url) as session:
        return import_address_points(session, read_address_file(poznan_addresses_file))


@pytest.fixture
def two_zones(api):
    """Zone A (west, around Głogowska 77) and zone B (east), as {name: id}."""
    return {"Zachód": create_zone(api, "Zachód", ZONE_A), "Wschód": create_zone(api, "Wschód", ZONE_B)}


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


@pytest.fixture
def sms_to(simulator):
    """sms_to(phone) → texts the simulated SMSC received for that phone, oldest first."""

    def texts(phone: str) -> list[str]:
        return [m["text"] for m in simulator.messages() if _digits(m["destination_addr"]) == _digits(phone)]

    return texts


@pytest.fixture
def code_for(sms_to, wait):
    """code_for(phone) → the 6-digit code of the latest verification SMS to that phone (waits for it)."""

    def latest(phone: str, already: int = 0) -> str:
        def codes():
            found = [re.search(r"\b(\d{6})\b", t) for t in sms_to(phone)]
            found = [m.group(1) for m in found if m]
            return found if len(found) > already else None

        return wait(codes, 30, f"a verification code for {phone}")[-1]

    return latest


@pytest.fixture
def send_mo(simulator, worker, settings, wait):
    """send_mo(phone, text) → the inbound_message row once the worker has stored it and the keyword
    handler (enqueued by the worker itself) has answered it."""
    from sqlalchemy import select

    from smsc_gateway.models import InboundMessage
    from syrena_core.db import session_scope

    def send(phone: str, text: str) -> InboundMessage:
        with session_scope(settings.database.url) as session:
            before = session.scalar(select(InboundMessage.id).order_by(InboundMessage.id.desc()).limit(1)) or 0
        assert wait(lambda: simulator.inject_mo(phone, SHORT_NUMBER, text), 30, "a bound worker to take the MO")

        def stored():
            with session_scope(settings.database.url) as session:
                return session.scalar(
                    select(InboundMessage.id).where(InboundMessage.id > before).order_by(InboundMessage.id).limit(1)
                )

        message_id = wait(stored, 30, "the MO stored in inbound_message")

        def handled():
            with session_scope(settings.database.url) as session:
                row = session.get(InboundMessage, message_id)
                return row if row.handled_at is not None else None

        return wait(handled, 30, "the MO handled")

    return send
