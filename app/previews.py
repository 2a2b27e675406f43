"""The per-user budget of area previews (zones, a campaign's drawn areas): each one runs a spatial count over
every resident, so one user — or one stolen token — may ask for at most `[zones] preview_limit` of them.
Counted in Redis like every other limit (shared by all web processes)."""

from __future__ import annotations

from flask import current_app, jsonify

from app.public import seconds_to_wait


def over_budget(user_id: int) -> int | None:
    """Seconds to wait when this user used up the preview budget, else None (also when Redis is down: a
    preview is better than an error while someone draws an evacuation area)."""
    return seconds_to_wait(
        current_app.config["SYRENA"].zones.preview_limit, "area-preview", str(user_id), "preview budget"
    )


def too_many(wait: int):
    limit = current_app.config["SYRENA"].zones.preview_limit
    response = jsonify(
        {
            "error": {
                "code": "rate_limited",
                "message": (f"too many area previews: at most {limit} per user; try again in {wait} s"),
                "details": {"retry_after": wait, "limit": limit},
            }
        }
    )
    response.headers["Retry-After"] = str(wait)
    return response, 429
