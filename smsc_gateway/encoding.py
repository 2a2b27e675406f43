"""How a text becomes SMS parts: GSM 03.38 when every character fits (the extension table's
characters take two septets), else UCS-2; long texts split with a concatenation UDH."""
from __future__ import annotations

from dataclasses import dataclass

from smpplib import consts, gsm

# Data coding scheme with a message class (GSM 03.38 §4): class 0 = "flash", shown at once and not stored.
_FLASH_GSM = 0x10
_FLASH_UCS2 = 0x18


@dataclass(frozen=True)
class EncodedSms:
    parts: list[bytes]
    data_coding: int
    esm_class: int

    @property
    def encoding(self) -> str:
        return "ucs2" if self.data_coding & 0x0C == consts.SMPP_ENCODING_ISO10646 else "gsm7"


def encode_sms(text: str, flash: bool = False) -> EncodedSms:
    parts, data_coding, esm_class = gsm.make_parts(text)
    if flash:
        data_coding = _FLASH_UCS2 if data_coding == consts.SMPP_ENCODING_ISO10646 else _FLASH_GSM
    return EncodedSms(parts=parts, data_coding=data_coding, esm_class=esm_class)
