"""Call-outs API (issue 20): a text to groups of staff, services or media with acknowledgements and escalation
to deputies. The rules are campaigns.callouts' and campaigns.escalation's; here only parse, call, respond."""

from __future__ import annotations

from flask import current_app, g, jsonify

from app.api.blueprint import bp
from app.api.common import json_body, map_domain_error, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, components, conflict, links, op, ref
from campaigns import callouts, schemas
from campaigns import service as campaigns
from campaigns.exceptions import CalloutNotFound, CalloutStateError, InvalidCallout
from syrena_core.accounts import Role

map_domain_error(InvalidCallout, 422, "invalid_callout")
map_domain_error(CalloutNotFound, 404, "callout_not_found")
map_domain_error(CalloutStateError, 409, "callout_state")


def _chunk_size() -> int:
    return current_app.config["SYRENA"].campaigns.chunk_size


# Boards hold staff names and phones: operators, approvers (and admins) read them; finance sees the costs only.
READERS = (Role.OPERATOR, Role.APPROVER)


@bp.get("/callouts")
@requires(*READERS)
def list_callouts():
    session = db()
    listed = callouts.list_recent(session, limit=50)
    read = callouts.boards(session, listed)
    return jsonify([callouts.callout_json(session, c, read[c.id]) for c in listed])


@bp.post("/callouts")
@requires(Role.OPERATOR, Role.ADMIN)
def create_callout():
    session = db()
    callout = callouts.create(session, g.api_user, json_body())
    session.commit()
    callouts.enqueue_new(session, callout.campaign_id, _chunk_size())
    return jsonify(callouts.callout_json(session, callout)), 201


@bp.get("/callouts/<int:callout_id>")
@requires(*READERS)
def get_callout(callout_id: int):
    session = db()
    return jsonify(callouts.callout_json(session, callouts.get(session, callout_id)))


@bp.post("/callouts/<int:callout_id>/resend")
@requires(Role.OPERATOR, Role.ADMIN)
def resend_callout(callout_id: int):
    session = db()
    callout = callouts.get(session, callout_id, lock=True)
    ids = callouts.resend_silent(session, callout, g.api_user)
    session.commit()
    callouts.enqueue_new(session, callout.campaign_id, _chunk_size(), after_id=0)
    return jsonify({**callouts.callout_json(session, callout), "resent": len(ids)}), 202


@bp.post("/callouts/<int:callout_id>/close")
@requires(Role.OPERATOR, Role.ADMIN)
def close_callout(callout_id: int):
    session = db()
    callout = callouts.get(session, callout_id, lock=True)
    callouts.close(session, callout, g.api_user)
    session.commit()
    return jsonify(callouts.callout_json(session, callout))


@bp.post("/campaigns/<int:campaign_id>/media")
@requires(Role.OPERATOR, Role.ADMIN)
def copy_to_media(campaign_id: int):
    """ "Also to the media": the sent alert's public text to media groups ({"group_ids": [...]})."""
    session = db()
    campaign = campaigns.get_campaign(session, campaign_id)
    settings = current_app.config["SYRENA"]
    callout = callouts.copy_to_media(
        session, g.api_user, campaign, json_body().get("group_ids"), settings.app.public_url
    )
    session.commit()
    callouts.enqueue_new(session, callout.campaign_id, _chunk_size())
    return jsonify(callouts.callout_json(session, callout)), 201


OPENAPI_PATHS = {
    "/api/v1/callouts": {
        "get": op("The latest call-outs with their boards", "200", {"type": "array", "items": ref("Callout")}),
        "post": links(
            op(
                "Call out groups (operator, admin): sent at once at alert priority; audited",
                "201",
                ref("Callout"),
                body=ref("CalloutInput"),
            ),
            "201",
            "/api/v1/callouts/{id}",
            ("GET",),
        ),
    },
    "/api/v1/callouts/{id}": {
        "get": op(
            "A call-out's board: each person's state, each group's confirmations",
            "200",
            ref("Callout"),
            params=ID_PARAM,
            extra=NOT_FOUND,
        ),
    },
    "/api/v1/callouts/{id}/resend": {
        "post": op(
            "Send the call-out again to everyone who has not answered (a new round, charged)",
            "202",
            ref("Callout"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **conflict("Closed, or nobody to resend to")},
        ),
    },
    "/api/v1/callouts/{id}/close": {
        "post": op(
            "Close the call-out: no more answers or escalation; the silent become no_answer",
            "200",
            ref("Callout"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **conflict("Closed already")},
        ),
    },
}
OPENAPI_PATHS["/api/v1/campaigns/{id}/media"] = {
    "post": op(
        "Also to the media: a sent real alert's public text, with a short header and the links to /alerts and its "
        "CAP, to media groups as a call-out without acknowledgement (charged as internal)",
        "201",
        ref("Callout"),
        body=ref("MediaCopy"),
        params=ID_PARAM,
        extra={**NOT_FOUND, **conflict("The alert has not been sent")},
    ),
}
OPENAPI_SCHEMAS = components(schemas.CalloutInput, schemas.Callout, schemas.MediaCopy)
