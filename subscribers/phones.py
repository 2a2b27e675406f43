"""Phone numbers: anything a resident types, stored as E.164."""
from __future__ import annotations

import phonenumbers

from subscribers.exceptions import InvalidPhoneNumber

DEFAULT_REGION = "PL"


def normalise_phone(raw: object, region: str = DEFAULT_REGION) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("a phone number is required")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """For logs: enough to tell numbers apart, not enough to call them."""
    return phone[:4] + "…" + phone[-3:] if len(phone) > 7 else "…"
