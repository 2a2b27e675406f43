"""A call-out's record (campaigns.callout_report) and the dashboard's question "which open call-out will not get
its confirmations" (campaigns.callouts.unreachable_open)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from campaigns import callouts, escalation, groups
from campaigns.callout_report import callout_pdf, callout_report

ANNA, JAN, ZOFIA = "+48601900001", "+48601900002", "+48601900009"
# The app: every test starts from its emptied state (tables, and the limiter that only an app has).
pytestmark = pytest.mark.usefixtures("app")


def _team(db, needed: int | None = None) -> int:
    return groups.create_group(
        db,
        None,
        {
            "name": "Sztab",
            "kind": "team",
            "needed": needed,
            "members": [
                {"name": "Anna Nowak", "phone": ANNA, "function": "szefowa", "deputy_phone": ZOFIA},
                {"name": "Jan Kowalski", "phone": JAN},
            ],
        },
    ).id


def _answer(db, phone: str, answer: str, reply: str | None = None) -> None:
    db.execute(
        text("UPDATE callout_member SET answer = :a, answered_at = now(), reply_text = :r WHERE phone = :p"),
        {"a": answer, "p": phone, "r": reply},
    )


def test_the_record_lists_each_person_with_deputies_and_the_timeline(db):
    callout = callouts.create(db, None, {"group_ids": [_team(db)], "body": "Zbiórka w CZK o 4:00."})
    _answer(db, ANNA, "declined", "Nie mogę, jestem w Gdańsku")
    escalation.run_once(db)  # Anna's decline goes to her deputy, Zofia
    _answer(db, JAN, "confirmed", "TAK")
    db.commit()

    report = callout_report(db, callout)
    assert [(r.phone, r.depth) for r in report.rows] == [(ANNA, 0), (ZOFIA, 1), (JAN, 0)]
    steps = dict(report.steps())
    assert steps["sent_at"] == callout.created_at
    assert steps["first_confirmation_at"] == steps["last_confirmation_at"] is not None
    assert steps["first_submit_at"] is None and steps["closed_at"] is None  # no worker: nothing submitted yet

    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(callout_pdf(report))).pages)
    for expected in ("Call-out report", "Zbiórka w CZK o 4:00.", "Odpisz 1", "Anna Nowak", ANNA, ZOFIA, "Jan Kowalski"):
        assert expected in pdf_text, expected
    assert "deputy for Anna Nowak" in pdf_text
    assert "Handed to the deputy " + ZOFIA in pdf_text  # Anna's decline was handed on
    assert "Nie mogę, jestem w Gdańsku" in pdf_text
    assert "First confirmation" in pdf_text


def test_a_long_call_out_runs_over_several_pages(db):
    members = [{"name": f"Strażak {n}", "phone": f"+48601{n:06d}"} for n in range(120)]
    group = groups.create_group(db, None, {"name": "OSP", "kind": "services", "members": members})
    callout = callouts.create(db, None, {"group_ids": [group.id], "body": "Alarm OSP."})
    db.commit()
    reader = PdfReader(io.BytesIO(callout_pdf(callout_report(db, callout))))
    assert len(reader.pages) > 1
    assert "Strażak 119" in reader.pages[-1].extract_text() + reader.pages[-2].extract_text()


def test_an_open_call_out_short_of_its_confirmations_is_listed_until_it_gets_them_or_closes(db):
    team = _team(db, needed=2)
    callout = callouts.create(db, None, {"group_ids": [team], "body": "Zbiórka."})
    db.commit()
    assert callouts.unreachable_open(db) == []
    _answer(db, ANNA, "declined")
    db.execute(text("UPDATE callout_member SET no_answer_at = now() WHERE phone = :p"), {"p": ANNA})
    escalation.run_once(db)  # possible 1 < needed 2: marked
    db.commit()
    [short] = callouts.unreachable_open(db)
    assert (short.callout_id, short.group_id, short.name, short.confirmed, short.needed, short.possible) == (
        callout.id,
        team,
        "Sztab",
        0,
        2,
        1,
    )
    # Anna changes her mind and Jan confirms: the group has what it needs, the banner goes.
    _answer(db, ANNA, "confirmed")
    _answer(db, JAN, "confirmed")
    db.commit()
    assert callouts.unreachable_open(db) == []
    _answer(db, JAN, "declined")
    db.commit()
    assert len(callouts.unreachable_open(db)) == 1
    callouts.close(db, callout, None, now=callout.created_at + timedelta(minutes=1))
    db.commit()
    assert callouts.unreachable_open(db) == []
