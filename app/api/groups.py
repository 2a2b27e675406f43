"""Contact groups API (issue 20): the crisis-management team, services, media and test groups, one model.

Admins create, change and delete them (audited: campaigns.groups); operators and approvers read them, since a
call-out is sent to groups. /api/v1/test-groups (app.api.exercises) is the kind-test view of the same groups.
"""

from __future__ import annotations

from flask import g, jsonify, request

from app.api.blueprint import bp
from app.api.common import json_body, map_domain_error, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, links, op, ref
from campaigns import groups
from campaigns.exceptions import GroupNotFound, InvalidGroup
from syrena_core.accounts import Role

map_domain_error(GroupNotFound, 404, "group_not_found")
map_domain_error(InvalidGroup, 422, "invalid_group")

# Operators pick groups for a call-out; approvers see whom one went to. Admins (who may do everything) manage them.
READERS = (Role.OPERATOR, Role.APPROVER)


@bp.get("/groups")
@requires(*READERS)
def list_groups():
    kind = request.args.get("kind") or None
    return jsonify([groups.group_json(group) for group in groups.list_groups(db(), kind)])


@bp.post("/groups")
@requires(Role.ADMIN)
def create_group():
    session = db()
    group = groups.create_group(session, g.api_user, json_body())
    session.commit()
    return jsonify(groups.group_json(group)), 201


@bp.get("/groups/<int:group_id>")
@requires(*READERS)
def get_group(group_id: int):
    return jsonify(groups.group_json(groups.get_group(db(), group_id)))


@bp.put("/groups/<int:group_id>")
@requires(Role.ADMIN)
def update_group(group_id: int):
    session = db()
    group = groups.get_group(session, group_id)
    groups.update_group(session, group, g.api_user, json_body())
    session.commit()
    return jsonify(groups.group_json(group))


@bp.delete("/groups/<int:group_id>")
@requires(Role.ADMIN)
def delete_group(group_id: int):
    session = db()
    groups.delete_group(session, groups.get_group(session, group_id), g.api_user)
    session.commit()
    return "", 204


_KIND_PARAM = [
    {
        "name": "kind",
        "in": "query",
        "required": False,
        "description": "only groups of this kind (default: every kind)",
        "schema": {"type": "string", "enum": list(groups.KINDS)},
    }
]
OPENAPI_PATHS = {
    "/api/v1/groups": {
        "get": op(
            "Contact groups (operators, approvers, admins): the crisis-management team, services, media, test",
            "200",
            {"type": "array", "items": ref("Group")},
            params=_KIND_PARAM,
        ),
        "post": links(
            op(
                "Create a group (admin; audited). 422 naming the problem: a member without a valid mobile number, "
                "no members, a member their own deputy, a deputy loop, `needed` above the members",
                "201",
                ref("Group"),
                body=ref("GroupInput"),
            ),
            "201",
            "/api/v1/groups/{id}",
            ("GET", "PUT", "DELETE"),
        ),
    },
    "/api/v1/groups/{id}": {
        "get": op("A group", "200", ref("Group"), params=ID_PARAM, extra=NOT_FOUND),
        "put": op(
            "Replace a group: name, kind, needed and members (admin; audited; the rules of POST)",
            "200",
            ref("Group"),
            body=ref("GroupInput"),
            params=ID_PARAM,
            extra=NOT_FOUND,
        ),
        "delete": {
            "summary": "Delete a group (admin; audited): campaigns and call-outs sent to it keep naming it",
            "parameters": ID_PARAM,
            "responses": {"204": {"description": "Deleted"}, **NOT_FOUND},
        },
    },
}
OPENAPI_SCHEMAS: dict = {}  # GroupInput and Group: app.api.exercises declares them for both paths
