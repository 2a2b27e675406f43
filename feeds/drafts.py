"""An official warning as a draft campaign's fields: the one place that writes a draft's text from a CAP alert.

`draft_fields` writes a plain text from the CAP; `templated` then puts the library's hazard template in its
place (campaigns.templates: `hazard_for(alert.event)` names it, the CAP gives its placeholders' values), so the
draft reads like one the centre wrote itself, in every language, and is linked to the template version. A
template the CAP cannot fill (no expiry for its {until}, a {place} only a person knows) keeps the plain text.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from campaigns import composition, templates
from campaigns.exceptions import InvalidTemplate, TemplateNotFound
from campaigns.schemas import CERTAINTIES, URGENCIES
from feeds.models import IncomingAlert
from syrena_core.config import CampaignSettings
from syrena_core.db import utcnow
from syrena_core.text import first_unsafe

HAZARDS = (
    "flood",
    "storm",
    "heat",
    "frost",
    "gas",
    "water",
    "chemical",
    "outage",
    "evacuation",
    "missing",
    "all_clear",
)

# CAP <event> words → hazard (the shipped templates' keys). Matched on the event folded to lower case without
# diacritics, longest phrase first: MeteoAlarm awareness types, IMGW-PIB's Polish event names, English ones.
_EVENT_WORDS: dict[str, str] = {
    # MeteoAlarm awareness types
    "wind": "storm",
    "thunderstorm": "storm",
    "snow/ice": "frost",
    "fog": "storm",
    "extreme high temperature": "heat",
    "low temperature": "frost",
    "coastal event": "flood",
    "forest fire": "chemical",
    "avalanches": "storm",
    "rain": "flood",
    "flooding": "flood",
    "rain-flood": "flood",
    # IMGW-PIB (meteorological and hydrological warnings)
    "burze": "storm",
    "burza": "storm",
    "silny wiatr": "storm",
    "wiatr": "storm",
    "upal": "heat",
    "przymrozki": "frost",
    "mroz": "frost",
    "silny mroz": "frost",
    "oblodzenie": "frost",
    "gololedz": "frost",
    "intensywne opady sniegu": "frost",
    "roztopy": "flood",
    "intensywne opady deszczu": "flood",
    "wezbranie z przekroczeniem stanow ostrzegawczych": "flood",
    "wezbranie z przekroczeniem stanow alarmowych": "flood",
    "wezbranie": "flood",
    "gwaltowny wzrost stanow wody": "flood",
    "powodz": "flood",
    # English and CAP-CP/NWS style names
    "flood": "flood",
    "storm": "storm",
    "tornado": "storm",
    "heat": "heat",
    "frost": "frost",
    "freeze": "frost",
    "cold": "frost",
    "gas": "gas",
    "wyciek gazu": "gas",
    "water contamination": "water",
    "skazenie wody": "water",
    "boil water": "water",
    "chemical": "chemical",
    "hazmat": "chemical",
    "smoke": "chemical",
    "air quality": "chemical",
    "pollution": "chemical",
    "pozar": "chemical",
    "power outage": "outage",
    "blackout": "outage",
    "awaria": "outage",
    "evacuation": "evacuation",
    "ewakuacja": "evacuation",
    "missing": "missing",
    "zaginiecie": "missing",
    "amber": "missing",
    "child abduction": "missing",
    "all clear": "all_clear",
    "odwolanie": "all_clear",
}
_BY_LENGTH = sorted(_EVENT_WORDS.items(), key=lambda item: -len(item[0]))

WEATHER = {"flood", "storm", "heat", "frost", None}  # None: a weather service's event we have no word for
SEVERITIES = {"extreme": "extreme", "severe": "severe", "moderate": "moderate", "minor": "minor"}
SEVERITY_PL = {"extreme": "ekstremalne", "severe": "poważne", "moderate": "umiarkowane", "minor": "niewielkie"}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def hazard_for(event: str | None) -> str | None:
    """The hazard (a template's key, one of HAZARDS) an event name stands for; None when none fits."""
    folded = _fold(event or "")
    if not folded:
        return None
    for words, hazard in _BY_LENGTH:
        if folded == words or f" {words} " in f" {folded} ":
            return hazard
    return None


def _clean(text: str | None) -> str:
    """The source's text on one line, without characters a campaign may not hold (control, format characters):
    a warning is never refused for what its sender's software left in it."""
    return " ".join("".join(c for c in (text or "") if first_unsafe(c) is None).split())


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).strftime("%d.%m %H:%M") if moment else None


def _fit(text: str, settings: CampaignSettings) -> str:
    """The text cut at a word so that it fits [campaigns] max_parts (a draft the operator can still edit)."""
    text = " ".join(text.split())
    while text and composition.analyse(text).parts > settings.max_parts:
        cut = text[: int(len(text) * 0.9)]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,.;:") + "…"
    return text


def draft_values(alert: IncomingAlert, settings: CampaignSettings) -> dict[str, str]:
    """What the CAP gives for a template's placeholders."""
    zone = ZoneInfo(settings.timezone)
    return {
        "title": alert.headline or alert.event or "",
        "event": alert.event or "",
        "time": _local(alert.onset, zone) or "",
        "date": alert.onset.astimezone(zone).strftime("%d.%m.%Y") if alert.onset else "",
        "until": _local(alert.expires, zone) or "",
        "instruction": alert.instruction or "",
        "severity": SEVERITY_PL.get((alert.severity or "").lower(), ""),
    }


def draft_fields(
    alert: IncomingAlert, settings: CampaignSettings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """campaigns.service.create_draft's fields for an incoming alert: its intersected zones, texts from its
    event, severity, onset, expiry, instruction and headline. The hazard template takes over the text here."""
    settings = settings or CampaignSettings()
    now = now or utcnow()
    values = {key: _clean(value) for key, value in draft_values(alert, settings).items()}
    severity = SEVERITIES.get((alert.severity or "").lower(), "moderate")
    when = ""
    if values["time"] and values["until"]:
        when = f" Od {values['time']} do {values['until']}."
    elif values["until"]:
        when = f" Do {values['until']}."
    level = f" ({values['severity']})" if values["severity"] else ""
    event, headline = _clean(alert.event), _clean(alert.headline)
    advice = _clean(alert.instruction) or headline
    body = _fit(f"OSTRZEŻENIE: {event or headline or 'ostrzeżenie'}{level}.{when} {advice}", settings)
    urgency = (alert.urgency or "").lower()
    certainty = (alert.certainty or "").lower()
    return {
        "kind": "alert",
        "severity": severity,
        "title": (headline or event or "Ostrzeżenie")[:120],
        "body": body,
        "zone_ids": list(alert.zone_ids),
        "event": event[:120] or None,
        "urgency": urgency if urgency in URGENCIES else "unknown",
        "certainty": certainty if certainty in CERTAINTIES else "unknown",
        "category": "Met" if hazard_for(alert.event) in WEATHER else "Safety",
        "expires_at": alert.expires if alert.expires and alert.expires > now else None,
    }


def templated(
    session: Session, alert: IncomingAlert, fields: dict[str, Any], settings: CampaignSettings
) -> dict[str, Any]:
    """`fields` (draft_fields) made from the hazard template of the alert's event instead of the plain text,
    when there is one the CAP can fill: create_draft then fills it from `template_id` and `values` (and links
    the version); the CAP's own severity, urgency, certainty, event, category, title and expiry stay."""
    hazard = hazard_for(alert.event)
    if hazard is None:
        return fields
    values = {key: _clean(value) for key, value in draft_values(alert, settings).items()}
    values = {key: values[key] for key in ("until",) if values.get(key)}
    try:
        filled = templates.fill_for_hazard(session, hazard, values, timezone=settings.timezone)
    except (InvalidTemplate, TemplateNotFound):
        return fields
    plain = {key: value for key, value in fields.items() if key != "body"}
    return {**plain, "template_id": filled["template_id"], "values": values}
