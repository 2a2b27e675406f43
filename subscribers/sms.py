"""What an SMS keyword does, and the one reply it gets, in the language it was written in.

Keyword SMS are handled in batches (all that arrived together): what the batch's messages share is read
once (`KeywordBatch`: the live zones' codes, the senders' subscribers, opt-outs and pending address
choices, and the typed addresses, geocoded together), and the zones named in the replies are read for the
whole batch after it, so a message costs a few statements, not a dozen round trips.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from subscribers.exceptions import InvalidLocation
from subscribers.gazetteer import AddressMatch, Geocoder, GeocodeResult, GeocodeStatus
from subscribers.keywords import CHOICE_NUMBER, Command, Keyword
from subscribers.models import AddressChoice, Subscriber, SubscriberSource, SubscriberStatus, SuppressedPhone
from subscribers.service import NewLocation, phone_hash, subscribe, unsubscribe, zone_code_column
from syrena_core.db import utcnow
from zones.models import Zone
from zones.service import ascii_fold

# Polish and English replies are plain GSM-7 (no Polish letters): one diacritic would make each part UCS-2,
# half as long. Ukrainian is Cyrillic, UCS-2 whatever we do: written properly, and short (MAX_REPLY).
TEXTS = {
    "pl": {
        "subscribed": "Syrena: zapisano {places}. Strefy: {zones}. Wypisanie: WYPISZ. Twoje dane: DANE.",
        "no_zone": "brak (adres poza strefami)",
        "choose": "Syrena: nie znaleziono dokladnie. Czy chodzi o: {candidates}? Odpisz numerem (np. 1) "
        "albo wyslij ZAPISZ z adresem.",
        "not_found": "Syrena: nie znaleziono adresu. Wyslij ZAPISZ ulica numer, np. ZAPISZ Glogowska 10, "
        "albo kod strefy, np. ZAPISZ {example}.",
        "no_number": "Syrena: podaj tez numer domu, np. ZAPISZ {street} 10.",
        "too_many": "Syrena: mozna miec najwyzej 5 miejsc. Wyslij WYPISZ, potem ZAPISZ z nowymi.",
        "unsubscribed": "Syrena: wypisano. Nie dostaniesz wiecej alertow. Powrot: ZAPISZ adres.",
        "not_subscribed": "Syrena: ten numer nie jest zapisany. Zapis: ZAPISZ adres lub kod strefy.",
        "status": "Syrena: {state}. Miejsca: {places}. Strefy: {zones}. Jezyk: {lang}. Wypisanie: WYPISZ.",
        "active": "subskrypcja aktywna",
        "inactive": "subskrypcja nieaktywna",
        "none": "brak",
        "help": "Syrena - alerty SMS miasta. ZAPISZ ulica numer lub kod strefy (np. ZAPISZ {example}) - zapis; "
        "WYPISZ - wypis; DANE - Twoje dane; POMOC - ta wiadomosc.",
        "unknown": "Syrena: nie rozumiem. Wyslij POMOC, aby poznac komendy (ZAPISZ, WYPISZ, DANE).",
        "failed": "Syrena: nie udalo sie wykonac polecenia. Sprobuj ponownie za kilka minut.",
    },
    "en": {
        "subscribed": "Syrena: subscribed {places}. Zones: {zones}. To leave: STOP. Your data: STATUS.",
        "no_zone": "none (outside every zone)",
        "choose": "Syrena: no exact match. Did you mean: {candidates}? Reply with its number (e.g. 1) "
        "or send START with the address.",
        "not_found": "Syrena: address not found. Send START street number, e.g. START Glogowska 10, "
        "or a zone code, e.g. START {example}.",
        "no_number": "Syrena: please add the house number, e.g. START {street} 10.",
        "too_many": "Syrena: at most 5 places. Send STOP, then START with the new ones.",
        "unsubscribed": "Syrena: unsubscribed. You will get no more alerts. To come back: START address.",
        "not_subscribed": "Syrena: this number is not subscribed. To subscribe: START address or zone code.",
        "status": "Syrena: {state}. Places: {places}. Zones: {zones}. Language: {lang}. To leave: STOP.",
        "active": "subscription active",
        "inactive": "subscription inactive",
        "none": "none",
        "help": "Syrena - the city's SMS alerts. START street number or zone code (e.g. START {example}) - "
        "subscribe; STOP - unsubscribe; STATUS - your data; HELP - this message.",
        "unknown": "Syrena: not understood. Send HELP for the commands (START, STOP, STATUS).",
        "failed": "Syrena: your request could not be carried out. Please try again in a few minutes.",
    },
    # ПІДПИСКА, not СТАРТ, in the replies: a Latin START (same letters) would switch the resident to English.
    "uk": {
        "subscribed": "Syrena: підписано {places}. Зони: {zones}. Відписатися: СТОП. Ваші дані: ДАНІ.",
        "no_zone": "немає (адреса поза зонами)",
        "choose": "Syrena: точного збігу немає. Ви мали на увазі: {candidates}? Надішліть номер (напр. 1) "
        "або ПІДПИСКА з адресою.",
        "not_found": "Syrena: адресу не знайдено. Надішліть ПІДПИСКА вулиця номер, напр. ПІДПИСКА Głogowska 10, "
        "або код зони, напр. ПІДПИСКА {example}.",
        "no_number": "Syrena: додайте номер будинку, напр. ПІДПИСКА {street} 10.",
        "too_many": "Syrena: щонайбільше 5 місць. Надішліть СТОП, потім ПІДПИСКА з новими.",
        "unsubscribed": "Syrena: ви відписалися. Попереджень більше не буде. Повернутися: ПІДПИСКА адреса.",
        "not_subscribed": "Syrena: цей номер не підписаний. Підписатися: ПІДПИСКА адреса або код зони.",
        "status": "Syrena: {state}. Місця: {places}. Зони: {zones}. Мова: {lang}. Відписатися: СТОП.",
        "active": "підписка активна",
        "inactive": "підписка неактивна",
        "none": "немає",
        "help": "Syrena - SMS-попередження міста. ПІДПИСКА вулиця номер або код зони (напр. ПІДПИСКА {example}) - "
        "підписатися; СТОП - відписатися; ДАНІ - ваші дані; ДОПОМОГА - це повідомлення.",
        "unknown": "Syrena: не зрозуміло. Надішліть ДОПОМОГА, щоб дізнатися команди (ПІДПИСКА, СТОП, ДАНІ).",
        "failed": "Syrena: не вдалося виконати запит. Спробуйте ще раз за кілька хвилин.",
    },
}
# A text with no keyword and no Polish letters could be either language: both, in one SMS.
UNKNOWN_EITHER_LANGUAGE = (
    "Syrena: nie rozumiem - wyslij POMOC (ZAPISZ, WYPISZ, DANE). Not understood - send HELP (START, STOP, STATUS)."
)
MAX_REPLY = 306  # two GSM-7 parts
# Languages written in Cyrillic: UCS-2 anyway, so not folded to ASCII; three UCS-2 parts of 67 characters at most.
UCS2_LANGUAGES = {"uk": 3 * 67}


@dataclass
class Reply:
    """A reply to render once the batch is done: {zones} of `zones_of` are read for all replies at once."""

    language: str
    key: str = ""
    values: dict[str, str] = field(default_factory=dict)
    zones_of: Subscriber | None = None
    no_zones: str = "no_zone"  # the TEXTS key said when `zones_of` is in no zone
    fixed: str | None = None  # a text of its own (both languages at once)

    def render(self, zone_codes: Sequence[str] = ()) -> str:
        if self.fixed is not None:
            return self.fixed[:MAX_REPLY]
        values = dict(self.values)
        if self.zones_of is not None:
            values["zones"] = ", ".join(zone_codes) or TEXTS[self.language][self.no_zones]
        text = TEXTS[self.language][self.key].format(**values)
        if self.language in UCS2_LANGUAGES:
            return text[: UCS2_LANGUAGES[self.language]]
        return ascii_fold(text)[:MAX_REPLY]


def failure_reply(language: str | None) -> Reply:
    return Reply(language if language in TEXTS else "pl", "failed")


def _reply(language: str, key: str, **values: str) -> Reply:
    return Reply(language, key, values)


def _is_choice(argument: str) -> bool:
    return bool(CHOICE_NUMBER.match(argument))


class KeywordBatch:
    """What the keyword SMS of one batch share, read with a handful of statements for all of them."""

    def __init__(
        self,
        session: Session,
        geocoder: Geocoder,
        consent_version: str,
        choice_minutes: int,
        messages: Sequence[tuple[str, Command]],
    ):
        self.session, self.geocoder = session, geocoder
        self.consent_version, self.choice_minutes = consent_version, choice_minutes
        self.now = utcnow()
        zones = session.execute(select(Zone.id, zone_code_column()).where(Zone.archived_at.is_(None))).all()
        self.zone_codes = {code.upper(): (zone_id, code) for zone_id, code in zones}
        self.example = min((code for _id, code in zones), default="WILDA")
        phones = sorted({phone for phone, _command in messages})
        self.subscribers: dict[str, Subscriber | None] = dict.fromkeys(phones)
        self.subscribers.update(
            (s.phone, s)
            for s in session.scalars(
                select(Subscriber).where(Subscriber.phone.in_(phones)).options(selectinload(Subscriber.locations))
            )
        )
        self.suppressed = set(
            session.scalars(
                select(SuppressedPhone.phone_hash).where(
                    SuppressedPhone.phone_hash.in_([phone_hash(p) for p in phones])
                )
            )
        )
        self.choices = {
            c.phone: c for c in session.scalars(select(AddressChoice).where(AddressChoice.phone.in_(phones)))
        }
        typed = [
            c.argument for _phone, c in messages if c.keyword == Keyword.SUBSCRIBE and self._is_address(c.argument)
        ]
        self.geocoded: dict[str, GeocodeResult] = geocoder.geocode_many(session, typed) if typed else {}

    def _words(self, argument: str) -> list[str]:
        return [w for w in re.split(r"[\s,;]+", argument) if w]

    def _is_address(self, argument: str) -> bool:
        words = self._words(argument)
        return bool(words) and not _is_choice(argument) and not all(w.upper() in self.zone_codes for w in words)

    def zones_named(self, argument: str) -> list[tuple[int, str]] | None:
        """The zones an argument names by their codes, when every word is one."""
        words = self._words(argument)
        if not words or not all(w.upper() in self.zone_codes for w in words):
            return None
        return list(dict.fromkeys(self.zone_codes[w.upper()] for w in words))

    def geocode(self, argument: str) -> GeocodeResult:
        if argument not in self.geocoded:
            self.geocoded[argument] = self.geocoder.geocode(self.session, argument)
        return self.geocoded[argument]

    def live_choice(self, phone: str) -> AddressChoice | None:
        choice = self.choices.get(phone)
        return choice if choice is not None and choice.expires_at > self.now else None

    def offer_choice(self, phone: str, language: str, matches: Sequence[AddressMatch]) -> None:
        candidates = [{"label": m.label, "lat": m.lat, "lon": m.lon} for m in matches]
        expires = self.now + timedelta(minutes=self.choice_minutes)
        choice = self.choices.get(phone)
        if choice is None:
            choice = AddressChoice(phone=phone)
            self.session.add(choice)
            self.choices[phone] = choice
        choice.language, choice.candidates, choice.created_at, choice.expires_at = (
            language,
            candidates,
            self.now,
            expires,
        )

    def forget_choice(self, phone: str) -> None:
        choice = self.choices.pop(phone, None)
        if choice is not None:
            self.session.delete(choice)


def _candidates_text(candidates: Sequence[str]) -> str:
    return "; ".join(f"{n}) {label}" for n, label in enumerate(candidates, start=1))


def _places_to_subscribe(batch: KeywordBatch, phone: str, argument: str, language: str) -> list[NewLocation] | Reply:
    zones = batch.zones_named(argument)
    if zones is not None:
        return [NewLocation(label=code, zone_id=zone_id) for zone_id, code in zones]
    if not argument.strip():
        return _reply(language, "not_found", example=batch.example)
    result = batch.geocode(argument)
    if result.status == GeocodeStatus.FOUND:
        match = result.found
        assert match is not None  # FOUND comes with its match
        return [NewLocation(label="sms", address=match.label, lat=match.lat, lon=match.lon)]
    if result.status == GeocodeStatus.CHOOSE:
        batch.offer_choice(phone, language, result.matches)
        return _reply(language, "choose", candidates=_candidates_text([m.label for m in result.matches]))
    if result.status == GeocodeStatus.NO_NUMBER:
        return _reply(language, "no_number", street=argument.strip()[:40])
    return _reply(language, "not_found", example=batch.example)


def _chosen_place(batch: KeywordBatch, phone: str, number: str, language: str) -> list[NewLocation] | Reply:
    """The candidate a resident picked by its number from the list an earlier reply gave."""
    choice = batch.live_choice(phone)
    assert choice is not None  # handle_command picks a number only while a choice is live
    index = int(number) - 1
    if not 0 <= index < len(choice.candidates):  # no such number: the list again
        return _reply(language, "choose", candidates=_candidates_text([c["label"] for c in choice.candidates]))
    picked = choice.candidates[index]
    return [NewLocation(label="sms", address=picked["label"], lat=picked["lat"], lon=picked["lon"])]


def handle_command(batch: KeywordBatch, phone: str, command: Command) -> Reply:
    """Carry out the command for this phone (proven: the SMS came from it) and say what happened."""
    session = batch.session
    subscriber = batch.subscribers.get(phone)
    choice = batch.live_choice(phone)
    picking = choice is not None and (
        command.keyword == Keyword.CHOICE or (command.keyword == Keyword.SUBSCRIBE and _is_choice(command.argument))
    )
    # A bare number has no language: the list it picks from was written in one.
    language = (
        command.language
        or (choice.language if picking and choice is not None else None)
        or (subscriber.language if subscriber and subscriber.language in TEXTS else "pl")
    )
    if command.keyword == Keyword.SUBSCRIBE or picking:
        if picking:
            number = CHOICE_NUMBER.match(command.argument)
            assert number is not None  # picking: the argument is a choice number (CHOICE's own, or _is_choice's)
            places = _chosen_place(batch, phone, number.group(1), language)
        else:
            places = _places_to_subscribe(batch, phone, command.argument, language)
        if isinstance(places, Reply):
            return places
        try:
            subscriber = subscribe(
                session,
                phone,
                places,
                language=language,
                source=SubscriberSource.SMS.value,
                consent_version=f"sms:{batch.consent_version}",
                topics=subscriber.topics if subscriber else (),
                replace_locations=False,
                subscriber=subscriber,
                suppressed=phone_hash(phone) in batch.suppressed,
                flush=False,
            )
        except InvalidLocation:
            return _reply(language, "too_many")
        batch.subscribers[phone] = subscriber
        batch.suppressed.discard(phone_hash(phone))
        batch.forget_choice(phone)
        described = ", ".join(p.address or p.label for p in places)
        return Reply(language, "subscribed", {"places": described}, zones_of=subscriber)
    if command.keyword == Keyword.UNSUBSCRIBE:
        batch.forget_choice(phone)
        batch.suppressed.add(phone_hash(phone))
        return _reply(language, "unsubscribed" if unsubscribe(session, phone, subscriber) else "not_subscribed")
    if command.keyword == Keyword.STATUS:
        if subscriber is None:
            return _reply(language, "not_subscribed")
        listed = "; ".join(p.address or p.label for p in subscriber.locations) or TEXTS[language]["none"]
        state = "active" if subscriber.status == SubscriberStatus.ACTIVE.value else "inactive"
        return Reply(
            language,
            "status",
            {"state": TEXTS[language][state], "places": listed, "lang": subscriber.language},
            zones_of=subscriber,
            no_zones="none",
        )
    if command.keyword == Keyword.HELP:
        return _reply(language, "help", example=batch.example)
    if command.language is None:
        return Reply(language, fixed=UNKNOWN_EITHER_LANGUAGE)
    return _reply(language, "unknown")
