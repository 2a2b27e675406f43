"""Time to warn as the pages show it: a duration ("~2 h 45 min") and the local time of the last SMS.

The estimate itself is campaigns.estimates (one domain function for the API, the composer's preview, the approval
page and the campaign page); this module only asks it with the app's settings and words it for a person.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _

from app.database import db
from campaigns import estimates
from campaigns.models import Campaign
from syrena_core.db import utcnow


def now() -> datetime:
    return current_app.config.get("SYRENA_CLOCK", utcnow)()


def estimate(campaign: Campaign, parts: int | None = None) -> estimates.TimeToWarn:
    settings = current_app.config["SYRENA"]
    return estimates.estimate(db(), campaign, settings.redis.url, settings.smsc, parts, now())


def duration(seconds: float | None) -> str:
    """ "~2 h 45 min", "~12 min", "~40 s", "under 1 s"; "—" when unknown."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return _("under 1 s")
    if seconds < 60:
        return _("~%(s)s s", s=math.ceil(seconds))
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _("~%(m)s min", m=minutes)
    hours, minutes = divmod(minutes, 60)
    return _("~%(h)s h %(m)s min", h=hours, m=minutes)


def local_time(moment: datetime) -> str:
    """The wall-clock time in the city ([app] timezone), with the date when it is not today."""
    tz = ZoneInfo(current_app.config["SYRENA"].app.timezone)
    local, today = moment.astimezone(tz), now().astimezone(tz)
    return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%d.%m.%Y %H:%M")


def display(result: estimates.TimeToWarn) -> dict[str, Any]:
    """What a page shows: the duration, when the last SMS leaves (local time), and what the estimate assumed."""
    last = result.eta or now() + timedelta(seconds=result.seconds)
    notes = []
    if result.links.assumed:
        notes.append(
            _(
                "No SMSC link is up now: estimated from the configured links (%(tps)s SMS/s).",
                tps=format_decimal(result.links.tps),
            )
        )
    if result.parts_ahead:
        notes.append(
            _("%(parts)s SMS parts of campaigns sent earlier go first.", parts=format_decimal(result.parts_ahead))
        )
    return {
        "seconds": result.seconds,
        "duration": duration(result.seconds),
        "last_at": _("last SMS at about %(time)s (local time)", time=local_time(last)),
        "tps": result.links.tps,
        "assumed": result.links.assumed,
        "notes": notes,
        "rate": None if result.rate is None else _("%(rate)s msg/s", rate=format_decimal(result.rate)),
    }
