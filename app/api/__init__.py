"""REST API v1: JSON over bearer tokens. One module per domain; views parse, call a domain function, answer.

The blueprint lives in app.api.blueprint, which the modules import: importing them here adds their routes to it.
"""

from flask import jsonify

from app.api import (
    audit,
    billing,
    callouts,
    campaign_control,
    campaign_replies,
    campaigns,
    exercises,
    feeds,
    fieldwork,
    groups,
    reports,
    subscribers,
    templates,
    timeline,
    zones,
)
from app.api.blueprint import bp
from app.openapi import document


@bp.get("/openapi.json")
def openapi():
    # Public (the /api/docs page reads it without a token): routes and shapes only, no data, no secret.
    return jsonify(openapi_document())


def openapi_document() -> dict:
    """The OpenAPI 3 document of /api/v1 (it needs no app context: the tests fuzz the API with it)."""
    return document(
        (
            zones,
            subscribers,
            campaigns,
            billing,
            audit,
            campaign_control,
            timeline,
            campaign_replies,
            feeds,
            exercises,
            fieldwork,
            groups,
            reports,
            templates,
            callouts,
        )
    )
