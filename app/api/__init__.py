"""REST API v1: JSON over bearer tokens. One module per domain; views parse, call a domain function, answer."""

from flask import Blueprint, jsonify

from app.api.common import STAFF, register_error_handlers, requires

bp = Blueprint("api", __name__, url_prefix="/api/v1")
register_error_handlers(bp)


@bp.get("/openapi.json")
@requires(*STAFF)
def openapi():
    return jsonify(openapi_document())


from app.api import (  # noqa: E402 - modules add their routes to bp
    audit,
    billing,
    campaign_control,
    campaigns,
    subscribers,
    zones,
)
from app.openapi import document  # noqa: E402


def openapi_document() -> dict:
    """The OpenAPI 3 document of /api/v1 (it needs no app context: the tests fuzz the API with it)."""
    return document((zones, subscribers, campaigns, billing, audit, campaign_control))
