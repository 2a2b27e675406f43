"""Residents' reports API (issue 15): the inbox of what residents texted to the city's number (ZGŁOŚ <text>).

Operators and admins see the reporter's number and place, change status and assignee, add notes and reply by SMS;
approvers read (number masked, a registered place hidden); finance has no access."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, request

from app.api.audit import _time
from app.api.blueprint import bp
from app.api.common import ApiError, json_body, map_domain_error, page_params, requires
from app.database import db
from app.openapi import ID_PARAM, NOT_FOUND, json_content, op, ref
from subscribers import reports
from subscribers.exceptions import InvalidReportChange, ReportNotFound
from subscribers.jobs import submit_report_reply
from syrena_core.accounts import Role

OPENAPI_TAG = "reports"

map_domain_error(ReportNotFound, 404, "report_not_found")
map_domain_error(InvalidReportChange, 422, "invalid_report_change")

PATCH_FIELDS = ("status", "assignee_id", "note")


def _full() -> bool:
    return reports.sees_phone(g.get("api_role") or g.api_user.role)


def _zone_arg() -> int | None:
    raw = request.args.get("zone") or request.args.get("zone_id")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(400, "invalid_parameter", "zone must be a zone's id", {"parameter": "zone"})
    return int(raw)


def _json(report, with_notes: bool = False) -> dict[str, Any]:
    session = db()
    return reports.report_dict(
        report,
        _full(),
        reports.zone_names(session, [report.zone_id]),
        reports.user_emails(session, reports.people_of([report]) if with_notes else [report.assignee_id]),
        with_notes=with_notes,
    )


@bp.get("/reports")
@requires(Role.OPERATOR, Role.APPROVER)
def list_reports():
    limit, offset = page_params(50)
    status = reports.check_status(request.args.get("status"))
    session = db()
    total, rows = reports.list_reports(
        session,
        status=status,
        zone_id=_zone_arg(),
        since=_time("since", None),
        until=_time("until", None),
        limit=limit,
        offset=offset,
    )
    zones = reports.zone_names(session, [r.zone_id for r in rows])
    users = reports.user_emails(session, [r.assignee_id for r in rows])
    full = _full()
    return jsonify(
        {
            "total": total,
            "limit": limit,
            "offset": offset,
            "items": [reports.report_dict(r, full, zones, users) for r in rows],
        }
    )


@bp.get("/reports/<int:report_id>")
@requires(Role.OPERATOR, Role.APPROVER)
def get_report(report_id: int):
    return jsonify(_json(reports.get_report(db(), report_id), with_notes=True))


@bp.patch("/reports/<int:report_id>")
@requires(Role.OPERATOR)
def update_report(report_id: int):
    body = json_body()
    unknown = sorted(set(body) - set(PATCH_FIELDS))
    if unknown:
        raise InvalidReportChange(f"unknown field(s): {', '.join(map(str, unknown))}", str(unknown[0]))
    if not body:
        raise InvalidReportChange(f"nothing to change: give one of {', '.join(PATCH_FIELDS)}", "status")
    session = db()
    report = reports.update_report(session, report_id, g.api_user, **{k: body[k] for k in PATCH_FIELDS if k in body})
    session.commit()
    return jsonify(_json(reports.get_report(session, report.id), with_notes=True))


@bp.post("/reports/<int:report_id>/reply")
@requires(Role.OPERATOR)
def reply_to_report(report_id: int):
    body = json_body()
    unknown = sorted(set(body) - {"body"})
    if unknown:
        raise InvalidReportChange(f"unknown field(s): {', '.join(map(str, unknown))}", str(unknown[0]))
    settings = current_app.config["SYRENA"]
    session = db()
    note = submit_report_reply(
        session, settings.redis.url, report_id, g.api_user, body.get("body"), settings.campaigns.max_parts
    )
    return jsonify(_json(reports.get_report(session, note.report_id), with_notes=True)), 202


_NOTE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["note", "reply"]},
        "body": {"type": "string"},
        "author_id": {"type": "integer", "nullable": True},
        "author": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "sms_status": {
            "type": "string",
            "nullable": True,
            "enum": ["queued", "sending", "sent", "failed", None],
            "description": "a reply's SMS: queued → sending → sent (accepted by the SMSC, charged) or failed",
        },
        "sent_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}
_REPORT = {
    "type": "object",
    "required": ["id", "status", "text", "phone", "received_at"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": list(reports.STATUSES)},
        "text": {"type": "string"},
        "phone": {"type": "string", "description": "E.164; masked for approvers"},
        "language": {"type": "string"},
        "address": {"type": "string", "nullable": True},
        "lat": {"type": "number", "nullable": True},
        "lon": {"type": "number", "nullable": True},
        "location_source": {
            "type": "string",
            "enum": ["text", "registered", "none"],
            "description": "where the place comes from: an address in the text, the sender's registered place, none "
            "(approvers do not see a registered place)",
        },
        "zone_id": {"type": "integer", "nullable": True},
        "zone": {"type": "string", "nullable": True},
        "assignee_id": {"type": "integer", "nullable": True},
        "assignee": {"type": "string", "nullable": True},
        "received_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "notes": {"type": "array", "items": ref("ReportNote"), "description": "in the detail only"},
    },
}
OPENAPI_SCHEMAS = {
    "ReportNote": _NOTE,
    "Report": _REPORT,
    "ReportPage": {
        "type": "object",
        "required": ["total", "limit", "offset", "items"],
        "properties": {
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "items": {"type": "array", "items": ref("Report")},
        },
    },
    "ReportChange": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "status": {"type": "string", "enum": list(reports.STATUSES)},
            "assignee_id": {
                "type": "integer",
                "nullable": True,
                "description": "an active operator's or admin's id; null unassigns",
            },
            "note": {"type": "string", "maxLength": reports.MAX_NOTE, "description": "an internal note (added)"},
        },
    },
    "ReportReply": {
        "type": "object",
        "additionalProperties": False,
        "required": ["body"],
        "properties": {
            "body": {
                "type": "string",
                "minLength": 1,
                "description": "the SMS to the reporter: at most [campaigns] max_parts SMS parts",
            }
        },
    },
}
_TIME_PARAM = {"schema": {"type": "string", "format": "date-time"}, "in": "query"}
_INVALID = {"422": {"description": "A bad status, assignee, note or body (details.field names it)"}}
_INVALID["422"].update(json_content(ref("Error")))
OPENAPI_PATHS = {
    "/api/v1/reports": {
        "get": op(
            "Residents' reports (ZGŁOŚ/REPORT <text> to the short number), newest first (operator, approver)",
            "200",
            ref("ReportPage"),
            params=[
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(reports.STATUSES)}},
                {"name": "zone", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "since", "description": "received at or after this time", **_TIME_PARAM},
                {"name": "until", "description": "received before this time", **_TIME_PARAM},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
        )
    },
    "/api/v1/reports/{id}": {
        "get": op("One report with its notes and replies", "200", ref("Report"), params=ID_PARAM, extra=NOT_FOUND),
        "patch": op(
            "Change the status and/or assignee, and/or add an internal note (operator; audited)",
            "200",
            ref("Report"),
            body=ref("ReportChange"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **_INVALID},
        ),
    },
    "/api/v1/reports/{id}/reply": {
        "post": op(
            "Text a reply to the reporter (operator): queued for the gateway, charged as transactional, audited; a new "
            "report becomes in progress",
            "202",
            ref("Report"),
            body=ref("ReportReply"),
            params=ID_PARAM,
            extra={**NOT_FOUND, **_INVALID},
        )
    },
}
