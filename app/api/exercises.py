"""Exercises and tests API (issue 16): test groups (admins manage them) and "send test" of a draft.

The test groups here are the kind-test view of the contact groups (app.api.groups, /api/v1/groups?kind=test):
one model, one home for the rules (campaigns.groups); their errors are mapped there.

An exercise or test itself is composed like any campaign (POST /api/v1/campaigns with `"status": "exercise"` and
`"test_group_id"`, or `"confirm_real_target": true`): see campaigns.exercises.
"""

from __future__ import annotations

from flask import current_app, g, jsonify

from app.api.blueprint import bp
from app.api.campaigns import campaign_json
from app.api.common import STAFF, json_body, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, components, conflict, links, op, ref
from campaigns import groups, schemas, workflow
from campaigns import service as campaigns
from campaigns.models import GroupKind
from syrena_core.accounts import Role

TEST = GroupKind.TEST.value


@bp.get("/test-groups")
@requires(*STAFF)
def list_test_groups():
    return jsonify([groups.group_json(group) for group in groups.list_groups(db(), TEST)])


@bp.post("/test-groups")
@requires(Role.ADMIN)
def create_test_group():
    session = db()
    group = groups.create_group(session, g.api_user, {**json_body(), "kind": TEST})
    session.commit()
    return jsonify(groups.group_json(group)), 201


@bp.get("/test-groups/<int:group_id>")
@requires(*STAFF)
def get_test_group(group_id: int):
    return jsonify(groups.group_json(groups.get_group(db(), group_id, TEST)))


@bp.put("/test-groups/<int:group_id>")
@requires(Role.ADMIN)
def update_test_group(group_id: int):
    session = db()
    group = groups.get_group(session, group_id, TEST)
    groups.update_group(session, group, g.api_user, {**json_body(), "kind": TEST})
    session.commit()
    return jsonify(groups.group_json(group))


@bp.delete("/test-groups/<int:group_id>")
@requires(Role.ADMIN)
def delete_test_group(group_id: int):
    session = db()
    groups.delete_group(session, groups.get_group(session, group_id, TEST), g.api_user)
    session.commit()
    return "", 204


@bp.post("/campaigns/<int:campaign_id>/send-test")
@requires(Role.OPERATOR)
def send_test(campaign_id: int):
    """The draft's exact texts to a test group now; the draft is unchanged. 202 with the test campaign."""
    session = db()
    draft = campaigns.get_campaign(session, campaign_id)
    test = workflow.send_test(
        session, draft, g.api_user, json_body().get("test_group_id"), current_app.config["SYRENA"]
    )
    return jsonify(campaign_json(test)), 202


_GROUP_BODY = ref("GroupInput")
OPENAPI_PATHS = {
    "/api/v1/test-groups": {
        "get": op(
            "Test groups: staff phones with names for exercises and tests",
            "200",
            {"type": "array", "items": ref("Group")},
        ),
        "post": links(
            op("Create a test group (admin; audited)", "201", ref("Group"), body=_GROUP_BODY),
            "201",
            "/api/v1/test-groups/{id}",
            ("GET", "PUT", "DELETE"),
        ),
    },
    "/api/v1/test-groups/{id}": {
        "get": op("A test group", "200", ref("Group"), params=ID_PARAM, extra=NOT_FOUND),
        "put": op(
            "Replace a test group's name and members (admin; audited)",
            "200",
            ref("Group"),
            body=_GROUP_BODY,
            params=ID_PARAM,
            extra=NOT_FOUND,
        ),
        "delete": {
            "summary": "Delete a test group (admin; audited): campaigns sent to it keep naming it",
            "parameters": ID_PARAM,
            "responses": {"204": {"description": "Deleted"}, **NOT_FOUND},
        },
    },
    "/api/v1/campaigns/{id}/send-test": {
        "post": op(
            "Send a draft's exact texts (each language's variant) to a test group first, as a separate campaign "
            "of CAP status Test (`test_of_id` the draft); the draft is not changed; charged as an exercise",
            "202",
            ref("Campaign"),
            body=ref("SendTest"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **conflict("The campaign has been sent already")},
        ),
    },
}
OPENAPI_SCHEMAS = components(schemas.SendTest, schemas.GroupInput, schemas.Group)
