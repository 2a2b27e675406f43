"""What staff and residents may send about a subscriber, and what they get back — declared once.

`subscribers.service` checks locations against `Location` (for the API, the public page, imports and SMS alike),
the API checks its bodies against the input models, and the OpenAPI document is generated from all of them
(app/openapi.py). Phone numbers are checked by subscribers.phones (which needs the numbering plan), addresses by
the gazetteer: here only their documented shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from subscribers.exceptions import InvalidLocation, SubscriberError
from syrena_core.schemas import Input, choice, ref
from syrena_core.text import check_characters

# Languages a resident may choose (texts in others are not written); Polish is the default.
LanguageCode = Literal["pl", "en", "uk", "de"]
LANGUAGES: tuple[str, ...] = get_args(LanguageCode)
# Informational topics a resident may choose; emergency alerts are not a topic: they always come.
Topic = Literal["water", "traffic", "weather", "events"]
TOPICS: tuple[str, ...] = get_args(Topic)
MAX_LOCATIONS = 5


def _coordinate(name: str, low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        if not low <= value <= high:
            raise ValueError(f"{name} {value} is outside {low}…{high}")
        return float(value)

    return check


def _label(value: Any) -> str:
    label = value or "home"
    if not isinstance(label, str) or len(label) > 40:
        raise ValueError("a location's label is text of at most 40 characters")
    check_characters(label, "a location's label", ValueError, line_breaks=False)
    return label


def _address(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise ValueError("an address is text of at most 200 characters")
    check_characters(value, "an address", ValueError, line_breaks=False)
    return value


Phone = Annotated[Any, WithJsonSchema({"type": "string", "example": "+48601234567"}), Field(default=None)]
# Polish when left out; null or another value is refused.
Language = Annotated[
    LanguageCode,
    BeforeValidator(choice(LANGUAGES, "language")),
    Field(default="pl"),
]


class Location(Input):
    """A place a subscriber is warned for: a point, a label (home, work, …) and the address it came from."""

    # Other keys are ignored, as they always were (a client may send back what it was given).
    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["lat", "lon"]})
    error: ClassVar[type[Exception]] = InvalidLocation

    lat: Annotated[float, Field(ge=-90, le=90), BeforeValidator(_coordinate("lat", -90, 90)), Field(default=None)]
    lon: Annotated[float, Field(ge=-180, le=180), BeforeValidator(_coordinate("lon", -180, 180)), Field(default=None)]
    label: Annotated[Annotated[str, Field(max_length=40)], BeforeValidator(_label), Field(default="home")]
    address: Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_address), Field(default=None)]


_LOCATION = ref("Location")


class SubscriberInput(Input):
    """A subscriber added by staff (admin): the phone, its places, whether the phone is known to be theirs."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["phone"]})
    error: ClassVar[type[Exception]] = SubscriberError

    phone: Phone
    # Each location is checked by Location in subscribers.service.register_subscriber (the import path too).
    locations: Annotated[
        Any, WithJsonSchema({"type": "array", "items": _LOCATION, "maxItems": MAX_LOCATIONS}), Field(default=None)
    ]
    location: Annotated[Any, WithJsonSchema(_LOCATION), Field(default=None)]
    verified: Annotated[bool, BeforeValidator(lambda v: _strict_bool(v, "verified")), Field(default=False)]
    language: Language


def _strict_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false")
    return value


def _topics(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t in TOPICS for t in value):
        raise ValueError(f"topics must be a list of: {', '.join(TOPICS)}")
    return list(dict.fromkeys(value))  # each at most once


_PIN = {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}
Pin = Annotated[Any, WithJsonSchema(_PIN), Field(default=None)]
Address = Annotated[Any, WithJsonSchema({"type": "string", "example": "ul. Głogowska 10"}), Field(default=None)]


class PublicPlace(BaseModel):
    """An address, or a pin on the map (checked by the gazetteer and Location)."""

    address: Address
    location: Pin
    label: Annotated[Any, WithJsonSchema({"type": "string", "example": "work"}), Field(default=None)]


class PublicSubscriptionInput(Input):
    """A resident asks for a subscription (public page or another site): a code is texted to the phone."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["phone"]})
    error: ClassVar[type[Exception]] = SubscriberError

    phone: Phone
    address: Address
    location: Pin
    second: Annotated[Any, WithJsonSchema(ref("PublicPlace")), Field(default=None)]
    language: Language
    topics: Annotated[
        list[Topic],
        BeforeValidator(_topics),
        Field(default_factory=list),
    ]


class CodeRequest(BaseModel):
    """Only the phone (and the language of the SMS with the code: Polish when none or another)."""

    model_config = ConfigDict(json_schema_extra={"required": ["phone"]})
    phone: Phone
    language: Annotated[Any, WithJsonSchema({"type": "string", "enum": list(LANGUAGES)}), Field(default=None)]


class CodeConfirmation(BaseModel):
    model_config = ConfigDict(json_schema_extra={"required": ["phone", "code"]})
    phone: Phone
    code: Annotated[Any, WithJsonSchema({"type": "string", "example": "123456"}), Field(default=None)]


# ------------------------------------------------------------------------------------------- answers
# Documented only (the API builds them); schemathesis checks every answer against them. No field is required.
# A default of None leaves a field out of "required" without making it nullable in the schema (the answers never
# hold null there), which the annotations cannot say: hence each `# type: ignore[assignment]`.
class CodeSent(BaseModel):
    status: Literal["code_sent"] = None  # type: ignore[assignment]
    expires_in: int = None  # type: ignore[assignment]


class ZoneSummary(BaseModel):
    id: int = None  # type: ignore[assignment]
    name: str = None  # type: ignore[assignment]
    code: str = None  # type: ignore[assignment]


class PublicVerification(BaseModel):
    action: Literal["subscribed", "unsubscribed", "export"] = None  # type: ignore[assignment]
    status: str = None  # type: ignore[assignment]
    zones: list[ZoneSummary] = []
    data: Annotated[dict[str, Any], Field(description="for export: everything stored about the phone")] = None  # type: ignore[assignment]


class Subscriber(BaseModel):
    id: int = None  # type: ignore[assignment]
    phone: str = None  # type: ignore[assignment]
    status: str = None  # type: ignore[assignment]
    language: str = None  # type: ignore[assignment]
    locations: int = None  # type: ignore[assignment]
