"""What an SMS keyword does, and the one reply it gets, in the language it was written in."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers.exceptions import InvalidLocation
from subscribers.gazetteer import Geocoder, GeocodeStatus
from subscribers.keywords import Command, Keyword
from subscribers.models import SubscriberSource, SubscriberStatus
from subscribers.service import (
    NewLocation,
    find_subscriber,
    personal_data,
    subscribe,
    unsubscribe,
    zone_code,
    zone_code_column,
    zones_by_codes,
    zones_of_subscriber,
)
from zones.service import ascii_fold

# Replies are plain GSM-7 (no Polish letters): one diacritic would make each part UCS-2, half as long.
TEXTS = {
    "pl": {
        "subscribed": "Syrena: zapisano {places}. Strefy: {zones}. Wypisanie: WYPISZ. Twoje dane: DANE.",
        "no_zone": "brak (adres poza strefami)",
        "choose": "Syrena: nie znaleziono dokladnie. Czy chodzi o: {candidates}? Wyslij ZAPISZ z wybranym adresem.",
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
        "choose": "Syrena: no exact match. Did you mean: {candidates}? Send START with the address you mean.",
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
}
# A text with no keyword and no Polish letters could be either language: both, in one SMS.
UNKNOWN_EITHER_LANGUAGE = ("Syrena: nie rozumiem - wyslij POMOC (ZAPISZ, WYPISZ, DANE). "
                           "Not understood - send HELP (START, STOP, STATUS).")
MAX_REPLY = 306  # two GSM-7 parts


@dataclass(frozen=True)
class Reply:
    text: str
    language: str


def failure_reply(language: str | None) -> Reply:
    return _reply(language if language in TEXTS else "pl", "failed")


def _reply(language: str, key: str, **values: str) -> Reply:
    text = ascii_fold(TEXTS[language][key].format(**values))
    return Reply(text[:MAX_REPLY], language)


def _zones_text(session: Session, subscriber_id: int, language: str) -> str:
    zones = zones_of_subscriber(session, subscriber_id)
    return ", ".join(zone_code(z) for z in zones) if zones else TEXTS[language]["no_zone"]


def _example_code(session: Session) -> str:
    return session.scalar(select(zone_code_column()).order_by(zone_code_column()).limit(1)) or "WILDA"


def _places_to_subscribe(session: Session, geocoder: Geocoder, argument: str, language: str
                         ) -> list[NewLocation] | Reply:
    words = [w for w in re.split(r"[\s,;]+", argument) if w]
    if not words:
        return _reply(language, "not_found", example=_example_code(session))
    zones, unknown = zones_by_codes(session, words)
    if zones and not unknown:
        return [NewLocation(label=zone_code(z), zone_id=z.id) for z in zones]
    result = geocoder.geocode(session, argument)
    if result.status == GeocodeStatus.FOUND:
        match = result.found
        return [NewLocation(label="sms", address=match.label, lat=match.lat, lon=match.lon)]
    if result.status == GeocodeStatus.CHOOSE:
        candidates = "; ".join(f"{n}) {m.label}" for n, m in enumerate(result.matches, start=1))
        return _reply(language, "choose", candidates=candidates)
    if result.status == GeocodeStatus.NO_NUMBER:
        return _reply(language, "no_number", street=argument.strip()[:40])
    return _reply(language, "not_found", example=_example_code(session))


def handle_command(session: Session, phone: str, command: Command, geocoder: Geocoder,
                   consent_version: str) -> Reply:
    """Carry out the command for this phone (proven: the SMS came from it) and say what happened."""
    subscriber = find_subscriber(session, phone)
    language = command.language or (subscriber.language if subscriber and subscriber.language in TEXTS else "pl")
    if command.keyword == Keyword.SUBSCRIBE:
        places = _places_to_subscribe(session, geocoder, command.argument, language)
        if isinstance(places, Reply):
            return places
        try:
            subscriber = subscribe(session, phone, places, language=language, source=SubscriberSource.SMS.value,
                                   consent_version=f"sms:{consent_version}",
                                   topics=subscriber.topics if subscriber else (), replace_locations=False)
        except InvalidLocation:
            return _reply(language, "too_many")
        described = ", ".join(p.address or p.label for p in places)
        return _reply(language, "subscribed", places=described,
                      zones=_zones_text(session, subscriber.id, language))
    if command.keyword == Keyword.UNSUBSCRIBE:
        return _reply(language, "unsubscribed" if unsubscribe(session, phone) else "not_subscribed")
    if command.keyword == Keyword.STATUS:
        if subscriber is None:
            return _reply(language, "not_subscribed")
        data = personal_data(session, phone)
        places = "; ".join(p["address"] or p["label"] for p in data["locations"]) or TEXTS[language]["none"]
        state = "active" if subscriber.status == SubscriberStatus.ACTIVE.value else "inactive"
        return _reply(language, "status", state=TEXTS[language][state], places=places,
                      zones=", ".join(z["code"] for z in data["zones"]) or TEXTS[language]["none"],
                      lang=subscriber.language)
    if command.keyword == Keyword.HELP:
        return _reply(language, "help", example=_example_code(session))
    if command.language is None:
        return Reply(UNKNOWN_EITHER_LANGUAGE, language)
    return _reply(language, "unknown")
