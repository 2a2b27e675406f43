"""Audit API: the append-only log of who changed what, for administrators."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import jsonify, request

from app.api.blueprint import bp
from app.api.common import ApiError, page_params, requires
from app.database import db
from app.openapi import components, op, ref
from syrena_core import localtime
from syrena_core.accounts import Role
from syrena_core.audit import AuditPage, audit_dict, audit_entries

FILTERS = ("actor", "action", "object_type", "object_id")


def _time(name: str, local_zone: str | None) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None and local_zone:  # the admin page's date inputs: the city's days
            return localtime.bound_from_local(value, local_zone)
        # In UTC: PostgreSQL takes offsets only up to ±15:59 (ISO 8601 allows more).
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ApiError(
            400, "invalid_parameter", f"{name} must be an ISO 8601 date or time", {"parameter": name}
        ) from None


def audit_filters(local_zone: str | None = None) -> dict:
    """The query string's filters (shared by the API and the admin page). A time without an offset is UTC, or the
    wall-clock time of `local_zone` (the admin page passes [app] timezone)."""
    filters: dict[str, str | datetime | None] = {
        name: (request.args.get(name) or "").strip()[:254] or None for name in FILTERS
    }
    filters["since"], filters["until"] = _time("since", local_zone), _time("until", local_zone)
    return filters


@bp.get("/audit")
@requires(Role.ADMIN)
def list_audit():
    limit, offset = page_params()
    total, rows = audit_entries(db(), **audit_filters(), limit=limit, offset=offset)
    return jsonify({"total": total, "limit": limit, "offset": offset, "items": [audit_dict(r) for r in rows]})


_STR_PARAM = {"schema": {"type": "string", "maxLength": 254}, "in": "query"}
_TIME_PARAM = {"schema": {"type": "string", "format": "date-time"}, "in": "query"}
OPENAPI_PATHS = {
    "/api/v1/audit": {
        "get": op(
            "The audit log, newest first (admin). `action` is exact, or a prefix ending in '.' (e.g. `zone.`)",
            "200",
            ref("AuditPage"),
            params=[
                {"name": "actor", "description": "part of the actor's e-mail", **_STR_PARAM},
                {"name": "action", **_STR_PARAM},
                {"name": "object_type", **_STR_PARAM},
                {"name": "object_id", **_STR_PARAM},
                {"name": "since", "description": "from this time (inclusive)", **_TIME_PARAM},
                {"name": "until", "description": "before this time", **_TIME_PARAM},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
        )
    },
}
OPENAPI_SCHEMAS = components(AuditPage)
