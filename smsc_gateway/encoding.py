"""How a text becomes SMS parts: the one codec of the composer's counter, the preview's parts and cost, the gateway
and the simulator.

GSM 03.38 (3GPP TS 23.038) when every character is in its default alphabet or extension table (the table is the
one below; extension characters take two septets, sent unpacked: one septet per octet, data_coding 0);
otherwise the whole message is UCS-2 (UTF-16BE, data_coding 8; a character outside the BMP takes two units).
One part carries 160 septets / 70 units; a longer text is split into parts of 153 septets / 67 units behind a
6-octet concatenation UDH, and a part never ends inside an escape sequence or a surrogate pair, so every part
reads right on its own.

The backtick ` is not in GSM 03.38. Like any other character outside it, it makes the message UCS-2 (the composer
names it and its transliteration offer turns it into an apostrophe); it is never sent as 0x5F, which phones show
as §.
"""

from __future__ import annotations

import codecs
import random
from dataclasses import dataclass
from functools import lru_cache

from smpplib import consts

from smsc_gateway.pdu import concatenation_udh

# The two data_coding values a text is sent in (smpplib's numbers, short names for the tables below).
_GSM = consts.SMPP_ENCODING_DEFAULT  # 0: the SMSC's default alphabet, GSM 03.38
_UCS2 = consts.SMPP_ENCODING_ISO10646  # 8: UCS-2, sent as UTF-16BE

# GSM 03.38 (3GPP TS 23.038 §6.2.1): the project's ONE table. The gateway's encoder, the composer's counter
# (campaigns/composition.py) and the decoders of the gateway (receipts, MO) and the simulator all use it, so the
# parts the composer counts are the parts the SMSC receives. smpplib's own table (smpplib.gsm) is not used: it
# sends the backtick as 0x5F (§ on a phone) and splits inside escape sequences. Checked against the standard's
# code points and, character by character, against the independent `gsm0338` codec (tests/gateway/test_encoding.py).
# The default alphabet, one character per septet value (0x1B is the escape to the extension table, not a character).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters reached through the 0x1B escape (two septets each): form feed, ^ { } \\ [ ~ ] | €.
GSM_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM_ESCAPE = 0x1B
_GSM_ENCODE = {char: bytes((code,)) for code, char in enumerate(GSM_BASIC) if code != _GSM_ESCAPE}
_GSM_ENCODE.update({char: bytes((_GSM_ESCAPE, code)) for code, char in GSM_EXTENSION.items()})
# Every character GSM 7-bit can carry; anything else (Polish letters, the backtick, emoji, U+001B itself) makes
# the whole message UCS-2.
GSM_CHARACTERS = frozenset(_GSM_ENCODE)
# Byte value -> character for the escape-free fast path; the eighth bit is ignored.
_GSM_CHARMAP = GSM_BASIC * 2


def gsm_decode(septets: bytes) -> str:
    """Decode unpacked GSM 03.38 (one septet per byte).

    Unknown escape sequences fall back to the basic character and 0x1B 0x1B shows as a space, as TS 23.038
    requires; a dangling escape at the end (a badly split part) is dropped (`part_problem` names it).
    """
    if _GSM_ESCAPE not in septets:
        return codecs.charmap_decode(septets, "strict", _GSM_CHARMAP)[0]
    chars = []
    escaped = False
    for septet in septets:
        septet &= 0x7F
        if escaped:
            chars.append(GSM_EXTENSION.get(septet, " " if septet == _GSM_ESCAPE else GSM_BASIC[septet]))
            escaped = False
        elif septet == _GSM_ESCAPE:
            escaped = True
        else:
            chars.append(GSM_BASIC[septet])
    return "".join(chars)


def gsm_encode_lossy(text: str) -> bytes:
    """Encode to unpacked GSM 03.38, with "?" for characters outside the alphabet."""
    return b"".join([_GSM_ENCODE.get(char, b"?") for char in text])


def _ucs2_alphabet(data_coding: int) -> int:
    """0x10-0x1F carry a message class (e.g. flash) and name the alphabet in bits 2-3."""
    if data_coding & 0xF0 == 0x10:
        return {0x00: _GSM, 0x08: _UCS2}.get(data_coding & 0x0C, 3)
    return data_coding


def decode_text(data_coding: int, payload: bytes) -> str:
    """GSM for 0, UCS-2 for 8, latin-1 for 3 and for anything else; 0x10-0x1F (a message class, e.g. flash)
    name the alphabet in bits 2-3."""
    data_coding = _ucs2_alphabet(data_coding)
    if data_coding == _GSM:
        return gsm_decode(payload)
    if data_coding == _UCS2:
        return payload.decode("utf-16-be", errors="replace")
    return payload.decode("latin-1")


def part_problem(data_coding: int, payload: bytes) -> str | None:
    """Why this one part of a message would show garbage on a phone that displays it alone (None: it would not).

    A phone may show a part before the next arrives, or never get the next one: each part must decode on its
    own, so a split must never leave an escape at the end of a GSM part or cut a UTF-16 surrogate pair."""
    data_coding = _ucs2_alphabet(data_coding)
    if data_coding == _GSM:
        # Escapes pair up from the start of the run of them at the end (the octet before it ends any escape):
        # an odd run leaves the last one alone. C-speed, the simulator checks every part it receives.
        escapes = len(payload) - len(payload.rstrip(b"\x1b\x9b"))
        return "ends with a lone GSM escape (0x1B)" if escapes % 2 else None
    if data_coding == _UCS2:
        try:
            payload.decode("utf-16-be")  # strict: refuses an odd length and any unpaired surrogate
        except UnicodeDecodeError:
            if len(payload) % 2:
                return "odd number of octets for UTF-16"
            return "a lone UTF-16 surrogate (a character cut in two)"
    return None


# One part: 160 septets / 140 octets; a part behind the 6-octet concatenation header: 153 septets / 134 octets.
_SINGLE_PART_LIMIT = {_GSM: consts.SEVENBIT_LENGTH, _UCS2: consts.UCS2_LENGTH}
_MULTI_PART_LIMIT = {_GSM: consts.SEVENBIT_PART_SIZE, _UCS2: consts.UCS2_PART_SIZE}
MAX_PARTS = 255  # a concatenation header numbers the parts in one octet
_REPLACEMENT_UCS2 = "\ufffd".encode("utf-16-be")


def _ucs2_units(text: str) -> list[bytes]:
    try:
        return [char.encode("utf-16-be") for char in text]  # an astral character: one 4-octet unit, never cut
    except UnicodeEncodeError:  # a lone surrogate (only broken input has one): sent as U+FFFD, counted alike
        return [
            char.encode("utf-16-be", errors="surrogatepass") if not "\ud800" <= char <= "\udfff" else _REPLACEMENT_UCS2
            for char in text
        ]


def split_text(text: str) -> tuple[int, list[bytes]]:
    """Choose GSM when every character is in GSM 03.38, otherwise UCS-2 (UTF-16BE), and split into part payloads
    (without UDH): one part up to 160 septets / 70 UTF-16 units, else parts of 153 septets / 67 units that never
    cut an escape sequence or a surrogate pair. No limit on the number of parts (the counter counts any text)."""
    try:
        data_coding = _GSM
        units = [_GSM_ENCODE[char] for char in text]
    except KeyError:
        data_coding = _UCS2
        units = _ucs2_units(text)
    if sum(map(len, units)) <= _SINGLE_PART_LIMIT[data_coding]:
        return data_coding, [b"".join(units)]
    limit = _MULTI_PART_LIMIT[data_coding]
    parts: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for unit in units:
        if size + len(unit) > limit:
            parts.append(b"".join(current))
            current, size = [], 0
        current.append(unit)
        size += len(unit)
    parts.append(b"".join(current))
    return data_coding, parts


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
        return "ucs2" if self.data_coding & 0x0C == _UCS2 else "gsm7"


@dataclass(frozen=True)
class Segmentation:
    """What the SMSC will receive for a text, without the headers: the counter's view of `encode_sms`."""

    encoding: str  # "gsm7" or "ucs2"
    payloads: tuple[bytes, ...]  # one per part

    @property
    def parts(self) -> int:
        return len(self.payloads)

    @property
    def data_coding(self) -> int:
        return _UCS2 if self.encoding == "ucs2" else _GSM


def characters_outside_gsm(text: str) -> list[str]:
    """The distinct characters that make a text UCS-2, in order of first appearance."""
    return list(dict.fromkeys(c for c in text if c not in GSM_CHARACTERS))


@lru_cache(maxsize=256)
def segment(text: str) -> Segmentation:
    """The parts `encode_sms` sends, however many (the counter shows a too-long text's parts too)."""
    data_coding, payloads = split_text(text)
    return Segmentation("ucs2" if data_coding == _UCS2 else "gsm7", tuple(payloads))


def deliverable(text: str) -> Segmentation:
    """`segment`, refusing a text of more parts than a concatenation header can number (TextTooLong): what the
    gateway sends, and what the simulator delivers as MO."""
    segmentation = segment(text)
    if segmentation.parts > MAX_PARTS:
        raise TextTooLong(f"the text needs {segmentation.parts} SMS parts, at most {MAX_PARTS} can be concatenated")
    return segmentation


# A campaign sends one text (per language) to every recipient: encoding it once per text, not per message,
# saves the session thread's time. Recipients of one long text share its concatenation reference, which
# only has to tell apart the messages one phone is reassembling.
@lru_cache(maxsize=256)
def encode_sms(text: str, flash: bool = False) -> EncodedSms:
    segmentation = deliverable(text)
    payloads = segmentation.payloads
    ucs2 = segmentation.encoding == "ucs2"
    data_coding = (_FLASH_UCS2 if ucs2 else _FLASH_GSM) if flash else (_UCS2 if ucs2 else _GSM)
    if len(payloads) == 1:
        return EncodedSms(parts=payloads, data_coding=data_coding, esm_class=0)
    reference = random.randrange(256)
    parts = tuple(
        concatenation_udh(reference, len(payloads), number) + payload
        for number, payload in enumerate(payloads, start=1)
    )
    return EncodedSms(parts=parts, data_coding=data_coding, esm_class=consts.SMPP_GSMFEAT_UDHI)
