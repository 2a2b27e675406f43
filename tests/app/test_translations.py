"""The UI's catalogues are complete and compiled: a string added to a template or to app/*.py without
a Polish translation, or a .po edited without recompiling the .mo, fails here (no browser needed)."""

from __future__ import annotations

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.harness import ROOT

TRANSLATIONS = ROOT / "app" / "translations"


def _catalog(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _key(message):
    return (message.context, _plain(message.id))


def test_every_ui_string_has_a_polish_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), str(ROOT)])
    with pot.open("rb") as f:
        wanted = {_key(m) for m in read_po(f) if m.id}
    polish = {_key(m): m for m in _catalog("pl") if m.id}

    missing = sorted(str(k) for k in wanted - polish.keys())
    assert not missing, f"not in pl/messages.po (run pybabel extract + update, then translate): {missing}"
    untranslated = sorted(
        str(k)
        for k in wanted
        if not polish[k].string or (isinstance(polish[k].string, tuple) and not all(polish[k].string))
    )
    assert not untranslated, f"untranslated in pl/messages.po: {untranslated}"
    fuzzy = sorted(str(k) for k in wanted if polish[k].fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) in pl/messages.po: {fuzzy}"


def test_the_compiled_catalogues_match_their_sources():
    for lang in ("pl", "en"):
        source = {
            _key(m): _plain(m.string)
            for m in _catalog(lang)
            if m.id and m.string and not m.fuzzy and (isinstance(m.string, str) or all(m.string))
        }
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            compiled = {_key(m): _plain(m.string) for m in read_mo(f) if m.id}
        assert compiled == source, f"app/translations/{lang}: run `pybabel compile -d app/translations`"
