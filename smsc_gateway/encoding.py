"""How a text becomes SMS parts: the one codec of the composer's counter, the preview's parts and cost, the gateway
and the simulator.

GSM 03.38 (3GPP TS 23.038) when every character is in its default alphabet or extension table (the table lives in
smsc_gateway/pdu.py; extension characters take two septets, sent unpacked: one septet per octet, data_coding 0);
otherwise the whole message is UCS-2 (UTF-16BE, data_coding 8; a character outside the BMP takes two units).
One part carries 160 septets / 70 units; a longer text is split into parts of 153 septets / 67 units behind a
6-octet concatenation UDH, and a part never ends inside an escape sequence or a surrogate pair, so every part
reads right on its own.

The backtick ` is not in GSM 03.38. Like any other character outside it, it makes the message UCS-2 (the composer
names it and its transliteration offer turns it into an apostrophe); it is never sent as 0x5F, which phones show
as §.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from smsc_gateway.pdu import (
    DATA_CODING_GSM,
    DATA_CODING_UCS2,
    ESM_CLASS_UDHI,
    GSM_CHARACTERS,
    MAX_PARTS,
    concatenation_udh,
    split_text,
)

# Data coding scheme with a message class (GSM 03.38 §4): class 0 = "flash", shown at once and not stored.
_FLASH_GSM = 0x10
_FLASH_UCS2 = 0x18


class TextTooLong(ValueError):
    """More parts than a concatenation header can number (255): the composer refuses such texts long before."""


@dataclass(frozen=True)
class EncodedSms:
    parts: tuple[bytes, ...]
    data_coding: int
    esm_class: int

    @property
    def encoding(self) -> str:
        return "ucs2" if self.data_coding & 0x0C == DATA_CODING_UCS2 else "gsm7"


@dataclass(frozen=True)
class Segmentation:
    """What the SMSC will receive for a text, without the headers: the counter's view of `encode_sms`."""

    encoding: str                # "gsm7" or "ucs2"
    payloads: tuple[bytes, ...]  # one per part

    @property
    def parts(self) -> int:
        return len(self.payloads)


def characters_outside_gsm(text: str) -> list[str]:
    """The distinct characters that make a text UCS-2, in order of first appearance."""
    return list(dict.fromkeys(c for c in text if c not in GSM_CHARACTERS))


@lru_cache(maxsize=256)
def segment(text: str) -> Segmentation:
    """The parts `encode_sms` sends, however many (the counter shows a too-long text's parts too)."""
    data_coding, payloads = split_text(text)
    return Segmentation("ucs2" if data_coding == DATA_CODING_UCS2 else "gsm7", tuple(payloads))


# A campaign sends one text (per language) to every recipient: encoding it once per text, not per message,
# saves the session thread's time. Recipients of one long text share its concatenation reference, which
# only has to tell apart the messages one phone is reassembling.
@lru_cache(maxsize=256)
def encode_sms(text: str, flash: bool = False) -> EncodedSms:
    segmentation = segment(text)
    payloads = segmentation.payloads
    if len(payloads) > MAX_PARTS:
        raise TextTooLong(f"the text needs {len(payloads)} SMS parts, at most {MAX_PARTS} can be concatenated")
    ucs2 = segmentation.encoding == "ucs2"
    data_coding = (_FLASH_UCS2 if ucs2 else _FLASH_GSM) if flash else (DATA_CODING_UCS2 if ucs2 else DATA_CODING_GSM)
    if len(payloads) == 1:
        return EncodedSms(parts=payloads, data_coding=data_coding, esm_class=0)
    reference = random.randrange(256)
    parts = tuple(concatenation_udh(reference, len(payloads), number) + payload
                  for number, payload in enumerate(payloads, start=1))
    return EncodedSms(parts=parts, data_coding=data_coding, esm_class=ESM_CLASS_UDHI)
