"""The audit log for administrators: browse, filter, export as CSV (the export is itself audited)."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from app.api.audit import audit_filters
from app.api.common import ApiError
from app.auth import roles_required
from app.database import db
from syrena_core.accounts import Role
from syrena_core.audit import audit_actions, audit_entries, record
from syrena_core.text import spreadsheet_text

bp = Blueprint("audit_ui", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50
EXPORT_MAX = 100_000


def _filters() -> dict:
    try:
        return audit_filters(current_app.config["SYRENA"].app.timezone)  # the date inputs are local days
    except ApiError as e:
        raise BadRequest(e.message) from None


@bp.get("/")
@roles_required(Role.ADMIN)
def audit_page():
    filters = _filters()
    page = request.args.get("page", "1")
    page = min(int(page), 100_000) if page.isdigit() and int(page) > 0 else 1
    total, rows = audit_entries(db(), **filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    args = {
        k: v
        for k, v in request.args.items()
        if k in ("actor", "action", "object_type", "object_id", "since", "until") and v
    }
    return render_template(
        "audit/list.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        args=args,
        actions=audit_actions(db()),
        json=json,
    )


def _cell(value) -> str:
    text = "" if value is None else (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return spreadsheet_text(text)  # never run as a formula by the spreadsheet that opens it


@bp.get("/export.csv")
@roles_required(Role.ADMIN)
def audit_csv():
    filters = _filters()
    session = db()
    total, rows = audit_entries(session, **filters, limit=EXPORT_MAX)
    if total > EXPORT_MAX:
        abort(413)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["id", "at", "actor", "action", "object_type", "object_id", "remote_addr", "details", "before", "after", "note"]
    )
    for r in rows:
        writer.writerow(
            [
                r.id,
                r.at.isoformat(),
                _cell(r.actor.email if r.actor else ""),
                _cell(r.action),
                _cell(r.object_type),
                _cell(r.object_id),
                _cell(r.remote_addr),
                _cell(r.details),
                _cell(r.before),
                _cell(r.after),
                _cell(r.note),
            ]
        )
    record(
        session,
        "audit.export",
        current_user,
        "audit_log",
        None,
        {
            "rows": total,
            "filters": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items() if v},
        },
    )
    session.commit()
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="syrena-audit.csv"'},
    )
