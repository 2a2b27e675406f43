"""Replies to a campaign's question (issue 15): which answer an SMS means, which campaign it answers, and what
is stored and said back.

An SMS is tied to the most recent campaign whose question its phone got (a `message` of that campaign that
reached the SMSC: `submitted_at` set, whatever its receipt said since — a reply proves the phone got it) while
`now <= campaign.replies_until`, unless the campaign was cancelled: replies to a cancelled campaign are not
tied to it (they go on to an older open question of that phone, if any, else to the keywords like any SMS).

Order in the MO path (`take_question_replies`, called by subscribers.jobs before the keywords):
1. STOP/WYPISZ (and every unsubscribe keyword) always unsubscribes, window or not: never a reply.
2. Another keyword leading the SMS (ZAPISZ …, DANE, ZGŁOŚ …) goes to the keywords, even when its words
   would match an answer ("ZAPISZ Polna 2" subscribes).
3. Inside a window, POMOC/HELP alone is the needs-help answer when the question has one, else the help text
   (keywords); POMOC with words is an answer when recognised ("POMOC 2"), else the help text.
4. Anything else inside a window is a reply: recognised ("1", "1 ok", "bezpieczny"; a bare number is an
   answer, not the pick from an address list) or not (free text, empty, only emoji, 2,000 characters), then
   stored as free text; the phone is sent the list of answers once (`prompted_at`), later ones get nothing.
Outside a window (or from a phone that got no question) an SMS is a keyword SMS as before. Binary MO are
ignored before this (subscribers.jobs).

Every reply is one `campaign_reply` (idempotent on `inbound_id`) and updates its phone's
`campaign_respondent` (the latest recognised answer wins), for the whole batch with a few set-based
statements.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from campaigns.questions import answer_lines, label_of
from subscribers.keywords import Command, Keyword, fold_word, typo_closeness
from subscribers.sms import MAX_REPLY, UCS2_LANGUAGES
from zones.service import ascii_fold

LANGUAGES = ("pl", "en", "uk")
DEFAULT_LANGUAGE = "pl"
# Only the start of a long SMS is read for an answer: "1" or a label comes first, and a 2,000-character text
# must not cost more than a short one. The whole text is stored.
RECOGNISE_CHARS = 160
RECOGNISE_WORDS = 12
# "1", "1)", "1.", "#1", "nr 1" anywhere as a word of its own ("1 ok", "POMOC 2"); "12" or "1a" is no answer.
_DIGIT = re.compile(r"(?<![0-9A-Za-z])([1-9])(?![0-9A-Za-z])")
_WORD = re.compile(r"[^\W\d_]+")
# Words too short to tell an answer by (after folding): "ok", "i", "ja", "so" …
MIN_WORD = 3
# Keywords that are never an answer, window or not.
_ALWAYS_KEYWORDS = {Keyword.UNSUBSCRIBE}
# A keyword parse_command gives to text that is none: such text may be an answer.
_NOT_KEYWORDS = {Keyword.UNKNOWN, Keyword.EMPTY, Keyword.CHOICE}

# What is said back: Polish and English folded to GSM-7 like the keyword replies, Ukrainian in Cyrillic.
TEXTS = {
    "pl": {
        "confirm": "Syrena: dziekujemy, zapisano odpowiedz {key} - {label}.",
        "needs_help": " W zagrozeniu zycia dzwon 112.",
        "prompt": "Syrena: nie rozpoznano odpowiedzi. {answers}.",
    },
    "en": {
        "confirm": "Syrena: thank you, answer {key} - {label} - recorded.",
        "needs_help": " If your life is in danger call 112.",
        "prompt": "Syrena: answer not recognised. {answers}.",
    },
    "uk": {
        "confirm": "Syrena: дякуємо, записано відповідь {key} - {label}.",
        "needs_help": " У разі загрози життю дзвоніть 112.",
        "prompt": "Syrena: відповідь не розпізнано. {answers}.",
    },
}


# ------------------------------------------------------------------ recognition


@dataclass(frozen=True)
class _Answers:
    """A question's answers prepared for recognition in some languages: each answer's folded labels (whole,
    without spaces) and the folded words that belong to it alone (a word two answers share tells nothing)."""

    keys: tuple[str, ...]
    labels: dict[str, str]  # folded label without spaces → key
    words: dict[str, str]  # folded distinctive word → key
    help_key: str | None  # the needs-help answer, if the question has one


def _fold_phrase(phrase: str) -> list[str]:
    return [w for w in (fold_word(word) for word in _WORD.findall(phrase)) if w]


@lru_cache(maxsize=256)
def _prepare(question_json: str, languages: tuple[str, ...]) -> _Answers:
    answers = json.loads(question_json).get("answers") or []
    labels: dict[str, str] = {}
    owners: dict[str, set[str]] = {}
    help_key = None
    for answer in answers:
        key = str(answer.get("key"))
        if answer.get("needs_help") and help_key is None:
            help_key = key
        label = answer.get("label") or {}
        for language in languages:
            words = _fold_phrase(str(label.get(language) or ""))
            if not words:
                continue
            labels.setdefault("".join(words), key)
            for word in words:
                if len(word) >= MIN_WORD:
                    owners.setdefault(word, set()).add(key)
    distinctive = {word: next(iter(keys)) for word, keys in owners.items() if len(keys) == 1}
    return _Answers(tuple(str(a.get("key")) for a in answers), labels, distinctive, help_key)


def _answers(question: dict, languages: Sequence[str]) -> _Answers:
    wanted = tuple(dict.fromkeys(lang for lang in languages if lang)) or LANGUAGES
    return _prepare(json.dumps(question, sort_keys=True, ensure_ascii=False), wanted)


def _best(scores: dict[str, float]) -> str | None:
    """The key with the highest score; None when none scored or two answers are equally close."""
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None
    return ranked[0][0]


def recognise(question: dict, text: str | None, languages: Sequence[str]) -> str | None:
    """The key of the answer an SMS gives to the question, or None (free text, or as close to two answers).

    Recognised: the key's digit alone or with words ("1", "1 ok", "POMOC 2": a digit that is no key, or
    digits of two answers, is no answer); else the label, or any word of it no other answer has ("bezpieczny"
    for "jestem bezpieczny"), in any of `languages` — case, diacritics and one slip of the thumb in a word of
    five letters or more tolerated (the keywords' rule, subscribers.keywords.typo_closeness). Each word of
    the SMS counts for the answer it is closest to; the answer with most wins, a tie is None."""
    return _recognise(_answers(question, languages), text)


def _recognise(prepared: _Answers, text: str | None) -> str | None:
    head = unicodedata.normalize("NFKC", (text or "")[:RECOGNISE_CHARS]).strip()
    if not head:
        return None
    digits = {d for d in _DIGIT.findall(head) if d in prepared.keys}
    if len(digits) == 1:
        return digits.pop()
    if len(digits) > 1:
        return None
    words = _fold_phrase(head)[:RECOGNISE_WORDS]
    if not words:
        return None
    whole = "".join(words)
    scores: dict[str, float] = {}
    for label, key in prepared.labels.items():  # the whole label, spaces or not ("potrzebuje pomocy")
        closeness = typo_closeness(whole, label)
        if closeness:
            scores[key] = max(scores.get(key, 0.0), 10 + closeness)
    if scores:
        return _best(scores)
    for word in words:
        if len(word) < MIN_WORD:
            continue
        exact = prepared.words.get(word)
        found = {exact: 1.0} if exact is not None else {}
        if not found:
            for w, key in prepared.words.items():
                closeness = typo_closeness(word, w)
                if closeness > found.get(key, 0.0):
                    found[key] = closeness
        best = _best(found)
        if best is not None:
            scores[best] = scores.get(best, 0.0) + found[best]
        elif found:  # this word is as close to two answers: it says nothing
            continue
    return _best(scores)


def needs_help_key(question: dict) -> str | None:
    """The key of the question's needs-help answer, if it has one (POMOC/HELP alone means it in a window)."""
    return next((str(a.get("key")) for a in question.get("answers") or [] if a.get("needs_help")), None)


# ------------------------------------------------------------------ what is said back


def _label(question: dict, key: str, language: str) -> str:
    answer = next((a for a in question.get("answers") or [] if str(a.get("key")) == key), None)
    return label_of(answer, language) if answer else ""


def _finish(language: str, text_: str) -> str:
    if language in UCS2_LANGUAGES:
        return text_[: UCS2_LANGUAGES[language]]
    return ascii_fold(text_.replace("\u2013", "-"))[:MAX_REPLY]  # the en dash of a UCS-2 answer line: a hyphen


def confirmation_text(question: dict, key: str, language: str) -> str:
    """The one short SMS a recognised reply gets, in the phone's language."""
    language = language if language in TEXTS else DEFAULT_LANGUAGE
    said = TEXTS[language]["confirm"].format(key=key, label=_label(question, key, language))
    if key == needs_help_key(question):
        said += TEXTS[language]["needs_help"]
    return _finish(language, said)


def prompt_text(question: dict, language: str) -> str:
    """The list of answers, sent once to a phone whose reply was not recognised: the question's own answer
    lines ("Odpowiedz 1 - jestem bezpieczny, 2 - ...", campaigns.questions), as the alert carried them."""
    language = language if language in TEXTS else DEFAULT_LANGUAGE
    return _finish(language, TEXTS[language]["prompt"].format(answers=answer_lines(question, language)))


# ------------------------------------------------------------------ the MO path

# The questions open now: a handful of rows of a small table (no index needed). None open, the usual case, and
# the batch goes to the keywords after this one statement.
OPEN_QUESTIONS = text(
    """
    SELECT id, question FROM campaign
    WHERE question IS NOT NULL AND replies_until >= :now AND status <> 'cancelled'
    """
)
# Of those, the one each sender got most recently. Per sender through ix_message_subscriber_id (LATERAL ...
# LIMIT 1): message has no index on phone, and a join the planner may turn into a scan of every message of the
# open campaigns (a million for a city-wide alert) for every batch. A message counts once it reached the SMSC
# (submitted_at set, whatever receipt came since: a reply proves the phone got it).
LATEST_QUESTION_OF_SENDERS = text(
    """
    SELECT s.phone, s.id AS subscriber_id, s.language, q.language AS message_language, q.campaign_id
    FROM subscriber s
    CROSS JOIN LATERAL (
        SELECT m.language, m.campaign_id
        FROM message m JOIN campaign c ON c.id = m.campaign_id
        WHERE m.subscriber_id = s.id AND m.phone = s.phone AND m.campaign_id = ANY(:open)
          AND m.submitted_at IS NOT NULL
        ORDER BY c.sent_at DESC NULLS LAST, c.id DESC
        LIMIT 1
    ) q
    WHERE s.phone = ANY(:phones)
    """
)
# Every reply, one row per inbound SMS: a redelivered job (or a batch retried one by one) adds nothing.
INSERT_REPLIES = text(
    """
    INSERT INTO campaign_reply (campaign_id, inbound_id, phone, subscriber_id, answer, text, received_at)
    SELECT * FROM unnest(CAST(:campaign_ids AS integer[]), CAST(:inbound_ids AS bigint[]), CAST(:phones AS text[]),
                         CAST(:subscriber_ids AS integer[]), CAST(:answers AS text[]), CAST(:texts AS text[]),
                         CAST(:received AS timestamptz[]))
    ON CONFLICT (inbound_id) DO NOTHING
    RETURNING inbound_id
    """
)
# One row per phone and campaign, the batch's replies of a phone folded into one row beforehand (ON CONFLICT
# cannot touch a row twice in one statement). The latest recognised answer wins, an unrecognised one keeps
# the answer; the list of answers is sent at most once, and not to a phone that has an answer: prompted_at is
# set only then, and RETURNING tells which phones were prompted by this very statement (prompted_at = :now).
UPSERT_RESPONDENTS = text(
    """
    INSERT INTO campaign_respondent AS r (campaign_id, phone, subscriber_id, answer, answered_at, last_text,
                                          last_reply_at, replies, prompted_at)
    SELECT * FROM unnest(CAST(:campaign_ids AS integer[]), CAST(:phones AS text[]),
                         CAST(:subscriber_ids AS integer[]), CAST(:answers AS text[]),
                         CAST(:answered AS timestamptz[]), CAST(:texts AS text[]), CAST(:last AS timestamptz[]),
                         CAST(:counts AS integer[]), CAST(:prompted AS timestamptz[]))
    ON CONFLICT (campaign_id, phone) DO UPDATE SET
        subscriber_id = COALESCE(EXCLUDED.subscriber_id, r.subscriber_id),
        answer = COALESCE(EXCLUDED.answer, r.answer),
        answered_at = COALESCE(EXCLUDED.answered_at, r.answered_at),
        last_text = EXCLUDED.last_text,
        last_reply_at = EXCLUDED.last_reply_at,
        replies = r.replies + EXCLUDED.replies,
        prompted_at = CASE WHEN r.prompted_at IS NULL AND r.answer IS NULL AND EXCLUDED.answer IS NULL
                           THEN EXCLUDED.prompted_at ELSE r.prompted_at END
    RETURNING campaign_id, phone, prompted_at = CAST(:now AS timestamptz) AS prompted_now
    """
)


@dataclass
class QuestionReply:
    """What became of one inbound SMS taken as a reply: the answer (None: free text) and the SMS to send
    back (None: nothing, e.g. an unrecognised reply after the list was sent once)."""

    inbound_id: int
    phone: str
    campaign_id: int
    answer: str | None
    reply: str | None


@dataclass(frozen=True)
class _Sender:
    subscriber_id: int
    campaign_id: int
    language: str
    languages: tuple[str, ...]


def _is_reply(command: Command, key: str | None, help_key: str | None) -> tuple[bool, str | None]:
    """Whether an SMS inside a window is a reply (and its answer), by the order in the module's docstring."""
    if command.keyword in _ALWAYS_KEYWORDS:
        return False, None
    if command.keyword == Keyword.HELP:
        if not command.argument:  # POMOC alone
            return (True, help_key) if help_key is not None else (False, None)
        return (True, key) if key is not None else (False, None)  # "POMOC 2": an answer; else the help text
    if command.keyword not in _NOT_KEYWORDS:  # ZAPISZ Polna 2, DANE, a report: the keyword, whatever it says
        return False, None
    return True, key


def take_question_replies(
    session: Session, work: Sequence[tuple[Any, str, Command]], now: datetime
) -> tuple[list[QuestionReply], list[tuple[Any, str, Command]]]:
    """Split a batch of claimed MO (inbound row, sender's phone, parsed command) into replies to an open
    question, stored here with what to send back, and the rest (in order) for the keywords."""
    phones = sorted({phone for _row, phone, _command in work})
    if not phones:
        return [], list(work)
    questions: dict[int, dict] = {cid: q for cid, q in session.execute(OPEN_QUESTIONS, {"now": now})}  # noqa: C416
    if not questions:
        return [], list(work)
    senders: dict[str, _Sender] = {}
    for row in session.execute(LATEST_QUESTION_OF_SENDERS, {"phones": phones, "open": list(questions)}).mappings():
        language = row["language"] if row["language"] in TEXTS else row["message_language"] or DEFAULT_LANGUAGE
        languages = tuple(dict.fromkeys(x for x in (row["language"], row["message_language"], DEFAULT_LANGUAGE) if x))
        senders[row["phone"]] = _Sender(row["subscriber_id"], row["campaign_id"], language, languages)
    if not senders:
        return [], list(work)
    prepared: dict[tuple[int, tuple[str, ...]], _Answers] = {}
    recognised: dict[tuple[int, str], str | None] = {}  # a storm repeats the same few texts
    taken: list[tuple[Any, str, _Sender, str | None]] = []
    rest = []
    for row, phone, command in work:
        sender = senders.get(phone)
        if sender is None:
            rest.append((row, phone, command))
            continue
        answers = prepared.get((sender.campaign_id, sender.languages))
        if answers is None:
            answers = prepared[sender.campaign_id, sender.languages] = _answers(
                questions[sender.campaign_id], sender.languages
            )
        seen = (id(answers), row.text or "")
        if seen not in recognised:
            recognised[seen] = _recognise(answers, row.text)
        is_reply, answer = _is_reply(command, recognised[seen], answers.help_key)
        if is_reply:
            taken.append((row, phone, sender, answer))
        else:
            rest.append((row, phone, command))
    if not taken:
        return [], rest
    return _record(session, taken, questions, now), rest


def _record(
    session: Session, taken: list[tuple[Any, str, _Sender, str | None]], questions: dict[int, dict], now: datetime
) -> list[QuestionReply]:
    stored = set(
        session.scalars(
            INSERT_REPLIES,
            {
                "campaign_ids": [s.campaign_id for _r, _p, s, _a in taken],
                "inbound_ids": [r.id for r, _p, _s, _a in taken],
                "phones": [p for _r, p, _s, _a in taken],
                "subscriber_ids": [s.subscriber_id for _r, _p, s, _a in taken],
                "answers": [a for _r, _p, _s, a in taken],
                "texts": [r.text or "" for r, _p, _s, _a in taken],
                "received": [r.received_at or now for r, _p, _s, _a in taken],
            },
        )
    )
    taken = [t for t in taken if t[0].id in stored]  # the others were stored (and answered) before
    if not taken:
        return []
    # The batch's replies of each phone folded into one respondent row, in arrival order.
    folded: dict[tuple[int, str], dict[str, Any]] = {}
    for row, phone, sender, answer in taken:
        r = folded.setdefault(
            (sender.campaign_id, phone),
            {"subscriber_id": sender.subscriber_id, "answer": None, "answered": None, "count": 0, "unknown": False},
        )
        at = row.received_at or now
        r["count"] += 1
        r["text"], r["last"] = row.text or "", at
        if answer is not None:
            r["answer"], r["answered"] = answer, at
        else:
            r["unknown"] = True
    keys = list(folded)
    prompted_now = {
        (cid, phone)
        for cid, phone, prompted in session.execute(
            UPSERT_RESPONDENTS,
            {
                "campaign_ids": [cid for cid, _p in keys],
                "phones": [p for _c, p in keys],
                "subscriber_ids": [folded[k]["subscriber_id"] for k in keys],
                "answers": [folded[k]["answer"] for k in keys],
                "answered": [folded[k]["answered"] for k in keys],
                "texts": [folded[k]["text"] for k in keys],
                "last": [folded[k]["last"] for k in keys],
                "counts": [folded[k]["count"] for k in keys],
                "prompted": [now if folded[k]["unknown"] and folded[k]["answer"] is None else None for k in keys],
                "now": now,
            },
        ).all()
        if prompted
    }
    result = []
    for row, phone, sender, answer in taken:
        question = questions[sender.campaign_id]
        if answer is not None:
            reply: str | None = confirmation_text(question, answer, sender.language)
        elif (sender.campaign_id, phone) in prompted_now:
            reply = prompt_text(question, sender.language)
            prompted_now.discard((sender.campaign_id, phone))  # the first unrecognised reply of the batch only
        else:
            reply = None
        result.append(QuestionReply(row.id, phone, sender.campaign_id, answer, reply))
    return result


# A resident's own replies, newest first, for "show my data" (GDPR art. 15). No index leads with the phone
# (ix_campaign_reply_campaign_phone starts with the campaign, as the MO path and the tallies need): this scans
# campaign_reply, which a resident's rare request can afford (a 10,000-reply storm adds 10,000 narrow rows);
# an index on phone would cost every reply of every storm instead.
REPLIES_OF_PHONE = text(
    """
    SELECT r.campaign_id, c.title, r.answer, r.text, r.received_at
    FROM campaign_reply r JOIN campaign c ON c.id = r.campaign_id
    WHERE r.phone = :phone
    ORDER BY r.received_at DESC, r.id DESC
    """
)


def replies_of_phone(session: Session, phone: str) -> list[dict[str, Any]]:
    """Every reply this phone sent to an alert's question, as it was written."""
    return [
        {
            "campaign_id": row.campaign_id,
            "campaign_title": row.title,
            "answer": row.answer,
            "text": row.text,
            "received_at": row.received_at.isoformat(),
        }
        for row in session.execute(REPLIES_OF_PHONE, {"phone": phone})
    ]
