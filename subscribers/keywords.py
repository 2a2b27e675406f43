"""SMS keywords to the city's short number, Polish and English, forgiving of case, diacritics and typos."""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass

from zones.service import ascii_fold

MAX_ARGUMENT = 200


class Keyword(str, enum.Enum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    HELP = "help"
    STATUS = "status"
    CHOICE = "choice"  # a bare "2": which of the numbered candidate addresses
    UNKNOWN = "unknown"
    EMPTY = "empty"


# word → (keyword, language of the reply). STOP and STATUS are used in Polish texts as much as in
# English ones: their reply follows the language the subscriber chose (None here).
KEYWORDS: dict[str, tuple[Keyword, str | None]] = {
    "zapisz": (Keyword.SUBSCRIBE, "pl"),
    "zapis": (Keyword.SUBSCRIBE, "pl"),
    "start": (Keyword.SUBSCRIBE, "en"),
    "wypisz": (Keyword.UNSUBSCRIBE, "pl"),
    "wypis": (Keyword.UNSUBSCRIBE, "pl"),
    "stop": (Keyword.UNSUBSCRIBE, None),
    "pomoc": (Keyword.HELP, "pl"),
    "help": (Keyword.HELP, "en"),
    "dane": (Keyword.STATUS, "pl"),
    "status": (Keyword.STATUS, None),
}
_POLISH_LETTERS = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")
# "2", "2)", "nr 2", "#2": the number of a candidate from an earlier reply.
CHOICE_NUMBER = re.compile(r"^(?:nr\.?|no\.?|#)?\s*([1-9])\s*[).]?$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    keyword: Keyword
    argument: str = ""
    language: str | None = None  # None: the subscriber's own language (Polish for a stranger)


def _keyword_of(word: str) -> tuple[Keyword, str | None] | None:
    folded = re.sub(r"[^a-z]", "", ascii_fold(word).lower())
    if folded in KEYWORDS:
        return KEYWORDS[folded]
    # One slip of the thumb in a longer keyword ("ZAPSIZ", "WYPIZS") still counts; short ones must be exact.
    if len(folded) >= 5:
        close = difflib.get_close_matches(folded, [k for k in KEYWORDS if len(k) >= 5], n=1, cutoff=0.8)
        if close:
            return KEYWORDS[close[0]]
    return None


def parse_command(text: str | None) -> Command:
    text = (text or "").replace("\x00", " ").strip()
    if not text:
        return Command(Keyword.EMPTY)
    choice = CHOICE_NUMBER.match(text)
    if choice:
        return Command(Keyword.CHOICE, choice.group(1))
    first, *rest_list = re.split(r"\s+", text, maxsplit=1)
    rest = rest_list[0] if rest_list else ""
    found = _keyword_of(first)
    if found is None:
        language = "pl" if _POLISH_LETTERS.search(text) else None
        return Command(Keyword.UNKNOWN, text[:MAX_ARGUMENT], language)
    keyword, language = found
    return Command(keyword, " ".join(rest.split())[:MAX_ARGUMENT], language)
