"""What finance and admins may send to the billing API, declared once: `billing.ledger.create_tariff` checks every
tariff against `TariffInput` (from the API and the finance page alike), and the OpenAPI document is generated
from it (app/openapi.py). What needs the ledger — a tariff may not re-price charges already recorded, nor start
when another does — is checked by the ledger itself, after this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from billing.exceptions import InvalidTariff
from syrena_core.schemas import Input

# Larger than any price, fee or correction; the columns hold Numeric(12, 4) at most.
MONEY_LIMIT = Decimal("100000000")
MONEY_SCHEMA = {"type": "string", "description": "decimal"}
# An amount as the API writes it: a decimal string.
Money = Annotated[str, WithJsonSchema(MONEY_SCHEMA)]


def money(raw: Any, what: str, places: int) -> Decimal:
    """An amount of money as finance writes it ("0.18", "0,18", 400), never a float: at most `places` decimals."""
    if isinstance(raw, float | bool) or raw is None:
        raise InvalidTariff(f'{what} must be a decimal number written as a string or an integer, e.g. "0.18"')
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidTariff(f"{what} is not a number: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise InvalidTariff(f"{what} must be zero or more")
    if value >= MONEY_LIMIT:  # before quantize, which fails on a huge exponent ("1e400")
        raise InvalidTariff(f"{what} must be less than {MONEY_LIMIT:,}")
    step = Decimal(1).scaleb(-places)
    if value != value.quantize(step):
        raise InvalidTariff(f"{what} has more than {places} decimal places")
    return value.quantize(step)


def _money(what: str, places: int) -> Callable[[Any], Decimal]:
    return lambda raw: money(raw, what, places)


def _valid_from(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    parsed: datetime | None
    if isinstance(raw, datetime):  # the finance page's, in its local time zone
        parsed = raw
    else:
        try:
            # In UTC: PostgreSQL takes offsets only up to ±15:59 (ISO 8601 allows more).
            value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
            parsed = value.astimezone(UTC) if value is not None and value.tzinfo else value
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise InvalidTariff(f"valid_from must be an ISO 8601 date and time with a zone, got {raw!r}")
    if parsed.tzinfo is None:
        raise InvalidTariff("valid_from needs a time zone (UTC: a trailing Z or +00:00)")
    return parsed


def _smsc(raw: Any) -> str | None:
    if raw is not None and (not isinstance(raw, str) or len(raw.strip()) > 32):
        raise InvalidTariff("smsc is the name of an SMSC connection, at most 32 characters")
    return (raw or "").strip() or None


def _currency(raw: Any) -> str:
    if not isinstance(raw, str) or len(raw) != 3 or not raw.isalpha():
        raise InvalidTariff("currency must be a three-letter code such as PLN")
    return raw.upper()


def _vat_rate(raw: Any) -> Decimal:
    vat = money(raw, "vat_rate", 4)
    if vat >= 1:
        raise InvalidTariff('vat_rate is a fraction, e.g. "0.23" for 23%')
    return vat


class TariffInput(Input):
    """Prices from `valid_from` on (now when omitted), for one SMSC connection or for all without their own."""

    # Other keys are ignored, as they always were.
    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["price_per_part", "monthly_fee"]})
    error: ClassVar[type[Exception]] = InvalidTariff

    valid_from: Annotated[datetime | None, BeforeValidator(_valid_from), Field(default=None)]
    smsc: Annotated[
        str | None,
        BeforeValidator(_smsc),
        WithJsonSchema(
            {
                "type": "string",
                "description": "the SMSC connection it is for; omitted: every connection without its own tariff",
            }
        ),
        Field(default=None),
    ]
    currency: Annotated[
        str, BeforeValidator(_currency), WithJsonSchema({"type": "string", "example": "PLN"}), Field(default=None)
    ]
    price_per_part: Annotated[
        Decimal, BeforeValidator(_money("price_per_part", 4)), WithJsonSchema(MONEY_SCHEMA), Field(default=None)
    ]
    monthly_fee: Annotated[
        Decimal, BeforeValidator(_money("monthly_fee", 2)), WithJsonSchema(MONEY_SCHEMA), Field(default=None)
    ]
    setup_fee: Annotated[
        Decimal, BeforeValidator(_money("setup_fee", 2)), WithJsonSchema(MONEY_SCHEMA), Field(default=None)
    ]
    vat_rate: Annotated[Decimal, BeforeValidator(_vat_rate), WithJsonSchema(MONEY_SCHEMA), Field(default=None)]


# Documented here; billing.ledger.record_correction checks it by hand, as its first check needs the entry itself.
class CorrectionInput(BaseModel):
    """A correction to a ledger entry: a new entry holding the difference."""

    corrects: int = Field(description="the id of the ledger entry corrected")
    amount: Money = Field(description="decimal, at most 4 places, negative for a refund")
    parts: int = Field(0, description="whole number, negative to take parts back")
    note: str = Field(description="why")


# ------------------------------------------------------------------------------------------- answers
# Documented only (app/api/billing.py builds them); schemathesis checks every answer against them. A default of
# None leaves a field out of "required" without making it nullable (the answers always hold it): hence each
# `# type: ignore[assignment]`.
class BillingReportRow(BaseModel):
    key: Any = Field(None, description="the campaign's or zone's id, the SMSC's name, or the day")
    label: str | None = None
    messages: int = None  # type: ignore[assignment]
    parts: int = None  # type: ignore[assignment]
    amount: Money = None  # type: ignore[assignment]


class BillingReportTotals(BaseModel):
    messages: int = None  # type: ignore[assignment]
    parts: int = None  # type: ignore[assignment]
    sms_cost: Money = None  # type: ignore[assignment]
    subscription: Money = None  # type: ignore[assignment]
    setup: Money = None  # type: ignore[assignment]
    net: Money = None  # type: ignore[assignment]
    vat: Money = None  # type: ignore[assignment]
    gross: Money = None  # type: ignore[assignment]
    exercise_messages: int = Field(None, description="exercises and tests: apart from the real totals above")  # type: ignore[assignment]
    exercise_parts: int = None  # type: ignore[assignment]
    exercise_cost: Money = Field(None, description="exercises and tests (ledger kind exercise); in net")  # type: ignore[assignment]
    internal_messages: int = Field(None, description="call-outs to staff, services, media: apart like exercises")  # type: ignore[assignment]
    internal_parts: int = None  # type: ignore[assignment]
    internal_cost: Money = Field(None, description="call-outs (ledger kind internal); in net")  # type: ignore[assignment]


class BillingReport(BaseModel):
    month: str = None  # type: ignore[assignment]
    group_by: str = None  # type: ignore[assignment]
    currency: str = None  # type: ignore[assignment]
    timezone: str = Field(  # type: ignore[assignment]
        None,
        description="the month is this time zone's calendar month ([billing] timezone); days in rows are its "
        "local days",
    )
    rows: list[BillingReportRow] = []
    totals: BillingReportTotals = None  # type: ignore[assignment]
    fees: list[dict[str, Any]] = []


class Tariff(BaseModel):
    id: int = None  # type: ignore[assignment]
    smsc: str | None = None
    valid_from: datetime = None  # type: ignore[assignment]
    currency: str = None  # type: ignore[assignment]
    price_per_part: Money = None  # type: ignore[assignment]
    monthly_fee: Money = None  # type: ignore[assignment]
    setup_fee: Money = None  # type: ignore[assignment]
    vat_rate: Money = None  # type: ignore[assignment]


class Correction(BaseModel):
    id: int = None  # type: ignore[assignment]
    corrects: int = None  # type: ignore[assignment]
    charged_at: datetime = None  # type: ignore[assignment]
    amount: Money = None  # type: ignore[assignment]
    parts: int = None  # type: ignore[assignment]
    note: str | None = None


class Reconciliation(BaseModel):
    id: int = None  # type: ignore[assignment]
    month: str = None  # type: ignore[assignment]
    filename: str | None = None
    rows: int = None  # type: ignore[assignment]
    total_amount: Money = None  # type: ignore[assignment]
    totals: dict[str, Any] = {}
    days: list[dict[str, Any]] = []
    discrepancies: list[dict[str, Any]] = []
