"""A call-out through the real path: the API → PostgreSQL → the alert queue → a `flask worker` → SMPP → the
simulator; answers as MO from the simulator; escalation by the worker's own clock (no web request) to a deputy
whose SMS reaches the simulator; the board through the API."""

from __future__ import annotations

from sqlalchemy import text

from campaigns import groups
from tests.campaigns.conftest import received

A, B, C, DEPUTY = "+48601700001", "+48601700002", "+48601700003", "+48601700009"


def _groups(db) -> tuple[int, int]:
    team = groups.create_group(
        db,
        None,
        {
            "name": "ZZK",
            "kind": "team",
            "needed": 2,
            "members": [
                {"name": "Anna", "phone": A, "function": "szef ZZK"},
                {"name": "Bartek", "phone": B, "function": "zastępca szefa", "deputy_phone": DEPUTY},
            ],
        },
    )
    services = groups.create_group(
        db, None, {"name": "PSP", "kind": "services", "members": [{"name": "Bartek", "phone": B}, {"phone": C}]}
    )
    db.commit()
    return team.id, services.id


def test_a_callout_is_answered_and_escalated_through_the_worker_and_the_simulator(api, db, worker, simulator, wait):
    team, services = _groups(db)
    simulator.clear_messages()
    status, callout = api.post(
        "/api/v1/callouts",
        {"group_ids": [team, services], "body": "Powodz: ZZK w CZK o 3:30", "ack": True, "escalate_after_s": 30},
    )
    assert status == 201, callout
    cid = callout["id"]

    def everyone_got_it():
        got = received(simulator)  # fails if anyone got two
        return got if len(got) == 3 else None

    got = wait(everyone_got_it, 60, "the three members' SMS at the simulator")
    assert set(got) == {p.lstrip("+") for p in (A, B, C)}  # Bartek, in both groups, once
    assert all(t == "Powodz: ZZK w CZK o 3:30\nOdpisz 1 = potwierdzam, 2 = nie moge" for t in got.values())

    assert wait(lambda: simulator.inject_mo(A, "4800", "Potwierdzam, jade"), 30, "a bound worker")
    assert wait(lambda: simulator.inject_mo(C, "4800", "nie moge"), 30, "a bound worker")

    def board(predicate):
        def check():
            status, b = api.get(f"/api/v1/callouts/{cid}")
            assert status == 200, b
            return b if predicate(b) else None

        return check

    def states(b):
        return {m["phone"]: m["state"] for m in b["members"]}

    b = wait(board(lambda b: states(b)[A] == "confirmed" and states(b)[C] == "declined"), 60, "the answers")
    anna = next(m for m in b["members"] if m["phone"] == A)
    assert anna["confirmed_at"] is not None and anna["group_id"] == team
    assert {g["id"]: (g["confirmed"], g["needed"]) for g in b["groups"]} == {team: (1, 2), services: (0, 2)}

    # Bartek stays silent: his deadline is moved into the past (the clock reads it from the database).
    db.execute(
        text("UPDATE message SET submitted_at = now() - interval '31 seconds' WHERE phone = :p AND campaign_id = :c"),
        {"p": B, "c": callout["campaign_id"]},
    )
    db.commit()
    simulator.clear_messages()
    deputy_got = wait(lambda: received(simulator).get(DEPUTY.lstrip("+")), 30, "the deputy's SMS")
    assert deputy_got.endswith("Odpisz 1 = potwierdzam, 2 = nie moge")
    b = wait(board(lambda b: DEPUTY in states(b)), 30, "the deputy on the board")
    bartek = next(m for m in b["members"] if m["phone"] == B)
    deputy = next(m for m in b["members"] if m["phone"] == DEPUTY)
    assert (bartek["state"], bartek["escalated_to"]) == ("escalated", DEPUTY)
    assert (deputy["deputy_for"], deputy["depth"], deputy["group_ids"]) == (B, 1, [team, services])

    assert wait(lambda: simulator.inject_mo(DEPUTY, "4800", "TAK"), 30, "a bound worker")
    b = wait(board(lambda b: states(b)[DEPUTY] == "confirmed"), 60, "the deputy's answer")
    assert {g["id"]: g["confirmed"] for g in b["groups"]} == {team: 2, services: 1}
    assert len(received(simulator)) == 1  # the deputy only: no SMS back for recognised answers

    status, closed = api.post(f"/api/v1/callouts/{cid}/close", {})
    assert status == 200 and closed["status"] == "closed"
    assert api.post(f"/api/v1/callouts/{cid}/close", {})[0] == 409
