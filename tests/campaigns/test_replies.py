"""Replies to a campaign's question (issue 15): what a reply means, which campaign it answers, what is stored
and what the resident is told — recognition alone, the MO batch handler in-process against a recording
gateway, and the real path (simulator MO → `flask worker` → confirmation SMS back at the simulator)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from campaigns.models import CampaignReply, CampaignRespondent
from campaigns.replies import confirmation_text, prompt_text, recognise
from smsc_gateway.interface import SendResult, set_active_gateway
from smsc_gateway.models import InboundMessage
from subscribers.jobs import handle_inbound_batch
from subscribers.models import Subscriber
from syrena_core.db import utcnow
from tests.factories import IN_A, SAFE_OR_HELP, ZONE_A, create_subscriber, create_zone

QUESTION = SAFE_OR_HELP
THREE = {
    "answers": [
        {"key": "1", "label": {"pl": "jestem w domu"}},
        {"key": "2", "label": {"pl": "jestem w pracy"}},
        {"key": "3", "label": {"pl": "wyjechałem z miasta"}},
    ],
    "reply_minutes": 60,
}
NO_HELP = {
    "answers": [{"key": "1", "label": {"pl": "tak"}}, {"key": "2", "label": {"pl": "nie"}}],
    "reply_minutes": 60,
}


# ------------------------------------------------------------------ recognition


@pytest.mark.parametrize(
    ("reply", "languages", "expected"),
    [
        # the examples
        ("1", ["pl"], "1"),
        ("1 ok", ["pl"], "1"),
        ("bezpieczny", ["pl"], "1"),
        ("POMOC 2", ["pl"], "2"),
        ("potrzebuje pomocy", ["pl"], "2"),
        # the digit with punctuation or words around it
        ("2)", ["pl"], "2"),
        ("nr 2", ["pl"], "2"),
        ("  1.  ", ["pl"], "1"),
        ("1, wszystko dobrze", ["pl"], "1"),
        # case, diacritics, one slip of the thumb
        ("BEZPIECZNY", ["pl"], "1"),
        ("Potrzebuję pomocy!!", ["pl"], "2"),
        ("bezpeiczny", ["pl"], "1"),  # two letters swapped
        ("bezpiecny", ["pl"], "1"),  # one dropped
        ("potrzebuje pomcy", ["pl"], "2"),
        ("jestem bezpieczna", ["pl"], "1"),
        # the label or a word of its own in another of the phone's languages
        ("I am safe", ["pl", "en"], "1"),
        ("safe", ["en"], "1"),
        ("need help", ["en", "pl"], "2"),
        ("я в безпеці", ["uk"], "1"),
        ("потрібна допомога", ["uk", "pl"], "2"),
        ("ДОПОМОГА", ["uk"], "2"),
        ("потрибна", ["uk"], "2"),  # і typed as и (a Russian keyboard)
        ("bezpieczny", ["uk", "pl"], "1"),
        # not in the phone's languages: not recognised
        ("safe", ["pl"], None),
        ("допомога", ["pl", "en"], None),
        # no answer, or equally close to two
        ("1 albo 2", ["pl"], None),
        ("7", ["pl"], None),
        ("12", ["pl"], None),
        ("co się dzieje?", ["pl"], None),
        ("", ["pl"], None),
        ("   ", ["pl"], None),
        ("😀😀😀", ["pl"], None),
        ("ok", ["pl"], None),
    ],
)
def test_recognition(reply, languages, expected):
    assert recognise(QUESTION, reply, languages) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("jestem", None),  # shared by two answers: says nothing
        ("jestem w domu", "1"),
        ("w pracy", "2"),
        ("praca", "2"),  # one letter from "pracy"
        ("pracowalem", None),  # further
        ("wyjechalem", "3"),
        ("wyjechałam", "3"),
        ("3 wyjechalem", "3"),
        ("domu czy pracy", None),  # one word for each of two answers
    ],
)
def test_words_shared_by_answers_tell_nothing_and_a_tie_is_no_answer(reply, expected):
    assert recognise(THREE, reply, ["pl"]) == expected


def test_a_long_text_is_read_only_from_its_start():
    assert recognise(QUESTION, "1 " + "x" * 2000, ["pl"]) == "1"
    assert recognise(QUESTION, "x" * 2000 + " 2", ["pl"]) is None


def test_confirmations_are_short_in_the_phones_language_and_gsm7_for_latin_languages():
    pl = confirmation_text(QUESTION, "2", "pl")
    assert pl.startswith("Syrena:") and "2 - potrzebuje pomocy" in pl and "112" in pl
    assert pl.isascii() and len(pl) <= 160
    assert confirmation_text(QUESTION, "1", "en") == "Syrena: thank you, answer 1 - I am safe - recorded."
    uk = confirmation_text(QUESTION, "1", "uk")
    assert "я в безпеці" in uk and len(uk) <= 70
    assert "112" not in confirmation_text(QUESTION, "1", "pl")
    listed = prompt_text(QUESTION, "pl")
    assert "1 - jestem bezpieczny, 2 - potrzebuje pomocy" in listed and listed.isascii()
    assert "потрібна допомога" in prompt_text(QUESTION, "uk")
    assert "jestem bezpieczny" in confirmation_text(QUESTION, "1", "de")  # an unknown language: Polish


# ------------------------------------------------------------------ the MO batch handler, in-process


class RecordingGateway:
    """Accepts every SMS and remembers it (the worker's SMPP session stands here in-process)."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send(self, batch):
        self.sent += [(m.destination, m.text) for m in batch]
        return [
            SendResult(m.ref, True, [f"id-{len(self.sent)}-{m.ref}"], 1, "gsm7" if m.text.isascii() else "ucs2")
            for m in batch
        ]

    def to(self, phone: str) -> list[str]:
        return [t for p, t in self.sent if p == phone]


@pytest.fixture
def gateway():
    recording = RecordingGateway()
    set_active_gateway(recording)
    yield recording
    set_active_gateway(None)


P1, P2, P3, UK, STRANGER = "+48601100001", "+48601100002", "+48601100003", "+48601100004", "+48601100009"

# A campaign that was sent `ago` minutes back with its question open for `minutes`, and a submitted message to
# each phone (what campaigns.service and the delivery leave behind; replies_until as the questions helper
# sets it at sending: sent_at + reply_minutes).
_CAMPAIGN = text(
    """
    INSERT INTO campaign (kind, severity, body, status, created_at, sent_at, question, replies_until)
    VALUES ('alert', 'severe', 'Powódź', :status, now(), now() - make_interval(mins => :ago), CAST(:q AS jsonb),
            now() - make_interval(mins => :ago) + make_interval(mins => :minutes))
    RETURNING id
    """
)
_MESSAGE = text(
    """
    INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, submitted_at, language)
    SELECT :c, s.id, s.phone, :status, 1, now(), CASE WHEN :status <> 'queued' THEN now() END, :language
    FROM subscriber s WHERE s.phone = :phone
    """
)


def _subscriber(db, phone: str, language: str = "pl") -> None:
    db.add(Subscriber(phone=phone, language=language, status="active", source="import"))
    db.commit()


def _campaign(
    db, phones, question=QUESTION, ago=10, minutes=720, status="completed", message_status="delivered"
) -> int:
    q = json.dumps(question) if question is not None else None
    cid = db.execute(_CAMPAIGN, {"status": status, "ago": ago, "minutes": minutes, "q": q}).scalar()
    for phone in phones:
        language = db.scalar(select(Subscriber.language).where(Subscriber.phone == phone))
        db.execute(
            _MESSAGE,
            {"c": cid, "phone": phone, "status": message_status, "language": None if language == "pl" else language},
        )
    db.commit()
    return cid


def _mo(db, phone: str, body: str, data_coding: int = 0) -> int:
    row = InboundMessage(source_addr=phone.lstrip("+"), destination_addr="4800", text=body, data_coding=data_coding)
    db.add(row)
    db.commit()
    return row.id


def _handle(db, *messages: tuple[str, str]) -> dict[int, str]:
    """The MO stored, then handled as one batch (as the worker's job does)."""
    return handle_inbound_batch([_mo(db, phone, body) for phone, body in messages], take_ahead=0)


def _replies(db, phone=None) -> list[CampaignReply]:
    db.expire_all()
    query = select(CampaignReply).order_by(CampaignReply.id)
    return db.scalars(query.where(CampaignReply.phone == phone) if phone else query).all()


def _respondent(db, campaign_id: int, phone: str) -> CampaignRespondent | None:
    db.expire_all()
    return db.get(CampaignRespondent, (campaign_id, phone))


def _transactional_charges(db) -> int:
    return db.scalar(text("SELECT count(*) FROM cost_entry WHERE kind = 'transactional'"))


def test_a_recognised_reply_is_stored_confirmed_once_and_charged(db, settings, gateway):
    for phone in (P1, P2):
        _subscriber(db, phone)
    cid = _campaign(db, [P1, P2])
    _handle(db, (P1, "1 ok"), (P2, "potrzebuje pomcy"))

    assert [(r.campaign_id, r.phone, r.answer, r.text) for r in _replies(db)] == [
        (cid, P1, "1", "1 ok"),
        (cid, P2, "2", "potrzebuje pomcy"),
    ]
    assert _respondent(db, cid, P1).answer == "1" and _respondent(db, cid, P2).answer == "2"
    assert gateway.to(P1) == ["Syrena: dziekujemy, zapisano odpowiedz 1 - jestem bezpieczny."]
    assert "potrzebuje pomocy" in gateway.to(P2)[0] and "112" in gateway.to(P2)[0]
    assert _transactional_charges(db) == 2


def test_the_latest_recognised_answer_wins_and_every_reply_is_kept(db, settings, gateway):
    _subscriber(db, P1)
    cid = _campaign(db, [P1])
    _handle(db, (P1, "1"))
    _handle(db, (P1, "POMOC 2"))
    _handle(db, (P1, "dziekuje"))  # free text after an answer: kept, the answer stays, no list sent
    respondent = _respondent(db, cid, P1)
    assert (respondent.answer, respondent.replies, respondent.last_text) == ("2", 3, "dziekuje")
    assert respondent.prompted_at is None
    assert [r.answer for r in _replies(db)] == ["1", "2", None]
    assert len(gateway.to(P1)) == 2


def test_several_replies_of_one_phone_in_one_batch(db, settings, gateway):
    _subscriber(db, P1)
    cid = _campaign(db, [P1])
    _handle(db, (P1, "hmm?"), (P1, "bezpieczny"))
    respondent = _respondent(db, cid, P1)
    assert (respondent.answer, respondent.replies) == ("1", 2)
    assert len(_replies(db)) == 2
    assert len(gateway.to(P1)) == 1 and "jestem bezpieczny" in gateway.to(P1)[0]


def test_an_unrecognised_reply_gets_the_list_once_then_is_free_text(db, settings, gateway):
    _subscriber(db, P1)
    cid = _campaign(db, [P1])
    _handle(db, (P1, "co mam zrobic?"))
    _handle(db, (P1, "halo"))
    _handle(db, (P1, "???"))
    assert [r.answer for r in _replies(db)] == [None, None, None]
    respondent = _respondent(db, cid, P1)
    assert respondent.answer is None and respondent.prompted_at is not None and respondent.replies == 3
    assert gateway.to(P1) == [
        "Syrena: nie rozpoznano odpowiedzi. Odpowiedz 1 - jestem bezpieczny, 2 - potrzebuje pomocy."
    ]
    _handle(db, (P1, "2"))  # the answer after the list: confirmed
    assert _respondent(db, cid, P1).answer == "2" and len(gateway.to(P1)) == 2
    assert _transactional_charges(db) == 2


def test_stop_in_a_window_unsubscribes_and_is_no_reply(db, settings, gateway):
    _subscriber(db, P1)
    _campaign(db, [P1])
    _handle(db, (P1, "STOP"))
    assert _replies(db) == []
    assert db.scalar(select(Subscriber.status).where(Subscriber.phone == P1)) != "active"
    assert len(gateway.to(P1)) == 1 and "wypisano" in gateway.to(P1)[0].lower()


def test_pomoc_alone_is_the_needs_help_answer_only_when_the_question_has_one(db, settings, gateway):
    _subscriber(db, P1)
    _subscriber(db, P2)
    with_help = _campaign(db, [P1])
    _campaign(db, [P2], question=NO_HELP)
    _handle(db, (P1, "POMOC"), (P2, "pomoc"))
    _handle(db, (P2, "POMOC co robic"))  # with words that are no answer: the help text too
    assert [(r.campaign_id, r.phone, r.answer) for r in _replies(db)] == [(with_help, P1, "2")]
    assert "potrzebuje pomocy" in gateway.to(P1)[0]
    assert len(gateway.to(P2)) == 2
    assert all(t.startswith("Syrena - alerty SMS miasta") for t in gateway.to(P2))  # as without a question


def test_other_keywords_in_a_window_stay_keywords(db, settings, gateway):
    _subscriber(db, P1)
    _campaign(db, [P1])
    _handle(db, (P1, "DANE"))
    _handle(db, (P1, "ZAPISZ WILDA 2"))  # a digit of an answer, yet a keyword first
    assert _replies(db) == []
    said = gateway.to(P1)
    assert len(said) == 2 and "subskrypcja aktywna" in said[0] and "ZAPISZ" in said[1]  # the subscribe path


def test_a_ukrainian_phone_is_answered_in_ukrainian(db, settings, gateway):
    _subscriber(db, UK, "uk")
    cid = _campaign(db, [UK])
    _handle(db, (UK, "потрібна допомога"))
    assert _respondent(db, cid, UK).answer == "2"
    assert gateway.to(UK) == [
        "Syrena: дякуємо, записано відповідь 2 - потрібна допомога. У разі загрози життю дзвоніть 112."
    ]
    _handle(db, (UK, "bezpieczny"))  # the Polish label too: the body every phone may also read
    assert _respondent(db, cid, UK).answer == "1"


def test_the_most_recent_open_question_takes_the_reply(db, settings, gateway):
    _subscriber(db, P1)
    _campaign(db, [P1], ago=60)
    recent = _campaign(db, [P1], question=THREE, ago=5)
    _handle(db, (P1, "3"))
    assert [(r.campaign_id, r.answer) for r in _replies(db)] == [(recent, "3")]


@pytest.mark.parametrize(
    "case",
    ["a campaign without a question", "after the window", "cancelled", "message never sent"],
)
def test_sms_not_tied_to_a_question_are_keyword_sms_as_before(db, settings, gateway, case):
    _subscriber(db, P1)
    if case == "after the window":
        _campaign(db, [P1], ago=120, minutes=60)
    elif case == "cancelled":
        _campaign(db, [P1], status="cancelled")
    elif case == "message never sent":
        _campaign(db, [P1], message_status="queued")
    else:
        _campaign(db, [P1], question=None)
    _handle(db, (P1, "1"))
    assert _replies(db) == []
    assert len(gateway.to(P1)) == 1  # the keyword path's one reply, as before issue 15


def test_a_stranger_gets_the_keyword_reply_and_nothing_is_tied(db, settings, gateway):
    _subscriber(db, P1)
    _campaign(db, [P1])
    _handle(db, (STRANGER, "1"))
    assert _replies(db) == [] and len(gateway.to(STRANGER)) == 1


def test_bad_input_in_a_window_is_free_text_with_one_reply_at_most(db, settings, gateway):
    phones = {"empty": P1, "long": P2, "emoji": P3}
    for phone in phones.values():
        _subscriber(db, phone)
    cid = _campaign(db, list(phones.values()))
    long_text = "Woda wdziera sie do piwnicy " * 80  # ~2,000 characters, no answer at its start
    binary = _mo(db, P1, "\x01\x02\x03", data_coding=0x04)
    ids = [binary, _mo(db, P1, ""), _mo(db, P2, long_text[:2000]), _mo(db, P3, "😀🙏😀")]
    handle_inbound_batch(ids, take_ahead=0)
    handle_inbound_batch(ids, take_ahead=0)  # redelivered: nothing new
    stored = {r.phone: r for r in _replies(db)}
    assert set(stored) == set(phones.values())  # the binary one ignored
    assert stored[P1].text == "" and len(stored[P2].text) == 2000 and stored[P3].text == "😀🙏😀"
    assert all(r.answer is None for r in stored.values())
    for phone in phones.values():
        assert len(gateway.to(phone)) == 1 and "Odpowiedz 1 - jestem bezpieczny" in gateway.to(phone)[0]
        assert _respondent(db, cid, phone).replies == 1
    db.expire_all()
    assert db.get(InboundMessage, binary).reply is None


def test_a_reply_is_stored_once_per_inbound_sms(db, settings, gateway):
    from campaigns.replies import take_question_replies
    from subscribers.keywords import parse_command

    _subscriber(db, P1)
    cid = _campaign(db, [P1])
    row = db.get(InboundMessage, _mo(db, P1, "1"))
    for _ in range(2):  # the same SMS twice (a batch retried after its commit was lost)
        taken, rest = take_question_replies(db, [(row, P1, parse_command(row.text))], utcnow())
        db.commit()
    assert rest == [] and taken == []  # the second time: stored before, nothing to say
    assert len(_replies(db)) == 1 and _respondent(db, cid, P1).replies == 1


# ------------------------------------------------------------------ the real path


def test_replies_through_the_simulator_are_stored_confirmed_and_charged(api, db, worker, simulator, wait):
    zone = create_zone(api, "Wilda", ZONE_A)
    phones = ["+48601200001", "+48601200002", "+48601200003"]
    for phone in phones:
        create_subscriber(api, phone, IN_A)
    status, campaign = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": "Powodz: czy jestes bezpieczny?", "zone_ids": [zone]},
    )
    assert status == 201, campaign
    cid = campaign["id"]
    # The question as campaigns.questions stores it (the API side is another part of issue 15).
    db.execute(
        text("UPDATE campaign SET question = CAST(:q AS jsonb) WHERE id = :c"), {"q": json.dumps(QUESTION), "c": cid}
    )
    db.commit()
    assert api.post(f"/api/v1/campaigns/{cid}/send")[0] == 202

    def completed():
        return api.get(f"/api/v1/campaigns/{cid}")[1]["status"] == "completed"

    wait(completed, 60, "the campaign to complete")
    db.execute(
        text("UPDATE campaign SET replies_until = sent_at + make_interval(mins => 720) WHERE id = :c"), {"c": cid}
    )
    db.commit()
    simulator.clear_messages()

    for phone, body in zip(phones, ["1", "POMOC 2", "gdzie jest punkt ewakuacji?"]):
        assert wait(lambda p=phone, b=body: simulator.inject_mo(p, "4800", b), 30, "a bound worker")

    def replies():
        rows = _replies(db)
        return rows if len(rows) == 3 else None

    stored = {r.phone: r.answer for r in wait(replies, 60, "the three replies stored")}
    assert stored == {phones[0]: "1", phones[1]: "2", phones[2]: None}

    def received():
        got = {m["destination_addr"].lstrip("+"): m["text"] for m in simulator.messages()}
        return got if len(got) == 3 else None

    got = wait(received, 30, "three SMS back at the simulator")
    assert "odpowiedz 1 - jestem bezpieczny" in got[phones[0].lstrip("+")]
    assert "odpowiedz 2 - potrzebuje pomocy" in got[phones[1].lstrip("+")]
    assert "Odpowiedz 1 - jestem bezpieczny" in got[phones[2].lstrip("+")]
    assert len(simulator.messages()) == 3  # each answered once
    assert wait(lambda: _transactional_charges(db) == 3 or None, 30, "the three confirmations charged")
    assert {(r.answer) for r in db.scalars(select(CampaignRespondent)).all()} == {"1", "2", None}
