"""The hazard templates shipped with Syrena (issue 16), written into the library on first use
(campaigns.templates.ensure_shipped); staff then edit them like their own (each edit a new version).

The SMS texts are what a Polish city's crisis-management centre sends: short, an order first, one phone number.
Polish is written without diacritics on purpose. One ą or ł makes the whole SMS UCS-2 (70 characters a part
instead of 160, smsc_gateway.encoding), so a warning with diacritics costs two or three times as much per resident
and needs more parts; plain Latin letters keep each text within one or two GSM 7-bit parts with the zone names
filled in (checked by tests/campaigns/test_templates.py). English is GSM 7-bit too; Ukrainian (Cyrillic) is
always UCS-2, so it is the shortest: within two parts (134 characters) once filled. The CAP instruction (not sent
as SMS) keeps its diacritics. Placeholders: campaigns.composition.PLACEHOLDERS.
"""

from __future__ import annotations

from typing import Any

_SAFE_OR_HELP = {
    "answers": [
        {
            "key": "1",
            "label": {"pl": "Jestem bezpieczny", "en": "I am safe", "uk": "Я в безпеці"},
            "needs_help": False,
        },
        {
            "key": "2",
            "label": {"pl": "Potrzebuje pomocy", "en": "I need help", "uk": "Потрібна допомога"},
            "needs_help": True,
        },
    ],
    "reply_minutes": 720,
}


def _cap(event, category, severity, urgency, certainty, response_type, instruction) -> dict[str, str]:
    return {
        "event": event,
        "category": category,
        "severity": severity,
        "urgency": urgency,
        "certainty": certainty,
        "response_type": response_type,
        "instruction": instruction,
    }


SHIPPED: dict[str, dict[str, Any]] = {
    "flood": {
        "name": "Powódź",
        "area_kind": "zones",
        "question": _SAFE_OR_HELP,
        "texts": {
            "pl": "UWAGA! Zagrozenie powodziowe: {zones}. Woda moze rosnac do {until}. Przenies dokumenty i leki "
            "wyzej, wylacz prad w zalewanych pomieszczeniach. Nie wchodz do wody. Pomoc: 112",
            "en": "WARNING! Flood danger: {zones}. Water may rise until {until}. Move documents and medicines "
            "upstairs, switch off power in rooms at risk. Keep out of flood water. Help: 112",
            "uk": "УВАГА! Загроза повені: {zones}. Вода зростатиме до {until}. Ліки й документи вище. "
            "Не заходьте у воду. 112",
        },
        "cap": _cap(
            "Powódź",
            "Met",
            "severe",
            "expected",
            "likely",
            "Prepare",
            "Przenieś dokumenty, leki i cenne rzeczy na wyższe piętro, wyłącz prąd i gaz w zagrożonych "
            "pomieszczeniach, nie wchodź do wody. W razie zagrożenia życia dzwoń 112.",
        ),
    },
    "storm": {
        "name": "Silny wiatr i burze",
        "area_kind": "city",
        "texts": {
            "pl": "UWAGA! Silny wiatr i burze: {zones}, do {until}. Zostan w budynku, zabezpiecz rzeczy na "
            "balkonie, nie parkuj pod drzewami. Zagrozenie zycia: 112",
            "en": "WARNING! Severe wind and storms: {zones}, until {until}. Stay indoors, secure loose things "
            "on balconies, do not park under trees. Emergency: 112",
            "uk": "УВАГА! Сильний вітер і грози: {zones}, до {until}. Будьте в приміщенні, не паркуйтеся під "
            "деревами. 112",
        },
        "cap": _cap(
            "Silny wiatr",
            "Met",
            "severe",
            "expected",
            "likely",
            "Shelter",
            "Pozostań w budynku, zabezpiecz przedmioty na balkonach i posesji, nie parkuj pod drzewami, "
            "omijaj zerwane linie energetyczne.",
        ),
    },
    "heat": {
        "name": "Upał",
        "area_kind": "city",
        "texts": {
            "pl": "UWAGA! Upal do {until}: {zones}. Pij duzo wody, unikaj slonca 11-16, nie zostawiaj dzieci "
            "ani zwierzat w aucie. Zajrzyj do starszych sasiadow. Pomoc: 112",
            "en": "WARNING! Heatwave until {until}: {zones}. Drink plenty of water, avoid the sun 11-16, never "
            "leave children or pets in a car. Check on elderly neighbours. Help: 112",
            "uk": "УВАГА! Спека до {until}: {zones}. Пийте воду, уникайте сонця 11-16, не лишайте дітей в авто. 112",
        },
        "cap": _cap(
            "Upał",
            "Met",
            "moderate",
            "expected",
            "likely",
            "Prepare",
            "Pij dużo wody, unikaj słońca między 11 a 16, nie zostawiaj dzieci ani zwierząt w samochodzie, "
            "odwiedź starszych sąsiadów.",
        ),
    },
    "frost": {
        "name": "Silny mróz",
        "area_kind": "city",
        "texts": {
            "pl": "UWAGA! Silny mroz do {until}: {zones}. Ubierz sie cieplo, nie ogrzewaj domu piecykiem bez "
            "wentylacji (czad!). Widzisz osobe w potrzebie na mrozie? Dzwon 112",
            "en": "WARNING! Severe frost until {until}: {zones}. Dress warmly, never heat your home with a "
            "heater without ventilation (CO!). See someone at risk in the cold? Call 112",
            "uk": "УВАГА! Сильний мороз до {until}: {zones}. Одягайтеся тепло. Людина в біді на морозі? Дзвоніть 112",
        },
        "cap": _cap(
            "Silny mróz",
            "Met",
            "moderate",
            "expected",
            "likely",
            "Prepare",
            "Ubierz się ciepło, nie ogrzewaj mieszkania urządzeniami bez wentylacji (tlenek węgla), "
            "zgłaszaj osoby bezdomne i samotne pod numer 112.",
        ),
    },
    "gas": {
        "name": "Wyciek gazu",
        "area_kind": "circle",
        "texts": {
            "pl": "ALARM! Wyciek gazu: {zones}. Nie uzywaj ognia ani wlacznikow, nie uruchamiaj aut. Opusc "
            "rejon zgodnie z poleceniami sluzb. Czujesz gaz? Dzwon 992 lub 112",
            "en": "ALERT! Gas leak: {zones}. No flames or switches, do not start cars. Leave the area as the "
            "emergency services direct. Smell gas? Call 992 or 112",
            "uk": "ТРИВОГА! Витік газу: {zones}. Без вогню й вимикачів. Залиште район за вказівками служб. 992 або 112",
        },
        "cap": _cap(
            "Wyciek gazu",
            "Safety",
            "extreme",
            "immediate",
            "observed",
            "Evacuate",
            "Nie używaj otwartego ognia ani włączników elektrycznych, nie uruchamiaj samochodów, opuść rejon "
            "zgodnie z poleceniami służb. Zapach gazu zgłaszaj pod 992 lub 112.",
        ),
    },
    "water": {
        "name": "Skażenie wody",
        "area_kind": "zones",
        "texts": {
            "pl": "UWAGA! Woda z wodociagu niezdatna do picia: {zones}, do odwolania. Do picia i mycia zebow "
            "tylko woda butelkowana lub przegotowana. Beczkowozy: {place}",
            "en": "WARNING! Tap water unfit to drink: {zones}, until further notice. Use only bottled or boiled "
            "water for drinking and brushing teeth. Water tanks: {place}",
            "uk": "УВАГА! Вода з крана непридатна для пиття: {zones}. Лише бутильована або кип'ячена. "
            "Цистерни: {place}",
        },
        "cap": _cap(
            "Skażenie wody",
            "Health",
            "severe",
            "immediate",
            "observed",
            "Avoid",
            "Nie pij wody z wodociągu. Do picia, gotowania i mycia zębów używaj wody butelkowanej lub "
            "przegotowanej, korzystaj z beczkowozów.",
        ),
    },
    "chemical": {
        "name": "Pożar i dym chemiczny",
        "area_kind": "circle",
        "texts": {
            "pl": "ALARM! Pozar i dym z substancji chemicznych: {zones}. Zostan w budynku, zamknij okna i drzwi, "
            "wylacz wentylacje i klimatyzacje. Nie wychodz do odwolania. 112",
            "en": "ALERT! Chemical fire and smoke: {zones}. Stay indoors, close windows and doors, switch off "
            "ventilation and air conditioning. Stay in until the all-clear. 112",
            "uk": "ТРИВОГА! Хімічна пожежа й дим: {zones}. Будьте в приміщенні, зачиніть вікна, вимкніть "
            "вентиляцію. 112",
        },
        "cap": _cap(
            "Pożar chemiczny",
            "Fire",
            "extreme",
            "immediate",
            "observed",
            "Shelter",
            "Pozostań w budynku, zamknij okna i drzwi, wyłącz wentylację i klimatyzację, nie wychodź do "
            "odwołania alarmu.",
        ),
    },
    "outage": {
        "name": "Awaria prądu lub ogrzewania",
        "area_kind": "zones",
        "texts": {
            "pl": "UWAGA! Awaria pradu/ogrzewania: {zones}. Przewidywany koniec: {until}. Korzystasz z "
            "urzadzen medycznych na prad? Dzwon {phone}. Nie grzej kuchenka gazowa.",
            "en": "NOTICE! Power/heating outage: {zones}. Expected to end: {until}. Rely on powered medical "
            "equipment? Call {phone}. Do not heat with a gas cooker.",
            "uk": "УВАГА! Аварія світла/опалення: {zones}. Кінець: {until}. Медичне обладнання? Дзвоніть {phone}",
        },
        "cap": _cap(
            "Awaria zasilania",
            "Infra",
            "moderate",
            "immediate",
            "observed",
            "Monitor",
            "Osoby korzystające z urządzeń medycznych zasilanych prądem proszone są o kontakt. Nie ogrzewaj "
            "mieszkania kuchenką gazową.",
        ),
    },
    "evacuation": {
        "name": "Ewakuacja",
        "area_kind": "circle",
        "question": _SAFE_OR_HELP,
        "texts": {
            "pl": "ALARM! EWAKUACJA: {zones}. Opusc budynek teraz. Zabierz dokumenty, leki, telefon i "
            "ladowarke. Miejsce zbiorki: {place}. Pomoz sasiadom. Nie wracaj do odwolania. 112",
            "en": "ALERT! EVACUATE: {zones}. Leave now. Take documents, medicines, phone and charger. "
            "Assembly point: {place}. Help your neighbours. Do not return until told. 112",
            "uk": "ТРИВОГА! ЕВАКУАЦІЯ: {zones}. Залиште будинок. Візьміть документи й ліки. Збір: {place}. 112",
        },
        "cap": _cap(
            "Ewakuacja",
            "Safety",
            "extreme",
            "immediate",
            "observed",
            "Evacuate",
            "Opuść budynek natychmiast, zabierz dokumenty, leki i telefon, udaj się do miejsca zbiórki, pomóż "
            "sąsiadom. Nie wracaj do odwołania.",
        ),
    },
    "missing": {
        "name": "Zaginięcie osoby",
        "area_kind": "city",
        "texts": {
            "pl": "Policja prosi o pomoc w poszukiwaniach: {details}. Ostatnio widziana(y): {place}. Kazda "
            "informacja: 112 lub 997",
            "en": "Police ask for help to find a missing person: {details}. Last seen: {place}. Any "
            "information: call 112 or 997",
            "uk": "Поліція просить допомогти знайти людину: {details}. Востаннє: {place}. 112",
        },
        "cap": _cap(
            "Zaginięcie osoby",
            "Rescue",
            "moderate",
            "immediate",
            "observed",
            "Monitor",
            "Każdą informację o zaginionej osobie przekaż Policji: 112 lub 997.",
        ),
    },
    "all_clear": {
        "name": "Odwołanie alarmu",
        "area_kind": "zones",
        "texts": {
            "pl": "ODWOLANIE ALARMU: {zones}, {date} {time}. Zagrozenie minelo. Stosuj sie do dalszych "
            "komunikatow sluzb.",
            "en": "ALL CLEAR: {zones}, {date} {time}. The danger is over. Follow any further advice from the "
            "emergency services.",
            "uk": "ВІДБІЙ: {zones}, {date} {time}. Небезпека минула. Стежте за повідомленнями служб.",
        },
        "cap": _cap(
            "Odwołanie alarmu",
            "Safety",
            "minor",
            "past",
            "observed",
            "AllClear",
            "Zagrożenie minęło. Stosuj się do dalszych komunikatów służb.",
        ),
    },
}
