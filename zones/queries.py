"""Zone questions that are not about reach (that is zones.reach): reading a coordinate, keeping the
locations' table in spatial order."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from zones.exceptions import ZoneError

# Locations written in random order lie scattered over the table, and counting a zone then reads a page per
# location; stored in the order of their GiST index, neighbours share pages (about 2× faster for a city).
_CLUSTER_LOCATIONS = text("CLUSTER subscriber_location USING idx_subscriber_location_geom; ANALYZE subscriber_location")


def coordinate(value: Any, name: str, low: float, high: float) -> float:
    """A latitude or longitude from a query string or JSON, or ZoneError naming the problem."""
    if value is None or value == "":
        raise ZoneError(f"{name} is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZoneError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ZoneError(f"{name} {value} is outside {low:g}…{high:g}")
    return number


def cluster_locations(session: Session) -> None:
    """Rewrite subscriber_location in spatial order, after a bulk load (demo, import). Locks the table
    against writes and reads until the caller commits: a maintenance step, not for busy hours."""
    session.execute(_CLUSTER_LOCATIONS)
