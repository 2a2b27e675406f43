"""Exercises and tests in the staff UI (issue 16): the admins' test groups page, and "send test" of a draft.

Exercises are composed in the composer (campaigns_ui) like any campaign; the rules are campaigns.exercises'.
The test groups themselves are kept on the groups page (groups_ui, kind test); the old addresses lead there.
Every page marks an exercise or test with a stripe and a text label (the `exercise_badge` macro, _macros.html).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user

from app.auth import EmptyForm, roles_required
from app.database import db
from campaigns import groups, workflow
from campaigns import service as campaigns
from campaigns.exceptions import CampaignError
from campaigns.models import CapStatus, GroupKind
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


@bp.get("/admin/test-groups")
@roles_required(Role.ADMIN)
def group_list():
    """The test groups are the groups page's kind test now (one model, one page: groups_ui)."""
    return redirect(url_for("groups_ui.group_list", kind=TEST), 301)


@bp.get("/admin/test-groups/<int:group_id>")
@roles_required(Role.ADMIN)
def group_edit(group_id: int):
    return redirect(url_for("groups_ui.group_edit", group_id=group_id), 301)


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
