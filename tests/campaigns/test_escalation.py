"""The call-outs' clock (campaigns.escalation): deputies for the silent, the declined and the unreachable, up to
three deep and never in a loop, exactly once even with several workers looking at once; the group that cannot
reach its confirmations and the duty officer's SMS; the window's end. In-process here (run_once on the real
database); tests/campaigns/test_callouts_path.py drives the same through a worker and the SMPP simulator."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from campaigns import callouts, escalation, groups
from campaigns.models import Callout, CalloutGroup, CalloutMember, Message
from syrena_core.accounts import User
from syrena_core.db import session_scope, utcnow

# The session worker's clock would escalate these tests' call-outs behind their backs.
pytestmark = pytest.mark.usefixtures("clock_paused")

A, B, C, D, E = (f"+4860140000{i}" for i in range(1, 6))


def _group(db, name, members, needed=None, kind="team"):
    group = groups.create_group(
        db,
        None,
        {
            "name": name,
            "kind": kind,
            "needed": needed,
            "members": [{"name": n, "phone": p, "deputy_phone": d} for n, p, d in members],
        },
    )
    db.commit()
    return group


def _callout(db, group_ids, author=None, **fields) -> Callout:
    callout = callouts.create(
        db, author, {"group_ids": group_ids, "body": "Zbiorka w CZK", "escalate_after_s": 60, **fields}
    )
    db.commit()
    return callout


def _sent(db, callout, ago: float = 61, phones=None) -> None:
    """Their SMS reached the SMSC `ago` seconds back (what the sending job records)."""
    db.execute(
        text("""
        UPDATE message m SET status = 'submitted', submitted_at = now() - make_interval(secs => :ago)
        FROM callout_member c
        WHERE c.callout_id = :callout AND m.id = c.message_id AND m.status = 'queued'
          AND (CAST(:phones AS text[]) IS NULL OR c.phone = ANY(CAST(:phones AS text[])))
        """),
        {"callout": callout.id, "ago": ago, "phones": phones},
    )
    db.commit()


def _tick(db) -> escalation.Tick:
    tick = escalation.run_once(db)
    db.commit()
    return tick


def _rows(db, callout) -> dict[str, CalloutMember]:
    db.expire_all()
    return {m.phone: m for m in db.scalars(select(CalloutMember).where(CalloutMember.callout_id == callout.id))}


def _states(db, callout) -> dict[str, str]:
    db.expire_all()
    return {m["phone"]: m["state"] for m in callouts.callout_json(db, db.get(Callout, callout.id))["members"]}


def test_a_silent_member_is_escalated_to_the_deputy_once_after_the_deadline(db, settings):
    team = _group(db, "ZZK", [("Anna", A, B), ("Celina", C, None)])
    _group(db, "Zastępcy", [("Bartek", B, None)], kind="services")
    callout = _callout(db, [team.id])
    _sent(db, callout, ago=30)
    assert _tick(db).escalated == 0  # not yet
    db.execute(text("UPDATE message SET submitted_at = now() - interval '61 seconds' WHERE phone = :p"), {"p": A})
    db.commit()
    tick = _tick(db)
    assert (tick.escalated, tick.deputies) == (1, 1)
    rows = _rows(db, callout)
    assert (rows[A].escalated_to, rows[B].depth, rows[B].deputy_for_id) == (B, 1, rows[A].id)
    assert rows[B].name == "Bartek" and rows[B].group_ids == [team.id]  # Bartek counts for the ZZK
    deputy_sms = db.get(Message, rows[B].message_id)
    assert (deputy_sms.campaign_id, deputy_sms.status) == (callout.campaign_id, "queued")
    assert _states(db, callout) == {A: "escalated", B: "sent", C: "sent"}
    assert _tick(db).escalated == 0  # exactly once
    assert db.scalar(text("SELECT count(*) FROM message WHERE phone = :p"), {"p": B}) == 1


def test_a_decline_and_a_failed_sms_escalate_at_once(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, B), ("Celina", C, D)])
    callout = _callout(db, [team.id])
    _sent(db, callout, ago=1)
    db.execute(text("UPDATE message SET status = 'failed' WHERE phone = :p"), {"p": C})
    db.commit()
    from tests.campaigns.test_callouts import _handle

    _handle(db, (A, "nie"))
    tick = _tick(db)
    assert tick.deputies == 2
    rows = _rows(db, callout)
    assert (rows[A].escalated_to, rows[C].escalated_to) == (B, D)
    assert _states(db, callout)[A] == "declined"  # the answer shows; the deputy is named beside it


def test_deputies_go_three_deep_then_no_answer(db, settings):
    team = _group(db, "ZZK", [("Anna", A, B)])
    _group(db, "Łańcuch", [("B", B, C), ("C", C, D), ("D", D, E)], kind="services")
    callout = _callout(db, [team.id])
    for depth, phone in enumerate([A, B, C, D]):
        _sent(db, callout, ago=61)
        tick = _tick(db)
        rows = _rows(db, callout)
        if depth < 3:
            assert rows[phone].escalated_to == [B, C, D][depth]
        else:
            assert tick.given_up == 1 and rows[D].no_answer_at is not None and E not in rows
    assert max(r.depth for r in _rows(db, callout).values()) == 3
    assert _states(db, callout) == {A: "escalated", B: "escalated", C: "escalated", D: "no_answer"}


def test_a_deputy_loop_made_after_the_groups_were_saved_ends_in_no_answer(db, settings):
    team = _group(db, "ZZK", [("Anna", A, B)])
    _group(db, "Zastępcy", [("Bartek", B, None)], kind="services")
    # A → B → A: the group page refuses it, but a later edit of another group (or the database) can make one.
    db.execute(text("UPDATE contact_group_member SET deputy_phone = :a WHERE phone = :b"), {"a": A, "b": B})
    db.commit()
    callout = _callout(db, [team.id])
    _sent(db, callout)
    _tick(db)
    _sent(db, callout)
    tick = _tick(db)
    rows = _rows(db, callout)
    assert rows[A].escalated_to == B and tick.given_up == 1 and rows[B].no_answer_at is not None
    assert db.scalar(text("SELECT count(*) FROM message WHERE phone = :a"), {"a": A}) == 1


def test_a_deputy_already_called_out_is_named_not_messaged_again(db, settings):
    team = _group(db, "ZZK", [("Anna", A, B), ("Bartek", B, None)])
    callout = _callout(db, [team.id])
    _sent(db, callout, phones=[A])
    _tick(db)
    rows = _rows(db, callout)
    assert rows[A].escalated_to == B and rows[B].depth == 0
    assert db.scalar(text("SELECT count(*) FROM message WHERE phone = :p"), {"p": B}) == 1


def test_two_clocks_at_once_escalate_each_member_once(db, settings):
    members = [(f"M{i}", f"+486015000{i:02d}", f"+486016000{i:02d}") for i in range(40)]
    team = _group(db, "ZZK", members)
    callout = _callout(db, [team.id])
    _sent(db, callout)
    barrier = threading.Barrier(3)
    results: list[escalation.Tick] = []

    def look():
        with session_scope(settings.database.url) as session:
            barrier.wait()
            results.append(escalation.run_once(session))
            session.commit()

    threads = [threading.Thread(target=look) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r.deputies for r in results) == 40
    assert db.scalar(text("SELECT count(*) FROM callout_member WHERE depth = 1")) == 40
    assert db.scalar(text("SELECT count(DISTINCT phone) FROM message")) == 80


def test_a_clock_that_dies_before_its_commit_leaves_the_step_to_the_next_one(db, settings):
    team = _group(db, "ZZK", [("Anna", A, B)])
    callout = _callout(db, [team.id])
    _sent(db, callout)
    assert escalation.run_once(db).deputies == 1
    db.rollback()  # the worker was killed before its commit: nothing of the step remains
    assert _rows(db, callout)[A].escalated_at is None
    assert _tick(db).deputies == 1  # the next look (any worker's) does it, once
    assert _tick(db).deputies == 0
    assert db.scalar(text("SELECT count(*) FROM message WHERE phone = :p"), {"p": B}) == 1


def _officer(db, phone="+48601499999") -> User:
    user = User(email="dyzurny@poznan.pl", password_hash="x", role="operator", phone=phone)
    db.add(user)
    db.commit()
    return user


def test_a_group_that_cannot_reach_its_needed_is_marked_once_and_the_officer_texted(db, settings, callout_gateway):
    officer = _officer(db)
    team = _group(db, "ZZK", [("Anna", A, None), ("Bartek", B, None), ("Celina", C, None)], needed=2)
    callout = _callout(db, [team.id], author=officer)
    from tests.campaigns.test_callouts import _handle

    _handle(db, (A, "1"))
    assert _tick(db).unreachable == []
    _handle(db, (B, "2"))  # no deputy: 1 confirmed + 1 possible = 2, still reachable
    assert _tick(db).unreachable == []
    _handle(db, (C, "NIE"))
    tick = _tick(db)
    assert tick.unreachable == [(callout.id, team.id)]
    assert _tick(db).unreachable == []  # once
    board = callouts.callout_json(db, db.get(Callout, callout.id))
    assert board["unreachable"] and board["groups"][0]["unreachable"]
    assert escalation.tell_officer(callout.id, team.id) == "sent"
    assert escalation.tell_officer(callout.id, team.id) == "taken or sent before"
    (_phone, body), *_ = [s for s in callout_gateway.sent if s[0] == officer.phone]
    assert "wezwanie nr" in body and "ZZK" in body and "1 z 2" in body
    assert db.scalar(text("SELECT kind FROM cost_entry WHERE phone = :p"), {"p": officer.phone}) == "internal"
    db.expire_all()
    assert db.get(CalloutGroup, (callout.id, team.id)).officer_sms == "sent"


def test_an_officer_without_a_phone_sees_the_banner_only(db, settings, callout_gateway):
    officer = _officer(db, phone=None)
    team = _group(db, "ZZK", [("Anna", A, None)])
    callout = _callout(db, [team.id], author=officer)
    from tests.campaigns.test_callouts import _handle

    _handle(db, (A, "2"))
    assert _tick(db).unreachable == [(callout.id, team.id)]
    assert escalation.tell_officer(callout.id, team.id) == "no_phone"
    assert callout_gateway.sent == []


def test_the_window_end_closes_the_callout_and_the_silent_have_no_answer(db, settings):
    team = _group(db, "ZZK", [("Anna", A, B)])
    callout = _callout(db, [team.id])
    db.execute(
        text("UPDATE callout SET replies_until = :t WHERE id = :i"),
        {"t": utcnow() - timedelta(seconds=1), "i": callout.id},
    )
    db.commit()
    _sent(db, callout)
    tick = _tick(db)
    assert (tick.closed, tick.escalated) == (1, 0)
    db.expire_all()
    assert db.get(Callout, callout.id).status == "closed"
    assert _states(db, callout) == {A: "no_answer"}


def test_a_call_out_without_acknowledgement_ends_without_anyone_marked_silent(db, settings):
    media = _group(db, "Media", [("Radio", A, B)], kind="media")
    callout = _callout(db, [media.id], ack=False)
    _sent(db, callout)
    ended = utcnow() - timedelta(seconds=1)
    db.execute(text("UPDATE callout SET replies_until = :t WHERE id = :i"), {"t": ended, "i": callout.id})
    db.commit()
    tick = _tick(db)
    assert (tick.closed, tick.escalated, tick.unreachable) == (1, 0, [])
    assert _states(db, callout) == {A: "sent"}  # asked nothing: not "no answer", never escalated
