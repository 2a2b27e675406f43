"""Campaign test helpers: the four-eyes rule switched on, a pinned clock, people in the test zones."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from syrena_core.config import replace
from tests.factories import IN_A, IN_A_2, IN_B, OUTSIDE, ZONE_A, ZONE_B, create_subscriber, create_zone
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


# A campaign with a question and its replies, written as the MO side (campaigns.replies) stores them.
_MESSAGE = text("""
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at)
VALUES (:cid, :sid, :phone, :status, 1, now())
""")
_RESPONDENT = text("""
INSERT INTO campaign_respondent (campaign_id, phone, subscriber_id, answer, answered_at, last_text, last_reply_at,
                                 replies)
VALUES (:cid, :phone, :sid, :answer, CASE WHEN :answer IS NULL THEN NULL ELSE now() END, :text, now(), 1)
""")


@pytest.fixture
def asked(api, operator, db):
    """A sent campaign with a question to 5 residents in two zones (one with places in both), replies stored as the
    MO side would: one safe, one needs help (two places), one free text; one delivered and silent; one failed."""
    a = create_zone(api, "Wilda", ZONE_A)
    b = create_zone(api, "Rataje", ZONE_B)
    people = {
        "+48601000001": create_subscriber(api, "+48601000001", IN_A),
        "+48601000002": create_subscriber(api, "+48601000002", IN_A_2, IN_B),
        "+48601000003": create_subscriber(api, "+48601000003", IN_B),
        "+48601000004": create_subscriber(api, "+48601000004", IN_A),
        "+48601000005": create_subscriber(api, "+48601000005", IN_B),
    }
    create_subscriber(api, "+48601000009", OUTSIDE)
    question = {
        "answers": [
            {"key": "1", "label": {"pl": "jestem bezpieczny", "en": "I am safe"}},
            {"key": "2", "label": {"pl": "potrzebuję pomocy", "en": "I need help"}, "needs_help": True},
        ]
    }
    status, c = operator.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": "Powodz.", "zone_ids": [a, b], "question": question},
    )
    assert status == 201, c
    cid = c["id"]
    db.execute(text("UPDATE campaign SET status = 'completed', sent_at = now() WHERE id = :cid"), {"cid": cid})
    db.execute(
        text("""INSERT INTO campaign_target_zone (campaign_id, zone_id, name, geom)
                SELECT :cid, id, name, geom FROM zone WHERE id = ANY(:ids)"""),
        {"cid": cid, "ids": [a, b]},
    )
    statuses = ["delivered", "delivered", "delivered", "delivered", "failed"]
    for (phone, sid), status in zip(people.items(), statuses, strict=True):
        db.execute(_MESSAGE, {"cid": cid, "sid": sid, "phone": phone, "status": status})
    for phone, answer, reply in (
        ("+48601000001", "1", "1"),
        ("+48601000002", "2", "POMOC 2 woda w piwnicy"),
        ("+48601000003", None, "co sie dzieje?"),
    ):
        db.execute(_RESPONDENT, {"cid": cid, "phone": phone, "sid": people[phone], "answer": answer, "text": reply})
    db.commit()
    return {"id": cid, "zones": (a, b), "people": people}


@pytest.fixture
def clock_paused(settings):
    """The workers' call-out clock paused for this test (the session worker runs one on the shared database):
    the test runs campaigns.escalation.run_once itself, and nobody else escalates, closes or texts meanwhile."""
    from campaigns.escalation import CLOCK_LOCK
    from syrena_core.db import engine_for

    with engine_for(settings.database.url).connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": CLOCK_LOCK})
        yield
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": CLOCK_LOCK})
        connection.commit()


class RecordingGateway:
    """Accepts every SMS and remembers it (what the worker's SMPP session does, in-process)."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send(self, batch):
        from smsc_gateway.interface import SendResult

        self.sent += [(m.destination, m.text) for m in batch]
        return [SendResult(m.ref, True, [f"id-{len(self.sent)}-{m.ref}"], 1, "gsm7") for m in batch]


@pytest.fixture
def callout_gateway(clock_paused):
    """The SMS of the MO handler and of the call-outs' clock recorded in-process, with the session worker's
    call-out clock paused (it would act on these tests' call-outs behind their backs)."""
    from smsc_gateway.interface import set_active_gateway

    del clock_paused  # wanted for its effect
    recording = RecordingGateway()
    set_active_gateway(recording)
    yield recording
    set_active_gateway(None)
