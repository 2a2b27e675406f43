"""Rules for the text people and imports store, one home for each, used by every package.

- Which characters a stored text may hold (`check_characters`): printable ones and the line breaks an SMS
  and an XML feed both carry. A form feed, the GSM escape (0x1B) or a non-character (U+FFFE) would be sent,
  and then break every Atom feed, CAP message and spreadsheet that publishes it; a lone surrogate (\\ud800)
  cannot even be written to the database. They are refused where they enter, naming the character and where.
- Placeholder templates (`fill_placeholders`): `{zone}` replaced by its value, nothing else. Never
  `str.format`: its mini-language (`{zone:>1000000000}`) lets one request allocate gigabytes.
- `xml_safe`: what serialisers apply to stored text all the same, so that rows stored before these rules
  (or by a path that forgot them) never make a public feed fail.
- `spreadsheet_text`: a CSV cell that no spreadsheet runs as a formula (XLSX cells are typed as strings).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

# Line breaks a text may contain (SMS carries LF and CR; XML 1.0 allows both).
LINE_BREAKS = frozenset("\n\r")
# Format characters that are part of ordinary writing: the emoji joiner and directional marks.
_ALLOWED_FORMAT = frozenset("\u200d\u200e\u200f")
_NAMES = {
    "\x00": "NUL",
    "\x07": "BELL",
    "\x08": "BACKSPACE",
    "\t": "TAB",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
}


class UnsafeText(ValueError):
    """A text holds a character that must not be stored (a control character, a lone surrogate...)."""

    def __init__(self, message: str, character: str, position: int):
        super().__init__(message)
        self.character, self.position = character, position


class TemplateInvalid(ValueError):
    """A template is malformed or uses something other than its known placeholders."""


def _allowed(c: str) -> bool:
    if c.isprintable() or c in LINE_BREAKS or c in _ALLOWED_FORMAT:
        return True
    return unicodedata.category(c) == "Zs"  # no-break and other spaces: word processors paste them


def describe(c: str) -> str:
    """U+000C (FORM FEED): how an error message names a character one cannot see."""
    name = (
        _NAMES.get(c)
        or unicodedata.name(c, "")
        or {
            "Cc": "control character",
            "Cs": "lone surrogate, half of a UTF-16 pair",
            "Cn": "non-character",
            "Co": "private use",
            "Cf": "format character",
            "Zl": "line separator",
            "Zp": "paragraph separator",
        }.get(unicodedata.category(c), "unprintable character")
    )
    return f"U+{ord(c):04X} ({name})"


def first_unsafe(value: str) -> tuple[int, str] | None:
    """(1-based position, character) of the first character that may not be stored, else None."""
    for i, c in enumerate(value, 1):
        if not _allowed(c):
            return i, c
    return None


def check_characters(value: Any, what: str, error: type[Exception] = UnsafeText, *, line_breaks: bool = True) -> None:
    """Refuse a text (`error`, a ValueError naming the character and its position) that holds a character
    that is neither printable nor an allowed line break; with `line_breaks=False` (names, labels) not even
    those. Non-strings pass: their own validation names the type."""
    if not isinstance(value, str):
        return
    found = first_unsafe(value)
    if found is None and not line_breaks:
        found = next(((i, c) for i, c in enumerate(value, 1) if c in LINE_BREAKS), None)
    if found is None:
        return
    position, c = found
    message = (
        f"{what} contains the invisible character {describe(c)} at position {position}; "
        "remove it (retype the text, or paste it as plain text)"
    )
    if error is UnsafeText:
        raise UnsafeText(message, c, position)
    raise error(message)


def check_all(values: Mapping[str, Any] | Sequence[Any], what: str, error: type[Exception] = UnsafeText) -> None:
    """check_characters over every string in a (nested) JSON value: keys and values."""
    stack: list[tuple[Any, str]] = [(values, what)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            check_characters(value, where, error)
        elif isinstance(value, dict):
            for k, v in value.items():
                check_characters(k, f"{where}: a key", error)
                stack.append((v, f"{where}.{k}"))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))


# XML 1.0 allows TAB, LF, CR and everything from U+0020 but surrogates and U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str | None) -> str | None:
    """The text with every character XML 1.0 cannot carry replaced by U+FFFD: for serialisers."""
    if value is None:
        return None
    return _XML_ILLEGAL.sub("\ufffd", value)


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), DDE); the full-width
# forms count too in some of them. Tab and CR let a cell start a formula after the program trims it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_text(value: str | None) -> str:
    """Text for a CSV cell: XML/UTF-8-safe, and a leading apostrophe when a spreadsheet would otherwise take
    it for a formula (OWASP's "CSV injection" advice; the apostrophe is what the programs themselves use)."""
    text = xml_safe(value) or ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# `{{` and `}}` are literal braces; `{name}` a placeholder; any other brace is an error.
_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def fill_placeholders(template: str, values: Mapping[str, str], known: Sequence[str]) -> str:
    """Replace each `{name}` (one of `known`) by its value, by substitution: no format specs, no conversions,
    no attribute access. The result is at most as long as the template plus the values it names."""

    def substitute(m: re.Match) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        if name is None:
            raise TemplateInvalid(
                f"the template is malformed (a single {token!r} at position {m.start() + 1}); "
                "write a literal brace as {{ or }}"
            )
        if name not in known:
            raise TemplateInvalid(
                f"unknown placeholder {{{name}}}; known: "
                + ", ".join("{" + p + "}" for p in known)
                + " (no format specifications such as {zone:>10})"
            )
        return values.get(name, "")

    return _TEMPLATE_TOKEN.sub(substitute, template)
