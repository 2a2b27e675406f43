"""Call-outs (campaigns.callouts): the request and its refusals, the SMS each person gets (once), answers by SMS
through the MO batch handler, resend to the silent, close, and the board's states and counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from campaigns import callouts, groups
from campaigns.exceptions import CalloutStateError, InvalidCallout
from campaigns.models import Callout, CalloutMember, Campaign, Message
from smsc_gateway.models import InboundMessage
from subscribers.jobs import handle_inbound_batch
from subscribers.models import Subscriber
from syrena_core.db import utcnow

A, B, C, D, E = "+48601300001", "+48601300002", "+48601300003", "+48601300004", "+48601300005"


def _group(db, name, members, kind="team", needed=None):
    group = groups.create_group(
        db,
        None,
        {
            "name": name,
            "kind": kind,
            "needed": needed,
            "members": [{"name": n, "phone": p, "function": "dyżurny", "deputy_phone": d} for n, p, d in members],
        },
    )
    db.commit()
    return group


def _callout(db, group_ids, **fields):
    callout = callouts.create(db, None, {"group_ids": group_ids, "body": "Powódź: zbiórka w CZK o 3:30", **fields})
    db.commit()
    return callout


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1", "confirmed"),
        (" 1.", "confirmed"),
        ("OK", "confirmed"),
        ("ok, jadę", "confirmed"),
        ("Tak", "confirmed"),
        ("TAK będę za 20 min", "confirmed"),
        ("potwierdzam", "confirmed"),
        ("POTWIERDZAM!", "confirmed"),
        ("potwierdam", "confirmed"),  # one letter dropped
        ("Jestem", "confirmed"),
        ("jsetem", "confirmed"),  # two letters swapped
        ("так", "confirmed"),
        ("2", "declined"),
        ("NIE", "declined"),
        ("nie mogę, jestem w Gdańsku", "declined"),
        ("Nie moge", "declined"),
        ("ні", "declined"),
        ("12", None),
        ("3", None),
        ("", None),
        ("   ", None),
        ("gdzie zbiórka?", None),
        ("😀", None),
        ("tok", None),  # a short word must match exactly
    ],
)
def test_answers_are_recognised_with_case_diacritics_and_a_typo(reply, expected):
    assert callouts.recognise(reply) == expected


def test_the_reply_instruction_keeps_a_gsm_text_gsm_and_a_ucs2_text_polish():
    assert callouts.sms_text("Zbiorka w CZK", True) == "Zbiorka w CZK\nOdpisz 1 = potwierdzam, 2 = nie moge"
    assert callouts.sms_text("Zbiórka w CZK", True).endswith("2 = nie mogę")
    assert callouts.sms_text("Zbiorka w CZK", False) == "Zbiorka w CZK"


def test_a_callout_messages_each_person_once_at_alert_priority(db, settings):
    team = _group(db, "ZZK", [("Anna", A, None), ("Bartek", B, None)], needed=1)
    services = _group(db, "Służby", [("Bartek", B, None), ("Celina", C, None)], kind="services")
    callout = _callout(db, [team.id, services.id])
    messages = db.scalars(select(Message).where(Message.campaign_id == callout.campaign_id)).all()
    assert sorted(m.phone for m in messages) == [A, B, C]  # Bartek is in both groups: one SMS
    carrier = db.get(Campaign, callout.campaign_id)
    assert carrier.kind == "callout" and carrier.status == "sending"
    assert carrier.body.endswith("Odpisz 1 = potwierdzam, 2 = nie mogę")  # "Powódź" makes it UCS-2 anyway
    board = callouts.callout_json(db, callout)
    assert [(m["name"], m["state"]) for m in board["members"]] == [
        ("Anna", "sent"),
        ("Bartek", "sent"),
        ("Celina", "sent"),
    ]
    assert next(m for m in board["members"] if m["phone"] == B)["group_ids"] == [team.id, services.id]
    assert [(g["id"], g["confirmed"], g["needed"]) for g in board["groups"]] == [(team.id, 0, 1), (services.id, 0, 2)]
    assert board["replies_until"] is not None and board["status"] == "open"
    from campaigns.dispatch import queue_name_for

    assert queue_name_for(carrier.kind) == "alerts"


def test_the_carrier_is_not_a_campaign_anyone_lists_or_composes(db, settings):
    from campaigns import service
    from campaigns.exceptions import InvalidCampaign

    team = _group(db, "ZZK", [("Anna", A, None)])
    callout = _callout(db, [team.id])
    assert callout.campaign_id not in [c.id for c in service.list_campaigns(db)]
    with pytest.raises(InvalidCampaign, match="kind"):
        service.create_campaign(db, None, "callout", "severe", "x", [])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"group_ids": []}, "group_ids"),
        ({"group_ids": "1"}, "group_ids"),
        ({"group_ids": [999999]}, "no group with id 999999"),
        ({"body": ""}, "body"),
        ({"body": "x" * 601}, "at most 600"),
        ({"escalate_after_s": 29}, "escalate_after_s"),
        ({"escalate_after_s": 86401}, "escalate_after_s"),
        ({"escalate_after_s": "300"}, "escalate_after_s"),
        ({"reply_minutes": 0}, "reply_minutes"),
        ({"ack": "yes"}, "ack"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_bad_requests_are_refused_naming_the_problem_and_send_nothing(db, settings, fields, message):
    team = _group(db, "ZZK", [("Anna", A, None)])
    data = {"group_ids": [team.id], "body": "Zbiórka", **fields}
    with pytest.raises(InvalidCallout, match=message):
        callouts.create(db, None, data)
    db.rollback()
    assert db.scalar(select(Callout.id)) is None
    assert db.scalar(text("SELECT count(*) FROM message")) == 0


def test_a_deleted_group_is_refused(db, settings):
    team = _group(db, "ZZK", [("Anna", A, None)])
    groups.delete_group(db, team, None)
    db.commit()
    with pytest.raises(InvalidCallout, match="deleted"):
        callouts.create(db, None, {"group_ids": [team.id], "body": "Zbiórka"})


# ------------------------------------------------------------------ answers by SMS (the MO batch handler)


def _mo(db, phone: str, body: str) -> int:
    row = InboundMessage(source_addr=phone.lstrip("+"), destination_addr="4800", text=body, data_coding=0)
    db.add(row)
    db.commit()
    return row.id


def _handle(db, *messages):
    return handle_inbound_batch([_mo(db, phone, body) for phone, body in messages], take_ahead=0)


def _member(db, callout, phone) -> CalloutMember:
    db.expire_all()
    return db.scalar(select(CalloutMember).where(CalloutMember.callout_id == callout.id, CalloutMember.phone == phone))


def test_answers_by_sms_are_recorded_with_the_time_and_counted(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None), ("Bartek", B, None), ("Celina", C, None)], needed=2)
    callout = _callout(db, [team.id])
    replies = _handle(db, (A, "Tak, jadę"), (B, "nie mogę"))
    assert replies == {}  # a recognised answer gets no SMS back
    assert _member(db, callout, A).answer == "confirmed" and _member(db, callout, A).answered_at is not None
    assert _member(db, callout, B).answer == "declined"
    board = callouts.callout_json(db, callout)
    states = {m["phone"]: m["state"] for m in board["members"]}
    assert states == {A: "confirmed", B: "declined", C: "sent"}
    assert board["groups"][0]["confirmed"] == 1 and board["groups"][0]["possible"] == 2
    assert next(m for m in board["members"] if m["phone"] == A)["confirmed_at"] is not None


def test_an_unrecognised_reply_is_kept_and_answered_with_the_instruction_once(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None)])
    callout = _callout(db, [team.id])
    first = _handle(db, (A, "gdzie jest zbiórka?"))
    assert list(first.values()) == ["Odpisz 1 = potwierdzam, 2 = nie moge"]
    assert _handle(db, (A, "halo?")) == {}  # told once
    member = _member(db, callout, A)
    assert member.answer is None and member.reply_text == "halo?"
    _handle(db, (A, "1"))
    assert _member(db, callout, A).answer == "confirmed"


def test_a_phone_in_no_open_callout_falls_through_to_the_keywords(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None)])
    callout = _callout(db, [team.id])
    callouts.close(db, callout, None)
    db.commit()
    replies = _handle(db, (A, "TAK"), (D, "POMOC"))
    assert len(replies) == 2  # both answered as residents' SMS (an unknown word, the help text)
    assert _member(db, callout, A).answer is None and _member(db, callout, A).reply_text is None


def test_a_phone_in_two_open_callouts_answers_the_one_that_messaged_it_last(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None)])
    first = _callout(db, [team.id])
    second = _callout(db, [team.id])
    _handle(db, (A, "1"))
    assert _member(db, second, A).answer == "confirmed"
    assert _member(db, first, A).answer is None


def test_a_callout_without_acknowledgement_takes_no_answers(db, settings, callout_gateway):
    team = _group(db, "Media", [("Radio", A, None)], kind="media")
    callout = _callout(db, [team.id], ack=False)
    assert not db.get(Campaign, callout.campaign_id).body.endswith("nie mogę")
    _handle(db, (A, "1"))
    assert _member(db, callout, A).answer is None


def test_stop_from_a_member_who_is_also_a_resident_still_unsubscribes(db, settings, callout_gateway):
    db.add(Subscriber(phone=A, language="pl", status="active", source="import"))
    db.commit()
    team = _group(db, "ZZK", [("Anna", A, None)])
    callout = _callout(db, [team.id])
    _handle(db, (A, "STOP"))
    db.expire_all()
    assert db.scalar(select(Subscriber.status).where(Subscriber.phone == A)) != "active"
    assert _member(db, callout, A).answer is None and _member(db, callout, A).reply_text is None
    _handle(db, (A, "1"))
    assert _member(db, callout, A).answer == "confirmed"


# ------------------------------------------------------------------ resend, close


def test_resend_goes_to_the_silent_only_as_a_new_round(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None), ("Bartek", B, None)])
    callout = _callout(db, [team.id])
    db.execute(
        text("UPDATE message SET status = 'delivered', submitted_at = now() WHERE campaign_id = :c"),
        {"c": callout.campaign_id},
    )
    db.execute(text("UPDATE campaign SET status = 'completed' WHERE id = :c"), {"c": callout.campaign_id})
    db.commit()
    _handle(db, (A, "1"))
    callout = db.get(Callout, callout.id)
    ids = callouts.resend_silent(db, callout, None)
    db.commit()
    again = db.scalars(select(Message).where(Message.id.in_(ids))).all()
    assert [(m.phone, m.status, m.send_round) for m in again] == [(B, "queued", 1)]
    assert db.get(Campaign, callout.campaign_id).status == "sending"  # the carrier goes on sending
    with pytest.raises(CalloutStateError, match="nobody"):
        callouts.resend_silent(db, callout, None)


def test_closing_makes_the_silent_no_answer_and_ends_answers(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None), ("Bartek", B, None)])
    callout = _callout(db, [team.id])
    _handle(db, (A, "1"))
    callout = db.get(Callout, callout.id)
    callouts.close(db, callout, None)
    db.commit()
    states = {m["phone"]: m["state"] for m in callouts.callout_json(db, callout)["members"]}
    assert states == {A: "confirmed", B: "no_answer"}
    with pytest.raises(CalloutStateError):
        callouts.close(db, callout, None)
    with pytest.raises(CalloutStateError):
        callouts.resend_silent(db, callout, None)


def test_the_window_is_the_reply_minutes_from_the_send(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None)])
    callout = _callout(db, [team.id], reply_minutes=5)
    assert callout.replies_until - callout.created_at == timedelta(minutes=5)
    db.execute(
        text("UPDATE callout SET replies_until = :t WHERE id = :i"),
        {"t": utcnow() - timedelta(seconds=1), "i": callout.id},
    )
    db.commit()
    _handle(db, (A, "1"))
    assert _member(db, callout, A).answer is None


def test_the_timeline_and_when_each_group_reached_its_needed(db, settings, callout_gateway):
    team = _group(db, "ZZK", [("Anna", A, None), ("Bartek", B, None), ("Celina", C, None)], needed=2)
    callout = _callout(db, [team.id])
    db.execute(
        text("UPDATE message SET status = 'submitted', submitted_at = now() WHERE campaign_id = :c"),
        {"c": callout.campaign_id},
    )
    db.commit()
    _handle(db, (A, "1"))
    board = callouts.callout_json(db, db.get(Callout, callout.id))
    assert board["groups"][0]["needed_at"] is None
    assert board["timeline"]["first_submit_at"] is not None
    assert board["timeline"]["first_confirmation_at"] == board["timeline"]["last_confirmation_at"]
    _handle(db, (C, "jestem"))
    db.expire_all()
    board = callouts.callout_json(db, db.get(Callout, callout.id))
    assert board["groups"][0]["needed_at"] == board["timeline"]["last_confirmation_at"] is not None
    assert board["timeline"]["first_confirmation_at"] < board["timeline"]["last_confirmation_at"]
