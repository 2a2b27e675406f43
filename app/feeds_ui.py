"""Official warnings in, for staff: the sources' status lines and the alerts that came in (/feeds), the
dashboard's "new official warning — review draft" cards and the campaign page's note about its source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext as _l

from app.auth import roles_required
from app.database import db
from campaigns.models import Campaign
from feeds import service as feeds
from feeds.models import IncomingAlert
from syrena_core.accounts import Role
from zones.models import Zone
from zones.outline import svg_map

bp = Blueprint("feeds_ui", __name__)

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
LATEST = 100
SOURCE_COLOUR = "#1d4f91"
MAP_WIDTH = 280

STATE_LABELS = {
    "drafted": _l("draft made"),
    "outside": _l("outside the city"),
    "no_area": _l("no area"),
    "follow_up": _l("update or cancellation"),
    "ignored": _l("not an actual alert"),
}
ERROR_LABELS = {
    "down": _l("source down"),
    "slow": _l("too slow (timeout)"),
    "too_large": _l("too large"),
    "not_xml": _l("not XML"),
    "billion_laughs": _l("refused: entity expansion (billion laughs)"),
    "xxe": _l("refused: external entity (XXE)"),
    "schema": _l("not valid CAP 1.2"),
    "too_many_points": _l("polygon with too many points"),
    "outside": _l("area outside the city"),
}
FOLLOW_UP_LABELS = {
    "Update": _l("The source has updated this warning"),
    "Cancel": _l("The source has cancelled this warning"),
}


@dataclass(frozen=True)
class _Shape:
    """What zones.outline.svg_map draws: a name, a code, a colour and a geometry."""

    name: str
    code: str
    colour: str
    geom: Any


def warning_map(alert: IncomingAlert) -> Any:
    """The source's area with the zones it reaches, drawn by the server (no script, no tiles)."""
    shapes: list[Any] = []
    if alert.area is not None:
        shapes.append(_Shape(alert.area_desc or alert.event or "", "", SOURCE_COLOUR, alert.area))
    if alert.zone_ids:
        shapes.extend(db().query(Zone).filter(Zone.id.in_(alert.zone_ids)).order_by(Zone.id).all())
    return svg_map(shapes, width=MAP_WIDTH)


@bp.app_template_global()
def official_warnings() -> list[dict[str, Any]]:
    """For the dashboard: warnings whose draft waits for a person, or whose campaign the source followed up."""
    return [
        {"alert": alert, "campaign": campaign, "map": warning_map(alert)}
        for alert, campaign in feeds.warnings_to_review(db())
    ]


@bp.app_template_global()
def campaign_source(campaign: Campaign) -> IncomingAlert | None:
    return feeds.source_alert(db(), campaign)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "feed_state_labels": STATE_LABELS,
        "feed_error_labels": ERROR_LABELS,
        "feed_follow_up_labels": FOLLOW_UP_LABELS,
    }


@bp.get("/feeds")
@roles_required(*STAFF)
def feed_page():
    session = db()
    total, alerts = feeds.list_alerts(session, LATEST)
    return render_template(
        "feeds/list.html",
        sources=feeds.statuses(session, current_app.config["SYRENA"]),
        alerts=alerts,
        total=total,
    )
