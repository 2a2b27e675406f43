"""Importing a registry of residents the city already has (an older SMS system, a paper list)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from subscribers.exceptions import (
    SubscriberError,
    SubscriberExists,
    SubscriberSuppressed,
)
from subscribers.gazetteer import GeocodeStatus, LocalGazetteer
from subscribers.models import SubscriberSource
from subscribers.service import LANGUAGES, register_subscriber
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.text import check_characters

MAX_ROWS = 100_000


@dataclass(frozen=True)
class RegistryImport:
    added: int
    skipped: int


def _location(gazetteer: LocalGazetteer, session: Session, row: Mapping[str, Any], line: int) -> dict[str, Any]:
    lat, lon = (row.get("lat") or "").strip(), (row.get("lon") or "").strip()
    label = (row.get("label") or "").strip() or "home"
    if lat and lon:
        try:
            return {"lat": float(lat), "lon": float(lon), "label": label, "address": row.get("address") or None}
        except ValueError:
            raise SubscriberError(f"line {line}: lat/lon are not numbers") from None
    address = (row.get("address") or "").strip()
    if not address:
        raise SubscriberError(f"line {line}: give an address or lat and lon")
    result = gazetteer.geocode(session, address)
    if result.status != GeocodeStatus.FOUND:
        raise SubscriberError(
            f"line {line}: the address {address!r} is not in the gazetteer"
            + (" (several match)" if result.status == GeocodeStatus.CHOOSE else "")
        )
    match = result.found
    assert match is not None  # FOUND comes with its match
    return {"lat": match.lat, "lon": match.lon, "label": label, "address": match.label}


def import_registry(
    session: Session, rows: Iterable[Mapping[str, Any]], consent_source: str, actor: User | None
) -> RegistryImport:
    """CSV columns: phone, and address or lat/lon; optional label, language. All rows or none; numbers
    already subscribed or opted out are skipped (an opt-out is never overridden by an import)."""
    gazetteer = LocalGazetteer()
    added = skipped = 0
    for line, row in enumerate(rows, start=2):
        if line - 1 > MAX_ROWS:
            raise SubscriberError(f"at most {MAX_ROWS} rows per file")
        for column, value in row.items():
            # A NUL or another control character cannot be stored (PostgreSQL refuses NUL outright).
            check_characters(value, f"line {line}, column {column}", SubscriberError, line_breaks=False)
        language = (row.get("language") or "pl").strip() or "pl"
        if language not in LANGUAGES:
            raise SubscriberError(f"line {line}: language must be one of {', '.join(LANGUAGES)}")
        try:
            register_subscriber(
                session,
                row.get("phone"),
                [_location(gazetteer, session, row, line)],
                verified=True,
                language=language,
                source=SubscriberSource.IMPORT.value,
                consent_version=f"import:{consent_source}"[:32],
            )
            added += 1
        except (SubscriberExists, SubscriberSuppressed):
            skipped += 1
        except SubscriberError as e:
            raise SubscriberError(str(e) if str(e).startswith("line ") else f"line {line}: {e}") from None
    record(
        session,
        "subscriber.import",
        actor,
        "subscriber",
        None,
        {"added": added, "skipped": skipped, "consent_source": consent_source},
    )
    return RegistryImport(added, skipped)
