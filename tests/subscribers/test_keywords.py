"""The keyword parser: Polish, English and Ukrainian, case, diacritics, typos, abbreviations."""

from __future__ import annotations

import pytest

from subscribers.keywords import Keyword, parse_command


@pytest.mark.parametrize(
    "text, keyword, argument, language",
    [
        ("ZAPISZ ul. Głogowska 10", Keyword.SUBSCRIBE, "ul. Głogowska 10", "pl"),
        ("zapisz ul. Gleboka 5", Keyword.SUBSCRIBE, "ul. Gleboka 5", "pl"),
        ("Zapisz\nGłogowska  10", Keyword.SUBSCRIBE, "Głogowska 10", "pl"),
        ("START Glogowska 10", Keyword.SUBSCRIBE, "Glogowska 10", "en"),
        ("ZAPSIZ WILDA RATAJE", Keyword.SUBSCRIBE, "WILDA RATAJE", "pl"),
        ("Zapisz: WILDA", Keyword.SUBSCRIBE, "WILDA", "pl"),
        ("STOP", Keyword.UNSUBSCRIBE, "", None),
        ("wypisz", Keyword.UNSUBSCRIBE, "", "pl"),
        ("WYPIZS", Keyword.UNSUBSCRIBE, "", "pl"),
        ("POMOC", Keyword.HELP, "", "pl"),
        ("help", Keyword.HELP, "", "en"),
        ("DANE", Keyword.STATUS, "", "pl"),
        ("Status", Keyword.STATUS, "", None),
        # A candidate picked by its number from an ambiguous address's list: no language of its own.
        ("2", Keyword.CHOICE, "2", None),
        (" 3) ", Keyword.CHOICE, "3", None),
        ("nr 1", Keyword.CHOICE, "1", None),
        ("ZAPISZ 2", Keyword.SUBSCRIBE, "2", "pl"),
        ("12", Keyword.UNKNOWN, "12", None),
        # Ukrainian: Cyrillic, any case, й/ї without their marks, Latin lookalikes from a switched keyboard.
        ("СТОП", Keyword.UNSUBSCRIBE, "", "uk"),
        ("Стоп!", Keyword.UNSUBSCRIBE, "", "uk"),
        ("CTOП", Keyword.UNSUBSCRIBE, "", "uk"),  # Latin C and T, Cyrillic О and П
        ("відписка", Keyword.UNSUBSCRIBE, "", "uk"),
        ("ПІДПИСКА вул. Głogowska 10", Keyword.SUBSCRIBE, "вул. Głogowska 10", "uk"),
        ("пiдписка WILDA", Keyword.SUBSCRIBE, "WILDA", "uk"),  # a Latin i
        ("ПІДПИСКАА WILDA", Keyword.SUBSCRIBE, "WILDA", "uk"),  # one slip
        ("старт Głogowska 10", Keyword.SUBSCRIBE, "Głogowska 10", "uk"),
        ("ДАНІ", Keyword.STATUS, "", "uk"),
        ("дани", Keyword.STATUS, "", "uk"),  # и for і
        ("Статус", Keyword.STATUS, "", "uk"),
        ("ДОПОМОГА", Keyword.HELP, "", "uk"),
        ("довідка", Keyword.HELP, "", "uk"),
        # As close to ПІДПИСКА as to ВІДПИСКА: neither (never unsubscribe someone on a guess).
        ("ПВДПИСКА", Keyword.UNKNOWN, "ПВДПИСКА", "uk"),
    ],
)
def test_keywords_are_recognised_whatever_the_spelling(text, keyword, argument, language):
    command = parse_command(text)
    assert (command.keyword, command.argument, command.language) == (keyword, argument, language)


def test_empty_and_unknown_texts_are_told_apart():
    assert parse_command("").keyword == Keyword.EMPTY
    assert parse_command("   \x00 ").keyword == Keyword.EMPTY
    assert parse_command("Dzień dobry, co to jest?").keyword == Keyword.UNKNOWN
    assert parse_command("Dzień dobry").language == "pl"
    assert parse_command("STO").keyword == Keyword.UNKNOWN  # short keywords must be exact


def test_a_very_long_text_is_cut_not_refused():
    command = parse_command("ZAPISZ " + "Głogowska 10 " * 80)
    assert command.keyword == Keyword.SUBSCRIBE
    assert len(command.argument) <= 200


def test_emoji_and_other_scripts_do_not_break_the_parser():
    assert parse_command("ZAPISZ 🏠 Głogowska 77").keyword == Keyword.SUBSCRIBE
    assert parse_command("🚨🚨🚨").keyword == Keyword.UNKNOWN
    assert parse_command("Привіт").keyword == Keyword.UNKNOWN
    assert parse_command("Привіт").language == "uk"  # no keyword, but Cyrillic: answered in Ukrainian
