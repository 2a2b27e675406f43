"""What a text costs as SMS: encoding, parts, the characters forcing UCS-2; transliteration; templates.

Counting uses the very codec the gateway sends with (smsc_gateway.encoding: GSM 03.38 from the project's one
table, else UCS-2, split so that no part ends inside an escape or a surrogate pair), so the composer's numbers are
the SMSC's numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from campaigns.exceptions import InvalidCampaign
from smsc_gateway.encoding import characters_outside_gsm, segment
from syrena_core.text import TemplateInvalid, fill_placeholders

# Polish diacritics and the typography word processors put in: all outside GSM 7-bit. The backtick (not in
# GSM 03.38 either) becomes an apostrophe.
TRANSLITERATION = str.maketrans(
    {
        "ą": "a",
        "ć": "c",
        "ę": "e",
        "ł": "l",
        "ń": "n",
        "ó": "o",
        "ś": "s",
        "ź": "z",
        "ż": "z",
        "Ą": "A",
        "Ć": "C",
        "Ę": "E",
        "Ł": "L",
        "Ń": "N",
        "Ó": "O",
        "Ś": "S",
        "Ź": "Z",
        "Ż": "Z",
        "„": '"',
        "”": '"',
        "“": '"',
        "‚": "'",
        "’": "'",
        "‘": "'",
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
        "«": '"',
        "»": '"',
        "`": "'",
        "´": "'",
    }
)


@dataclass(frozen=True)
class TextAnalysis:
    characters: int
    encoding: str  # "gsm7" or "ucs2"
    parts: int
    ucs2_characters: list[str] = field(default_factory=list)  # distinct characters forcing UCS-2, in order
    per_part: int = 160  # characters (septets for GSM) one part carries at this length

    def as_dict(self) -> dict:
        return {
            "characters": self.characters,
            "encoding": self.encoding,
            "parts": self.parts,
            "ucs2_characters": self.ucs2_characters,
            "per_part": self.per_part,
        }


def forcing_ucs2(text: str) -> list[str]:
    return characters_outside_gsm(text)


def analyse(text: str, flash: bool = False) -> TextAnalysis:
    """The parts the gateway will send (flash changes the data coding only, not the parts)."""
    if not text:
        return TextAnalysis(0, "gsm7", 0, [], 160)
    segmentation = segment(text)
    parts = segmentation.parts
    ucs2 = segmentation.encoding == "ucs2"
    single, concatenated = (70, 67) if ucs2 else (160, 153)  # characters per part (a concatenated part carries a UDH)
    per_part = single if parts == 1 else concatenated
    return TextAnalysis(len(text), segmentation.encoding, parts, forcing_ucs2(text) if ucs2 else [], per_part)


def transliterate(text: str) -> str:
    return text.translate(TRANSLITERATION)


@dataclass(frozen=True)
class TransliterationOffer:
    text: str
    before: TextAnalysis
    after: TextAnalysis

    def saving(self, recipients: int, price_per_part: Decimal) -> Decimal:
        return (self.before.parts - self.after.parts) * recipients * price_per_part


def offer_transliteration(text: str) -> TransliterationOffer:
    plain = transliterate(text)
    return TransliterationOffer(plain, analyse(text), analyse(plain))


# Placeholders a template may use; unknown ones are refused rather than sent literally. The first five the server
# fills itself (standard_values: the target's zone names, the local date and time, the title); the others name
# what only the sender knows (until when, a phone number, a place, details such as a missing person's
# description) and come as the request's `values` (issue 16's hazard templates, campaigns.templates).
PLACEHOLDERS = ("zone", "zones", "date", "time", "title", "until", "phone", "place", "details")
AUTOMATIC = PLACEHOLDERS[:5]
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")


def standard_values(zone_names: Sequence[str], title: str | None, now: datetime, timezone: str) -> dict[str, str]:
    """The placeholders the server fills: {zone}/{zones} the target's zone names, {date}/{time} local, {title}."""
    local = now.astimezone(ZoneInfo(timezone))
    names = ", ".join(zone_names)
    return {
        "zone": names,
        "zones": names,
        "date": local.strftime("%d.%m.%Y"),
        "time": local.strftime("%H:%M"),
        "title": title or "",
    }


def placeholders_in(template: str) -> list[str]:
    """The placeholder names a text uses, in order, once each (literal {{ and }} are not placeholders)."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)))


def render_template(template: str, values: Mapping[str, str], what: str = "the text") -> str:
    """Placeholders filled by substitution (syrena_core.text): never str.format and its mini-language. A known
    placeholder without a value is refused too, naming it: a warning must not go out with a hole in it."""
    try:
        filled = fill_placeholders(template, values, PLACEHOLDERS)
    except TemplateInvalid as e:
        raise InvalidCampaign(f"{what}: {e}" if what != "the text" else str(e)) from None
    missing = [name for name in placeholders_in(template) if name not in values]
    if missing:
        raise InvalidCampaign(
            f"{what} uses the placeholder {{{missing[0]}}}, which has no value: give it in values "
            f'(e.g. "values": {{"{missing[0]}": "…"}}) or remove it from the text'
        )
    return filled
