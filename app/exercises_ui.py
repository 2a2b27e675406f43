"""Exercises and tests in the staff UI (issue 16): the admins' test groups page, and "send test" of a draft.

Exercises are composed in the composer (campaigns_ui) like any campaign; the rules are campaigns.exercises'.
Every page marks an exercise or test with a stripe and a text label (the `exercise_badge` macro, _macros.html).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user

from app.auth import EmptyForm, roles_required
from app.database import db
from campaigns import groups, workflow
from campaigns import service as campaigns
from campaigns.exceptions import CampaignError, GroupNotFound
from campaigns.models import CapStatus, ContactGroup, GroupKind
from syrena_core.accounts import Role

bp = Blueprint("exercises_ui", __name__)
TEST = GroupKind.TEST.value
CAP_STATUS_LABELS = {
    CapStatus.ACTUAL.value: lazy_gettext("Real alert"),
    CapStatus.EXERCISE.value: lazy_gettext("Exercise"),
    CapStatus.TEST.value: lazy_gettext("Test"),
}


@bp.app_context_processor
def _exercise_helpers() -> dict[str, Any]:
    # Callables: only the pages that show them query the database.
    return {
        "cap_status_label": lambda s: CAP_STATUS_LABELS.get(s or "actual", s),
        "cap_status_labels": CAP_STATUS_LABELS,
        "test_groups": lambda: groups.list_groups(db(), TEST),
    }


def _members_from_text(raw: str) -> list[dict[str, str | None]]:
    """One member a line: "Name, +48601234567" (or only the phone); the last comma separates the phone."""
    members = []
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        name, _sep, phone = line.rpartition(",") if "," in line else ("", "", line)
        members.append({"name": name.strip() or None, "phone": phone.strip()})
    return members


def _readable(message: str) -> str:
    """The service names members by their index ("members[2].phone"); the form's lines are counted from 1."""
    return re.sub(r"members\[(\d+)\](\.\w+)?", lambda m: _("line %(n)s", n=int(m.group(1)) + 1), message)


def _form_data() -> dict[str, Any]:
    return {"name": request.form.get("name", ""), "members": _members_from_text(request.form.get("members", ""))}


def _members_text(group: ContactGroup) -> str:
    return "\n".join(f"{m.name}, {m.phone}" if m.name else m.phone for m in group.members)


@bp.route("/admin/test-groups", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def group_list():
    form = {"name": "", "members": ""}
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        data = _form_data()
        try:
            group = groups.create_group(db(), current_user, data)
        except CampaignError as e:
            db().rollback()
            flash(_readable(str(e)), "error")
            form = {"name": request.form.get("name", ""), "members": request.form.get("members", "")}
        else:
            db().commit()
            flash(_("Test group %(name)s saved.", name=group.name), "success")
            return redirect(url_for("exercises_ui.group_list"))
    return render_template("exercises/groups.html", groups=groups.list_groups(db(), TEST), form=form)


@bp.route("/admin/test-groups/<int:group_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def group_edit(group_id: int):
    session = db()
    try:
        group = groups.get_group(session, group_id, TEST)
    except GroupNotFound:
        abort(404)
    form = {"name": group.name, "members": _members_text(group)}
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        data = _form_data()
        try:
            groups.update_group(session, group, current_user, data)
        except CampaignError as e:
            session.rollback()
            flash(_readable(str(e)), "error")
            form = {"name": request.form.get("name", ""), "members": request.form.get("members", "")}
            group = groups.get_group(session, group_id, TEST)
        else:
            session.commit()
            flash(_("Test group %(name)s saved.", name=group.name), "success")
            return redirect(url_for("exercises_ui.group_list"))
    return render_template("exercises/group_edit.html", group=group, form=form, button=EmptyForm())


@bp.post("/admin/test-groups/<int:group_id>/delete")
@roles_required(Role.ADMIN)
def group_delete(group_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = db()
    try:
        group = groups.get_group(session, group_id, TEST)
    except GroupNotFound:
        abort(404)
    groups.delete_group(session, group, current_user)
    session.commit()
    flash(_("Test group %(name)s deleted.", name=group.name), "success")
    return redirect(url_for("exercises_ui.group_list"))


@bp.post("/campaigns/<int:campaign_id>/send-test")
@roles_required(Role.OPERATOR)
def send_test(campaign_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = db()
    try:
        draft = campaigns.get_campaign(session, campaign_id)
    except CampaignError:
        abort(404)
    raw = request.form.get("test_group_id", "")
    try:
        test = workflow.send_test(
            session, draft, current_user, int(raw) if raw.isdigit() else None, current_app.config["SYRENA"]
        )
    except (CampaignError, ValueError) as e:
        session.rollback()
        flash(str(e), "error")
        return redirect(url_for("campaigns_ui.review", campaign_id=campaign_id))
    flash(_("Test sent to the test group; the draft is unchanged."), "success")
    return redirect(url_for("admin.campaign_detail", campaign_id=test.id))
