"""Campaign test helpers: the four-eyes rule switched on, a pinned clock, people in the test zones."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from syrena_core.config import replace
from tests.helpers import ApiClient


@pytest.fixture
def approval_required(app):
    """The app (served by live_server) with campaigns.require_approval on, for this test only."""
    settings = app.config["SYRENA"]
    app.config["SYRENA"] = replace(settings, campaigns=replace(settings.campaigns, require_approval=True))
    yield
    app.config["SYRENA"] = settings


@pytest.fixture
def clock(app):
    """clock(datetime) pins the app's clock (quiet hours, schedules) for this test."""

    def pin(moment: datetime):
        app.config["SYRENA_CLOCK"] = lambda: moment

    yield pin
    app.config.pop("SYRENA_CLOCK", None)


@pytest.fixture
def operator(live_server, make_user):
    return ApiClient(live_server, make_user("operator")[1])


@pytest.fixture
def approver(live_server, make_user):
    return ApiClient(live_server, make_user("approver")[1])


def set_subscriber(db, subscriber_id: int, **values) -> None:
    """Topics and language as a resident chooses them on the public page (the staff API sets neither)."""
    assigns = ", ".join(f"{k} = :{k}" for k in values)
    db.execute(text(f"UPDATE subscriber SET {assigns} WHERE id = :id"), {**values, "id": subscriber_id})
    db.commit()


def settled(api, campaign_id: int):
    def check():
        status, c = api.get(f"/api/v1/campaigns/{campaign_id}")
        assert status == 200, c
        return c if c["status"] == "completed" else None

    return check


def received(simulator) -> dict[str, str]:
    """Destination (digits) → text, failing if anyone got two messages."""
    out: dict[str, str] = {}
    for m in simulator.messages():
        dest = m["destination_addr"].lstrip("+")
        assert dest not in out, f"{dest} got two messages"
        out[dest] = m["text"]
    return out
