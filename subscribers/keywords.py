"""SMS keywords to the city's short number, Polish, English and Ukrainian, forgiving of case, diacritics and
typos."""

from __future__ import annotations

import difflib
import enum
import re
import unicodedata
from dataclasses import dataclass

from zones.service import ascii_fold

MAX_ARGUMENT = 200


class Keyword(str, enum.Enum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    HELP = "help"
    STATUS = "status"
    CHOICE = "choice"  # a bare "2": which of the numbered candidate addresses
    REPORT = "report"  # a resident's report to the city (subscribers.reports): the rest of the SMS is its text
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
    # Reports to the city (ZGŁOŚ <what and where>). UWAGA ("attention") is what people write on a sign; a
    # report is not a command, so the nouns count too.
    "zgłoś": (Keyword.REPORT, "pl"),
    "zgłoszenie": (Keyword.REPORT, "pl"),
    "uwaga": (Keyword.REPORT, "pl"),
    "raport": (Keyword.REPORT, "pl"),
    "report": (Keyword.REPORT, "en"),
    # Ukrainian. СТАРТ looks like START but is typed in Cyrillic.
    "старт": (Keyword.SUBSCRIBE, "uk"),
    "підписка": (Keyword.SUBSCRIBE, "uk"),
    "стоп": (Keyword.UNSUBSCRIBE, "uk"),
    "відписка": (Keyword.UNSUBSCRIBE, "uk"),
    "дані": (Keyword.STATUS, "uk"),
    "статус": (Keyword.STATUS, "uk"),
    "допомога": (Keyword.HELP, "uk"),
    "довідка": (Keyword.HELP, "uk"),
    # ЗВЕРНЕННЯ: what a resident's message to a Ukrainian city's contact centre is called; УВАГА as UWAGA.
    "звернення": (Keyword.REPORT, "uk"),
    "повідомлення": (Keyword.REPORT, "uk"),
    "увага": (Keyword.REPORT, "uk"),
}
_POLISH_LETTERS = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Latin letters that look Cyrillic: a phone's keyboard switched mid-word ("CTOП", "ДАНI") means the Cyrillic one.
_LOOKALIKES = str.maketrans("aceiopxykmthb", "асеіорхукмтнв")
# A keyboard without the Ukrainian letters (a Russian layout) types и for і, е for є, г for ґ.
_UKRAINIAN_LETTERS = str.maketrans("ієґ", "иег")
# "2", "2)", "nr 2", "#2": the number of a candidate from an earlier reply.
CHOICE_NUMBER = re.compile(r"^(?:nr\.?|no\.?|#)?\s*([1-9])\s*[).]?$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    keyword: Keyword
    argument: str = ""
    language: str | None = None  # None: the subscriber's own language (Polish for a stranger)


def _fold(word: str) -> str:
    """The word without case, diacritics or punctuation: Latin for a Latin word; for a word with any Cyrillic
    letter, Cyrillic (lookalike Latin letters included) without й's and ї's marks, and і є ґ as и е г."""
    if not _CYRILLIC.search(word):
        return re.sub(r"[^a-z]", "", ascii_fold(word).lower())
    bare = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
    return re.sub(r"[^а-я]", "", bare.translate(_LOOKALIKES).translate(_UKRAINIAN_LETTERS))


fold_word = _fold  # the same folding for the answers to a campaign's question (campaigns.replies)

# One slip of the thumb: a folded word at least this long counts as another when difflib's ratio is at least
# TYPO_MIN_RATIO (one letter replaced, dropped, doubled or two swapped); shorter words must match exactly.
TYPO_MIN_LENGTH = 5
TYPO_MIN_RATIO = 0.8


def typo_closeness(folded: str, target: str) -> float:
    """How close a folded word is to a folded target: 1.0 equal, at least TYPO_MIN_RATIO for one slip of the
    thumb in a word of TYPO_MIN_LENGTH or more letters, 0.0 for anything else."""
    if folded == target:
        return 1.0
    if min(len(folded), len(target)) < TYPO_MIN_LENGTH or abs(len(folded) - len(target)) > 1:
        return 0.0
    ratio = difflib.SequenceMatcher(None, folded, target).ratio()
    return ratio if ratio >= TYPO_MIN_RATIO else 0.0


_FOLDED = {_fold(word): meaning for word, meaning in KEYWORDS.items()}


def _keyword_of(word: str) -> tuple[Keyword, str | None] | None:
    folded = _fold(word)
    if folded in _FOLDED:
        return _FOLDED[folded]
    # One slip of the thumb in a longer keyword ("ZAPSIZ", "WYPIZS") still counts; short ones must be exact.
    # A slip as close to one command as to another ("ПВДПИСКА": ПІДПИСКА or ВІДПИСКА?) counts as neither.
    if len(folded) >= TYPO_MIN_LENGTH:
        # Only keywords whose length allows the ratio are compared (2·min ÷ sum bounds it): the others score
        # below TYPO_MIN_RATIO anyway, and a reply storm's long words made this a third of an MO's cost.
        scores = sorted(
            (
                (difflib.SequenceMatcher(None, folded, k).ratio(), k)
                for k in _FOLDED
                if len(k) >= TYPO_MIN_LENGTH and 2 * min(len(k), len(folded)) >= TYPO_MIN_RATIO * (len(k) + len(folded))
            ),
            reverse=True,
        )
        (best, word), (second, other) = (scores + [(0.0, ""), (0.0, "")])[:2]
        if best >= TYPO_MIN_RATIO and (second < best or _FOLDED[other][0] == _FOLDED[word][0]):
            return _FOLDED[word]
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
        language = "pl" if _POLISH_LETTERS.search(text) else "uk" if _CYRILLIC.search(text) else None
        return Command(Keyword.UNKNOWN, text[:MAX_ARGUMENT], language)
    keyword, language = found
    return Command(keyword, " ".join(rest.split())[:MAX_ARGUMENT], language)
