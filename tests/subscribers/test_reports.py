"""Residents' reports to the city's number (subscribers.reports): the keyword, the place, the limits — and the
whole way through the real path: the simulator injects the MO, `flask worker` stores it and files the report, the
confirmation SMS goes back through the SMPP session to the simulator."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text

from billing.models import CostEntry
from subscribers.keywords import _FOLDED, Keyword, _keyword_of, parse_command
from subscribers.models import ResidentReport
from subscribers.reports import WINDOW, address_candidates, report_text
from subscribers.service import personal_data
from tests.factories import IN_A, create_subscriber
from tests.subscribers.conftest import PHONE, SHORT_NUMBER

STRANGER = "+48601999888"


# ---------------------------------------------------------------- the keyword (no services)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ZGŁOŚ zalana piwnica", "pl"),
        ("zglos zalana piwnica", "pl"),
        ("Zgłoszenie: zalana piwnica", "pl"),
        ("UWAGA zalana piwnica", "pl"),
        ("raport zalana piwnica", "pl"),
        ("ZGLSO zalana piwnica", "pl"),  # a slip of the thumb
        ("zgloz zalana piwnica", "pl"),
        ("REPORT flooded cellar", "en"),
        ("reprot flooded cellar", "en"),
        ("ЗВЕРНЕННЯ затоплений підвал", "uk"),
        ("повідомлення затоплений підвал", "uk"),
        ("Увага затоплений підвал", "uk"),
        ("ЗВЕРНЕНЯ затоплений підвал", "uk"),
    ],
)
def test_report_keywords_in_three_languages_with_case_diacritics_and_one_typo(text, language):
    command = parse_command(text)
    assert command.keyword == Keyword.REPORT
    assert command.language == language


@pytest.mark.parametrize("text", ["ZAPISZ Głogowska 77", "STOP", "WYPISZ", "POMOC", "DANE", "STATUS", "START 1"])
def test_the_other_keywords_are_not_taken_for_reports(text):
    assert parse_command(text).keyword != Keyword.REPORT


def test_no_single_typo_of_a_report_keyword_means_another_command_or_the_reverse():
    """Every one-letter slip (missing, wrong, swapped) of every keyword is read as its own command or as none."""
    clashes = []
    for word, (keyword, _language) in _FOLDED.items():
        letters = "abcdefghijklmnopqrstuvwxyz" if word.isascii() else "абвгдежзиклмнопрстуфхцчшщьюя"
        slips = {word[:i] + word[i + 1 :] for i in range(len(word))}
        slips |= {word[:i] + c + word[i + 1 :] for i in range(len(word)) for c in letters}
        slips |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
        for slip in slips:
            found = _keyword_of(slip)
            if found is not None and found[0] != keyword and Keyword.REPORT in (found[0], keyword):
                clashes.append((word, slip, found[0]))
    assert clashes == []


def test_the_report_text_is_the_whole_sms_after_the_keyword():
    assert report_text("ZGŁOŚ: zalana piwnica,\nGłogowska 77") == "zalana piwnica,\nGłogowska 77"
    assert report_text("UWAGA") == ""
    assert len(report_text("ZGLOS " + "x" * 5000)) == 2000


def test_address_candidates_are_street_words_before_a_house_number_within_a_clause():
    assert address_candidates("zalana piwnica, ul. Głogowska 77") == ["Głogowska 77", "ul. Głogowska 77"]
    assert "Głogowskiej 77" in address_candidates("drzewo na Głogowskiej 77 blokuje jezdnię")
    assert address_candidates("Św. Marcin 12") == ["Marcin 12", "Św. Marcin 12"]
    assert address_candidates("brak prądu od 3 godzin") == []  # "od" (two letters) is no street
    assert address_candidates("12 osób bez wody") == []  # a number first is no address


# ---------------------------------------------------------------- through the real path


def _reports(db) -> list[ResidentReport]:
    db.expire_all()
    return list(db.scalars(select(ResidentReport).order_by(ResidentReport.id)))


def test_a_report_with_an_address_is_stored_in_its_zone_and_confirmed_with_its_number(
    send_mo, sms_to, wait, db, gazetteer, two_zones
):
    message = send_mo(STRANGER, "ZGŁOŚ przewrócone drzewo blokuje jezdnię, ul. Głogowska 77")
    (report,) = _reports(db)
    assert report.text == "przewrócone drzewo blokuje jezdnię, ul. Głogowska 77"
    assert report.location_source == "text" and report.address.startswith("Głogowska 77")
    assert report.zone_id == two_zones["Zachód"]
    assert report.status == "new" and report.subscriber_id is None  # a stranger may report too
    assert report.inbound_ids == [message.id]
    replies = wait(lambda: sms_to(STRANGER), 30, "the confirmation")
    assert replies == [f"Syrena: przyjeto zgloszenie nr {report.id}. Dziekujemy. W naglym zagrozeniu dzwon 112."]


def test_a_long_ukrainian_report_in_several_ucs2_parts_is_joined_into_one_report(send_mo, sms_to, wait, db):
    text = "ЗВЕРНЕННЯ " + "Затоплений підвал у житловому будинку, вода піднімається, потрібна допомога. " * 3
    assert len(text) > 3 * 67  # at least four UCS-2 parts on the way in
    send_mo(STRANGER, text)
    (report,) = _reports(db)
    assert report.text == text.split(" ", 1)[1].strip()
    assert report.language == "uk" and report.location_source == "none" and report.zone_id is None
    reply = wait(lambda: sms_to(STRANGER), 30, "the confirmation")[0]
    assert reply == f"Syrena: звернення № {report.id} прийнято. Дякуємо. У разі небезпеки дзвоніть 112."


def test_a_long_polish_report_in_parts_numbered_by_sar_tlvs_is_joined_too(simulator, worker, wait, db):
    """Some SMSCs number the parts of a long MO in SAR TLVs rather than a UDH."""
    text = "ZGŁOŚ " + "Zalana ulica, samochody stoją w wodzie, woda wlewa się do piwnic. " * 4
    assert wait(lambda: simulator.inject_mo(STRANGER, SHORT_NUMBER, text, sar=True), 30, "a bound worker")
    (report,) = wait(lambda: _reports(db) or None, 30, "the report filed")
    assert report.text == text.split(" ", 1)[1].strip()
    assert len(report.inbound_ids) == 1


def test_without_an_address_the_report_takes_the_senders_registered_place(send_mo, db, api, two_zones):
    create_subscriber(api, PHONE, IN_A)
    message = send_mo(PHONE, "report no power since 3 hours")
    (report,) = _reports(db)
    assert report.location_source == "registered" and report.zone_id == two_zones["Zachód"]
    assert report.language == "en"
    assert message.reply.startswith(f"Syrena: report no. {report.id} received.")
    # The resident who asks for their data sees their reports, as written (GDPR art. 15).
    assert [(r["id"], r["text"]) for r in personal_data(db, PHONE)["reports"]] == [(report.id, report.text)]


def test_an_empty_report_asks_what_and_where_and_stores_nothing(send_mo, db):
    assert "ZGLOS zalana piwnica" in send_mo(STRANGER, "ZGŁOŚ").reply
    assert _reports(db) == []


def test_past_the_phones_limit_one_refusal_is_sent_then_silence_and_nothing_is_stored(
    send_mo, sms_to, wait, db, settings
):
    from syrena_core.queues import redis_connection

    # This phone has filed its 10 reports of this hour (the default [subscribers] report_phone_per_hour).
    redis = redis_connection(settings.redis.url)
    redis.set(f"syrena:reports:phone:{STRANGER}:{int(time.time()) // WINDOW}", 10, ex=WINDOW)
    first = send_mo(STRANGER, "ZGLOS jedenaste")
    second = send_mo(STRANGER, "ZGLOS dwunaste")
    assert "10 zgloszen w tej godzinie" in first.reply and "112" in first.reply
    assert second.reply is None
    assert _reports(db) == []
    assert len(wait(lambda: sms_to(STRANGER), 30, "the refusal")) == 1
    # Another phone is not affected.
    assert "przyjeto zgloszenie" in send_mo(PHONE, "ZGLOS inny numer").reply


def test_a_report_by_sms_then_a_reply_from_the_inbox_reaches_the_phone_and_is_charged(
    api, send_mo, sms_to, wait, db, settings
):
    """The whole way: MO → worker → report stored → confirmation at the simulator; the inbox's reply → the worker
    → the reporter's phone at the simulator, a transactional ledger row, the reply marked sent in the thread."""
    send_mo(STRANGER, "ZGŁOŚ dym z piwnicy, Głogowska 77")
    (report,) = api.get("/api/v1/reports")[1]["items"]
    assert report["text"] == "dym z piwnicy, Głogowska 77"
    wait(lambda: len(sms_to(STRANGER)) == 1, 30, "the confirmation")

    status, body = api.post(f"/api/v1/reports/{report['id']}/reply", {"body": "Straż pożarna jest w drodze."})
    assert status == 202, body
    assert body["status"] == "in_progress"  # a reply takes a new report in hand
    assert body["notes"][0]["kind"] == "reply" and body["notes"][0]["sms_status"] in ("queued", "sending", "sent")
    texts = wait(lambda: sms_to(STRANGER) if len(sms_to(STRANGER)) == 2 else None, 30, "the reply at the phone")
    assert texts[1] == "Straż pożarna jest w drodze."
    note = wait(
        lambda: (n := api.get(f"/api/v1/reports/{report['id']}")[1]["notes"][0])["sms_status"] == "sent" and n,
        30,
        "the reply marked sent",
    )
    assert note["sent_at"] is not None
    db.expire_all()
    charges = db.scalars(select(CostEntry).where(CostEntry.phone == STRANGER).order_by(CostEntry.id)).all()
    assert [(c.kind, c.encoding) for c in charges] == [("transactional", "gsm7"), ("transactional", "ucs2")]
    assert db.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'report.reply'")) == 1


# ---------------------------------------------------------------- the limits and the place, domain functions


@pytest.fixture
def file(settings, db):
    """file(texts, phone_per_hour, city_per_hour) → the answers of one batch of reports, filed by the domain
    function the keyword handler calls, on the real database, gazetteer and Redis."""
    from sqlalchemy import func

    from smsc_gateway.models import InboundMessage
    from subscribers.gazetteer import LocalGazetteer
    from subscribers.keywords import parse_command
    from subscribers.reports import Incoming, ReportLimits, file_reports
    from syrena_core.config import replace
    from syrena_core.queues import redis_connection

    def run(messages: list[tuple[str, str]], phone_per_hour: int = 10, city_per_hour: int = 500) -> list[str]:
        config = replace(settings.subscribers, report_phone_per_hour=phone_per_hour, report_city_per_hour=city_per_hour)
        limits = ReportLimits(redis_connection(settings.redis.url), config)
        start = db.scalar(select(func.coalesce(func.max(InboundMessage.id), 0)))
        items = [Incoming(start + n, phone, text, parse_command(text)) for n, (phone, text) in enumerate(messages, 1)]
        answers = file_reports(db, items, {}, LocalGazetteer(), limits)
        db.commit()
        return [answers[i.inbound_id] for i in items]

    return run


def test_the_phone_limit_refuses_once_with_a_reply_then_silently(file, db):
    answers = file([(PHONE, f"ZGLOS nr {n}") for n in range(4)] + [(STRANGER, "ZGLOS inny")], phone_per_hour=2)
    assert [a.startswith("Syrena: przyjeto") for a in answers] == [True, True, False, False, True]
    assert "2 zgloszen" in answers[2] and answers[3] == ""
    assert len(_reports(db)) == 3


def test_the_city_cap_refuses_every_phone_past_it_and_nothing_below_it_is_lost(file, db):
    phones = [f"+4860100{n:04d}" for n in range(5)]
    answers = file([(p, "REPORT smoke") for p in phones], city_per_hour=3)
    assert [a.startswith("Syrena: report no.") for a in answers] == [True, True, True, False, False]
    assert all("overloaded" in a for a in answers[3:])
    assert sorted(r.phone for r in _reports(db)) == phones[:3]


def test_an_uncertain_address_in_free_text_is_not_taken(file, db, gazetteer, two_zones):
    file([(STRANGER, "ZGLOS mam 2 dzieci i brak wody od 3 dni")])
    (report,) = _reports(db)
    assert report.location_source == "none" and report.address is None


def test_a_polish_case_ending_still_finds_the_street(file, db, gazetteer, two_zones):
    file([(STRANGER, "UWAGA przewrócone drzewo na Głogowskiej 77")])
    (report,) = _reports(db)
    assert report.location_source == "text" and report.address.startswith("Głogowska 77")
    assert report.zone_id == two_zones["Zachód"]


def test_without_redis_a_report_is_taken_uncounted_rather_than_lost(db, settings):
    from redis import Redis

    from subscribers.gazetteer import LocalGazetteer
    from subscribers.reports import Incoming, ReportLimits, file_reports
    from tests.harness import free_port

    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    command = parse_command("ZGLOS zalana piwnica")
    answers = file_reports(
        db,
        [Incoming(1, STRANGER, "ZGLOS zalana piwnica", command)],
        {},
        LocalGazetteer(),
        ReportLimits(down, settings.subscribers),
    )
    db.commit()
    assert answers[1].startswith("Syrena: przyjeto zgloszenie nr ")
    assert [r.text for r in _reports(db)] == ["zalana piwnica"]
