"""How a text becomes SMS parts: GSM 03.38 when every character fits (the extension table's
characters take two septets), else UCS-2; long texts split with a concatenation UDH."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from smpplib import consts, gsm

# Data coding scheme with a message class (GSM 03.38 §4): class 0 = "flash", shown at once and not stored.
_FLASH_GSM = 0x10
_FLASH_UCS2 = 0x18


@dataclass(frozen=True)
class EncodedSms:
    parts: tuple[bytes, ...]
    data_coding: int
    esm_class: int

    @property
    def encoding(self) -> str:
        return "ucs2" if self.data_coding & 0x0C == consts.SMPP_ENCODING_ISO10646 else "gsm7"


# A campaign sends one text (per language) to every recipient: encoding it once per text, not per message,
# saves the session thread's time. Recipients of one long text share its concatenation reference, which
# only has to tell apart the messages one phone is reassembling.
@lru_cache(maxsize=256)
def encode_sms(text: str, flash: bool = False) -> EncodedSms:
    parts, data_coding, esm_class = gsm.make_parts(text)
    if flash:
        data_coding = _FLASH_UCS2 if data_coding == consts.SMPP_ENCODING_ISO10646 else _FLASH_GSM
    return EncodedSms(parts=tuple(parts), data_coding=data_coding, esm_class=esm_class)
