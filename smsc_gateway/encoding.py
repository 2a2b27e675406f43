"""How a text becomes SMS parts: GSM 03.38 when every character fits, else UCS-2."""
from __future__ import annotations

from dataclasses import dataclass

from smpplib import consts, gsm


@dataclass(frozen=True)
class EncodedSms:
    parts: list[bytes]
    data_coding: int
    esm_class: int

    @property
    def encoding(self) -> str:
        return "ucs2" if self.data_coding == consts.SMPP_ENCODING_ISO10646 else "gsm7"


def encode_sms(text: str) -> EncodedSms:
    parts, data_coding, esm_class = gsm.make_parts(text)
    return EncodedSms(parts=parts, data_coding=data_coding, esm_class=esm_class)
