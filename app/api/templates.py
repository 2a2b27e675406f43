"""Hazard templates API (issue 16): the library staff compose alerts from; DELETE archives; pre-approval."""

from __future__ import annotations

from flask import g, jsonify, request

from app.api.blueprint import bp
from app.api.common import STAFF, ApiError, json_body, map_domain_error, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, components, links, op, ref
from campaigns import templates
from campaigns.exceptions import InvalidTemplate, TemplateForbidden, TemplateNotFound
from syrena_core.accounts import Role

map_domain_error(TemplateNotFound, 404, "template_not_found")
map_domain_error(InvalidTemplate, 422, "invalid_template")
map_domain_error(TemplateForbidden, 403, "forbidden")


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def _version_arg() -> int | None:
    raw = request.args.get("version")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 6:
        raise ApiError(400, "invalid_parameter", "version must be a whole number from 1", {"parameter": "version"})
    return int(raw)


@bp.get("/templates")
@requires(*STAFF)
def list_templates():
    listed = templates.list_templates(db(), include_archived=_flag("include_archived"))
    answer = [templates.template_json(t) for t in listed]
    db().commit()  # the first read writes the shipped templates
    return jsonify(answer)


@bp.post("/templates")
@requires(Role.OPERATOR)
def create_template():
    session = db()
    template = templates.create_template(session, g.api_user, json_body())
    session.commit()
    return jsonify(templates.template_json(template)), 201


@bp.get("/templates/<int:template_id>")
@requires(*STAFF)
def get_template(template_id: int):
    template = templates.get_template(db(), template_id)
    answer = templates.template_json(template, templates.version_of(template, _version_arg()))
    db().commit()
    return jsonify(answer)


@bp.put("/templates/<int:template_id>")
@requires(Role.OPERATOR)
def update_template(template_id: int):
    session = db()
    template = templates.update_template(session, templates.get_template(session, template_id), g.api_user, json_body())
    session.commit()
    return jsonify(templates.template_json(template))


@bp.delete("/templates/<int:template_id>")
@requires(Role.OPERATOR)
def archive_template(template_id: int):
    session = db()
    templates.archive_template(session, templates.get_template(session, template_id), g.api_user)
    session.commit()
    return "", 204


@bp.post("/templates/<int:template_id>/preapprove")
@requires(Role.APPROVER)
def preapprove_template(template_id: int):
    """The current version, or {"version": n}; admins and approvers."""
    session = db()
    body = request.get_json(silent=True)
    number = body.get("version") if isinstance(body, dict) else None
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise InvalidTemplate("version must be a whole number (the template's version to pre-approve)")
    template = templates.get_template(session, template_id)
    version = templates.preapprove(session, template, g.api_user, number)
    session.commit()
    return jsonify(templates.template_json(template, version))


_TEMPLATE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "hazard": {"type": "string", "description": "the shipped ones: " + ", ".join(templates.HAZARDS)},
        "texts": {"type": "object", "additionalProperties": {"type": "string"}},
        "cap": {"type": "object", "additionalProperties": {"type": "string"}},
        "question": {"type": "object", "nullable": True},
        "area_kind": {"type": "string", "enum": list(templates.AREA_KINDS)},
        "version": {"type": "integer"},
        "versions": {"type": "integer"},
        "preapproved": {"type": "boolean"},
        "preapproved_at": {"type": "string", "format": "date-time", "nullable": True},
        "preapproved_by": {"type": "integer", "nullable": True},
        "archived": {"type": "boolean"},
        "archived_at": {"type": "string", "format": "date-time", "nullable": True},
        "shipped": {"type": "boolean"},
        "placeholders": {"type": "array", "items": {"type": "string"}},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
_PREAPPROVE = {
    "type": "object",
    "properties": {"version": {"type": "integer", "description": "default: the current version"}},
}
_FORBIDDEN = {"403": {"description": "Only admins and approvers pre-approve"}}
OPENAPI_PATHS = {
    "/api/v1/templates": {
        "get": {
            **op(
                "Hazard templates (current versions; archived ones with include_archived=1)",
                "200",
                {"type": "array", "items": ref("Template")},
            ),
            "parameters": [
                {"name": "include_archived", "in": "query", "required": False, "schema": {"type": "string"}}
            ],
        },
        "post": links(
            op("Create a template (version 1)", "201", ref("Template"), body=ref("TemplateInput")),
            "201",
            "/api/v1/templates/{id}",
            ("GET", "PUT", "DELETE"),
        ),
    },
    "/api/v1/templates/{id}": {
        "get": op(
            "A template: its current version, or ?version=n",
            "200",
            ref("Template"),
            params=[*ID_PARAM, {"name": "version", "in": "query", "required": False, "schema": {"type": "integer"}}],
            extra=NOT_FOUND,
        ),
        "put": op(
            "Edit: writes the next version (not pre-approved); fields left out stay as they were",
            "200",
            ref("Template"),
            body=ref("TemplateInput"),
            params=ID_PARAM,
            extra=NOT_FOUND,
        ),
        "delete": {
            "summary": "Archive: hidden from the composer, kept with its versions",
            "parameters": ID_PARAM,
            "responses": {"204": {"description": "Archived"}, **NOT_FOUND},
        },
    },
    "/api/v1/templates/{id}/preapprove": {
        "post": op(
            "Mark a version pre-approved (admins and approvers); see [campaigns] preapproved_templates_skip_approval",
            "200",
            ref("Template"),
            body=ref("TemplatePreapproval"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **_FORBIDDEN},
        ),
    },
}
OPENAPI_SCHEMAS = {
    **components(templates.TemplateInput),
    "Template": _TEMPLATE,
    "TemplatePreapproval": _PREAPPROVE,
}
