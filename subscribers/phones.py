"""Phone numbers: anything a resident types, stored as E.164."""

from __future__ import annotations

import phonenumbers

from subscribers.exceptions import CountryNotAllowed, InvalidPhoneNumber, NotAMobileNumber

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


MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normalise_mobile(raw: object, region: str = DEFAULT_REGION) -> str:
    """A number that can receive SMS: landlines are refused with a message that says so."""
    phone = normalise_phone(raw, region)
    if phonenumbers.number_type(phonenumbers.parse(phone)) not in MOBILE_TYPES:
        raise NotAMobileNumber(f"{phone} is not a mobile number; alerts come by SMS")
    return phone


# phonenumbers' region of numbers that belong to no country (satellite +881, +882 international networks...).
NON_GEOGRAPHIC = "001"


def country_of(phone: str) -> str:
    """The ISO 3166 alpha-2 country of an E.164 number; "001" for one of no country (satellite, +882)."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or NON_GEOGRAPHIC


def is_allowed_country(phone: str, allowed: tuple[str, ...]) -> bool:
    return country_of(phone) in allowed


def require_allowed_country(phone: str, allowed: tuple[str, ...]) -> None:
    """Refuse, before anything is stored or sent, a number whose SMS the city does not pay for: texting
    far-away or satellite numbers is how SMS pumping turns a sign-up form into revenue for someone else."""
    if is_allowed_country(phone, allowed):
        return
    country = country_of(phone)
    where = (
        "a number of no country (satellite or international network)"
        if country == NON_GEOGRAPHIC
        else f"a number of country {country}"
    )
    raise CountryNotAllowed(
        f"{phone} is {where}; codes and alerts are texted only to numbers "
        f"of {', '.join(allowed)} ([subscribers] allowed_countries): use such a number"
    )


def masked_phone(phone: str | None) -> str:
    """For staff who may not see residents' numbers (finance, approvers): "+48 601 *** *12" — the country,
    the network prefix and the last two digits, enough to tell a few numbers apart, not to call one."""
    if not phone:
        return "—"
    try:
        number = phonenumbers.parse(phone, None)
        country, national = str(number.country_code), str(number.national_number)
    except phonenumbers.NumberParseException:
        country, national = "", phone.lstrip("+")
    if len(national) < 6:
        return f"+{country} ***" if country else "***"
    return f"+{country} {national[:3]} *** *{national[-2:]}" if country else f"{national[:3]} *** *{national[-2:]}"


def mask_phone(phone: str) -> str:
    """For logs: enough to tell numbers apart, not enough to call them."""
    return phone[:4] + "…" + phone[-3:] if len(phone) > 7 else "…"
