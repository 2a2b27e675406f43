"""Contact groups in the staff UI (issue 20): one page for groups of every kind — the crisis-management team,
services, media, and the test groups of exercises (issue 16) — for admins: list, create, edit, delete, and the
members as CSV (export audited; import replaces the members or changes nothing). The rules: campaigns.groups.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, lazy_pgettext
from flask_login import current_user

from app.auth import EmptyForm, roles_required
from app.database import db
from campaigns import groups
from campaigns.exceptions import GroupNotFound, InvalidGroup
from campaigns.models import ContactGroup, GroupKind
from syrena_core.accounts import Role

bp = Blueprint("groups_ui", __name__, url_prefix="/admin/groups")
KIND_LABELS = {
    GroupKind.TEAM.value: lazy_gettext("Crisis management team"),
    GroupKind.SERVICES.value: lazy_gettext("Services"),
    GroupKind.MEDIA.value: lazy_gettext("Media"),
    GroupKind.TEST.value: lazy_pgettext("group kind", "Test"),
}


@bp.app_context_processor
def _group_helpers() -> dict[str, Any]:
    return {"group_kind_label": lambda kind: KIND_LABELS.get(kind, kind), "group_kind_labels": KIND_LABELS}


def _members_from_text(raw: str) -> list[dict[str, Any]]:
    """One member a line, `name; phone; function; deputy phone` (all but the phone may be left empty), the order
    of the lines the members' order. A line without `;` is the older `name, phone` (the last comma separates)."""
    members: list[dict[str, Any]] = []
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        if ";" in line:
            cells = [cell.strip() for cell in line.split(";")]
            cells += [""] * (4 - len(cells))
            name, phone, function, deputy = cells[:4]
            if len(cells) > 4 and any(cells[4:]):
                phone = line  # too many fields: named as this line's phone by the rules
        else:
            name, _sep, phone = line.rpartition(",") if "," in line else ("", "", line)
            function = deputy = ""
        members.append(
            {
                "name": name.strip() or None,
                "phone": phone.strip(),
                "function": function or None,
                "deputy_phone": deputy or None,
                "order": len(members),
            }
        )
    return members


def _members_text(group: ContactGroup) -> str:
    return "\n".join(
        "; ".join(
            [m.name or "", m.phone, m.function or "", m.deputy_phone or ""],
        ).rstrip("; ")
        for m in group.members
    )


def _readable(message: str) -> str:
    """The rules name members by their index ("members[2].phone"); the form's lines are counted from 1, and the
    CSV import names its lines already ("line 4, phone: …")."""
    message = re.sub(
        r"members\[(\d+)\](?:\.(\w+))?",
        lambda m: f"line {int(m.group(1)) + 1}" + (f", {m.group(2)}" if m.group(2) else ""),
        message,
    )
    return re.sub(r"\bline (\d+)", lambda m: _("line %(n)s", n=int(m.group(1))), message)


def _needed(raw: str) -> int | str | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 6 else (raw or None)


def _form_data() -> dict[str, Any]:
    return {
        "name": request.form.get("name", ""),
        "kind": request.form.get("kind", ""),
        "needed": _needed(request.form.get("needed", "")),
        "members": _members_from_text(request.form.get("members", "")),
    }


def _kind_filter() -> str | None:
    kind = request.args.get("kind") or None
    return kind if kind in KIND_LABELS else None


def _form_as_sent() -> dict[str, str]:
    return {key: request.form.get(key, "") for key in ("name", "kind", "needed", "members")}


@bp.route("", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def group_list():
    kind = _kind_filter()
    form = {"name": "", "kind": kind or GroupKind.TEAM.value, "needed": "", "members": ""}
    status = 200
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        try:
            group = groups.create_group(db(), current_user, _form_data())
        except InvalidGroup as e:
            db().rollback()
            flash(_readable(str(e)), "error")
            form, status = _form_as_sent(), 422
        else:
            db().commit()
            flash(_("Group %(name)s saved.", name=group.name), "success")
            return redirect(url_for("groups_ui.group_list", kind=kind))
    return render_template("groups/list.html", groups=groups.list_groups(db(), kind), kind=kind, form=form), status


def _group_or_404(group_id: int) -> ContactGroup:
    try:
        return groups.get_group(db(), group_id)
    except GroupNotFound:
        abort(404)


def _edit_page(group: ContactGroup, form: dict[str, Any] | None = None, status: int = 200):
    form = form or {
        "name": group.name,
        "kind": group.kind,
        "needed": "" if group.needed is None else str(group.needed),
        "members": _members_text(group),
    }
    return render_template(
        "groups/edit.html",
        group=group,
        form=form,
        csv_columns=groups.CSV_COLUMNS,
        member_names={m.phone: m.name for m in group.members},  # a deputy who is a member is shown by name
    ), status


@bp.route("/<int:group_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def group_edit(group_id: int):
    session = db()
    group = _group_or_404(group_id)
    if request.method == "GET":
        return _edit_page(group)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        groups.update_group(session, group, current_user, _form_data())
    except InvalidGroup as e:
        session.rollback()
        flash(_readable(str(e)), "error")
        return _edit_page(_group_or_404(group_id), _form_as_sent(), 422)
    session.commit()
    flash(_("Group %(name)s saved.", name=group.name), "success")
    return redirect(url_for("groups_ui.group_edit", group_id=group.id))


@bp.post("/<int:group_id>/members.csv")
@roles_required(Role.ADMIN)
def members_import(group_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = db()
    group = _group_or_404(group_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV file."), "error")
        return _edit_page(group, status=400)
    try:
        groups.import_members_csv(session, group, current_user, upload.read(groups.CSV_MAX_BYTES + 1))
    except InvalidGroup as e:
        session.rollback()
        flash(_("Nothing was imported: %(error)s", error=_readable(str(e))), "error")
        return _edit_page(_group_or_404(group_id), status=422)
    session.commit()
    flash(_("%(count)s members imported into %(name)s.", count=len(group.members), name=group.name), "success")
    return redirect(url_for("groups_ui.group_edit", group_id=group.id))


@bp.get("/<int:group_id>/members.csv")
@roles_required(Role.ADMIN)
def members_export(group_id: int):
    session = db()
    group = _group_or_404(group_id)
    body = groups.members_csv(group)
    groups.record_export(session, group, current_user)
    session.commit()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="syrena-group-{group.id}.csv"'},
    )


@bp.post("/<int:group_id>/delete")
@roles_required(Role.ADMIN)
def group_delete(group_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = db()
    group = _group_or_404(group_id)
    groups.delete_group(session, group, current_user)
    session.commit()
    flash(_("Group %(name)s deleted.", name=group.name), "success")
    return redirect(url_for("groups_ui.group_list"))
