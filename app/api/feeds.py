"""Feeds API: the official warnings that came in, and the drafts made from them."""

from __future__ import annotations

from flask import jsonify

from app.api.blueprint import bp
from app.api.common import STAFF, page_params, requires
from app.database import db
from app.openapi import components, op, ref
from feeds.schemas import IncomingAlertPage
from feeds.service import alert_dict, list_alerts

OPENAPI_TAG = "feeds"


@bp.get("/feeds/alerts")
@requires(*STAFF)
def incoming_alerts():
    limit, offset = page_params()
    total, rows = list_alerts(db(), limit, offset)
    return jsonify({"total": total, "limit": limit, "offset": offset, "items": [alert_dict(a) for a in rows]})


OPENAPI_PATHS = {
    "/api/v1/feeds/alerts": {
        "get": op(
            "Incoming official warnings (CAP), newest first, with the draft campaign made from each",
            "200",
            ref("IncomingAlertPage"),
            params=[
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
        )
    },
}
OPENAPI_SCHEMAS = components(IncomingAlertPage)
