"""The UI's catalogues are complete and compiled: a string added to a template or to app/*.py without
a Polish and a Ukrainian translation, or a .po edited without recompiling the .mo, fails here (no browser
needed)."""

from __future__ import annotations

import re

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from tests.harness import ROOT

TRANSLATIONS = ROOT / "app" / "translations"


def _catalog(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _key(message):
    return (message.context, _plain(message.id))


# Every language a resident can choose is complete; English is the msgids' own language.
COMPLETE = ("pl", "uk")
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sd]|%%|\{[a-z_]+\}")


@pytest.mark.parametrize("lang", COMPLETE)
def test_every_ui_string_has_a_translation(tmp_path, lang):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), str(ROOT)])
    with pot.open("rb") as f:
        wanted = {_key(m) for m in read_po(f) if m.id}
    translated = {_key(m): m for m in _catalog(lang) if m.id}

    missing = sorted(str(k) for k in wanted - translated.keys())
    assert not missing, f"not in {lang}/messages.po (run pybabel extract + update, then translate): {missing}"
    untranslated = sorted(
        str(k)
        for k in wanted
        if not translated[k].string or (isinstance(translated[k].string, tuple) and not all(translated[k].string))
    )
    assert not untranslated, f"untranslated in {lang}/messages.po: {untranslated}"
    fuzzy = sorted(str(k) for k in wanted if translated[k].fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) in {lang}/messages.po: {fuzzy}"


@pytest.mark.parametrize("lang", COMPLETE)
def test_translations_keep_every_placeholder(lang):
    """A lost %(n)s shows the resident a gap; a stray one raises when the page renders."""
    wrong = []
    for m in _catalog(lang):
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, (list, tuple)) else (m.id,)
        strings = m.string if isinstance(m.string, (list, tuple)) else (m.string,)
        want = sorted(PLACEHOLDER.findall(ids[-1]))
        wrong += [(ids[0], s) for s in strings if s and sorted(PLACEHOLDER.findall(s)) != want]
    assert not wrong, f"placeholders differ from the msgid in {lang}/messages.po: {wrong}"


def test_ukrainian_has_its_three_plural_forms():
    assert _catalog("uk").num_plurals == 3
    compiled = Translations.load(str(TRANSLATIONS), ["uk"])
    said = [compiled.ngettext("%(num)d character", "%(num)d characters", n) % {"num": n} for n in (1, 3, 5, 21, 22, 25)]
    assert said == ["1 символ", "3 символи", "5 символів", "21 символ", "22 символи", "25 символів"]


def test_the_compiled_catalogues_match_their_sources():
    for lang in ("pl", "en", "uk"):
        source = {
            _key(m): _plain(m.string)
            for m in _catalog(lang)
            if m.id and m.string and not m.fuzzy and (isinstance(m.string, str) or all(m.string))
        }
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            compiled = {_key(m): _plain(m.string) for m in read_mo(f) if m.id}
        assert compiled == source, f"app/translations/{lang}: run `pybabel compile -d app/translations`"
