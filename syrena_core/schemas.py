"""Building blocks of the request models each domain declares once (campaigns/schemas.py, subscribers/schemas.py):
the domain service validates with the model, and the API's OpenAPI document is generated from it (app/openapi.py).

Each rule is a pydantic "before" validator that raises the message a user sees, naming what to fix; pydantic's
own type check runs after it on a value that already passed, so no library-worded error reaches anyone.
`Input.check` turns the first problem into the domain's own error (`error`), which the API maps to its status
in one place (app/api/common.py) and the staff UI shows as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from syrena_core.text import check_characters


def choice(allowed: tuple[str, ...], what: str, default: str | None = None) -> Callable[[Any], Any]:
    """The rule of Choice, for a value checked on its own."""

    def check(value: Any) -> Any:
        value = (value or default) if default else value
        if value not in allowed:
            raise ValueError(f"{what} must be one of {', '.join(allowed)}")
        return value

    return check


def Choice(allowed: tuple[str, ...], what: str, default: str | None = None, description: str | None = None) -> Any:
    """One of `allowed` (a missing or empty value is `default` when there is one)."""
    return Annotated[
        Literal[allowed],
        BeforeValidator(choice(allowed, what, default)),
        Field(default=default, description=description),
    ]


def _text(what: str, limit: int, line_breaks: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or len(value.strip()) > limit:
            raise ValueError(f"{what} is text of at most {limit} characters")
        check_characters(value.strip(), what, ValueError, line_breaks=line_breaks)
        return value.strip()

    return check


def Text(what: str, limit: int, line_breaks: bool = False, description: str | None = None) -> Any:
    """Optional text of at most `limit` characters once trimmed (blank is none), no invisible characters."""
    return Annotated[
        Annotated[str, Field(max_length=limit)] | None,
        BeforeValidator(_text(what, limit, line_breaks)),
        Field(default=None, description=description),
    ]


def ref(model: str) -> dict[str, str]:
    """In a WithJsonSchema: the schema of another declared model, by name, for a value the model itself does not
    validate (a later step does). app/openapi.py turns it into a $ref (pydantic would try to resolve one here)."""
    return {"x-model": model}


class Input(BaseModel):
    """A request body: unknown fields are refused by name; defaults are validated too (a missing choice gets the
    same message as a wrong one)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
    error: ClassVar[type[Exception]] = ValueError
    unknown_message: ClassVar[str] = "unknown field(s)"

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.model_config.get("extra") == "forbid":
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(f"{cls.unknown_message}: {', '.join(map(str, unknown))}")
        return data

    @classmethod
    def check(cls, data: Any) -> Any:
        """The fields checked and normalised, or `error` saying what to fix (the first problem, in the order the
        fields are declared)."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            problem = e.errors(include_url=False)[0]
            cause = problem.get("ctx", {}).get("error")
            error = cls.error(
                str(cause)
                if isinstance(cause, ValueError)
                else f"{'.'.join(map(str, problem['loc'])) or 'the body'}: {problem['msg']}"
            )
            # Which field, for a form that marks it (SubscriberError declares the attribute).
            error.field = str(problem["loc"][0]) if problem["loc"] else None  # type: ignore[attr-defined]
            raise error from None
