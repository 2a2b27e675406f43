"""The hazard template library for staff (issue 16): the list, one template's page (edit = a new version,
archive, pre-approve). Plain forms, one call of campaigns.templates each; the composer's chooser reads the same
library (app.campaigns_ui)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth import roles_required
from app.campaigns_ui import CERTAINTY_LABELS, URGENCY_LABELS
from app.database import db
from campaigns import composition, templates
from campaigns.exceptions import CampaignError, TemplateNotFound
from campaigns.models import AlertTemplate, Severity
from campaigns.schemas import CAP_CATEGORIES, CERTAINTIES, URGENCIES
from syrena_core.accounts import Role

bp = Blueprint("templates_ui", __name__, url_prefix="/templates")

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)
LANGUAGE_NAMES = {"pl": _l("Polish"), "en": _l("English"), "uk": _l("Ukrainian")}
AREA_KIND_LABELS = {
    "city": _l("The whole city"),
    "zones": _l("Chosen zones"),
    "circle": _l("A circle around the place"),
    "polygon": _l("A drawn area"),
    "line": _l("Along a line (river, road)"),
}
RESPONSE_LABELS = {
    "Shelter": _l("Shelter in place"),
    "Evacuate": _l("Evacuate"),
    "Prepare": _l("Prepare"),
    "Execute": _l("Act now"),
    "Avoid": _l("Avoid"),
    "Monitor": _l("Monitor"),
    "Assess": _l("Assess"),
    "AllClear": _l("All clear"),
    "None": _l("No action"),
}


def _template(template_id: int) -> AlertTemplate:
    try:
        return templates.get_template(db(), template_id)
    except TemplateNotFound:
        abort(404)


@bp.get("/")
@roles_required(*STAFF)
def template_list():
    archived = request.args.get("archived") == "1"
    listed = templates.list_templates(db(), include_archived=archived)
    rows = [templates.template_json(t) for t in listed]
    db().commit()  # the first read writes the shipped templates
    return render_template("hazard_templates/list.html", rows=rows, archived=archived)


def _form_data() -> dict[str, Any]:
    form = request.form
    cap = {key: form.get(f"cap_{key}", "") for key in templates.CAP_KEYS}
    return {
        "name": form.get("name", ""),
        "hazard": form.get("hazard", ""),
        "texts": {lang: form.get(f"text_{lang}", "") for lang in templates.REQUIRED_LANGUAGES},
        "cap": {k: v for k, v in cap.items() if v.strip()},
        "area_kind": form.get("area_kind", ""),
    }


def _page(template: AlertTemplate | None, shown: dict[str, Any] | None, status: int = 200):
    return (
        render_template(
            "hazard_templates/edit.html",
            template=template,
            t=shown,
            text_languages=LANGUAGE_NAMES,
            categories=CAP_CATEGORIES,
            severities=[s.value for s in Severity],
            urgencies=URGENCIES,
            certainties=CERTAINTIES,
            urgency_labels=URGENCY_LABELS,
            certainty_labels=CERTAINTY_LABELS,
            response_types=templates.RESPONSE_TYPES,
            response_labels=RESPONSE_LABELS,
            area_kinds=templates.AREA_KINDS,
            area_kind_labels=AREA_KIND_LABELS,
            placeholders=composition.PLACEHOLDERS,
            versions=[templates.template_json(template, v) for v in reversed(template.versions)] if template else [],
        ),
        status,
    )


@bp.get("/new")
@roles_required(Role.OPERATOR)
def new():
    return _page(None, None)


@bp.post("/new")
@roles_required(Role.OPERATOR)
def create():
    session = db()
    data = _form_data()
    try:
        template = templates.create_template(session, current_user, data)
    except CampaignError as e:
        session.rollback()
        flash(str(e), "error")
        return _page(None, {**data, "version": None}, 422)
    session.commit()
    flash(_("Template saved (version %(n)s).", n=1), "success")
    return redirect(url_for("templates_ui.edit", template_id=template.id))


@bp.get("/<int:template_id>")
@roles_required(*STAFF)
def edit(template_id: int):
    template = _template(template_id)
    shown = templates.template_json(template)
    db().commit()
    return _page(template, shown)


@bp.post("/<int:template_id>")
@roles_required(Role.OPERATOR)
def update(template_id: int):
    session = db()
    template = _template(template_id)
    before = templates.current(template).version
    data = _form_data()
    try:
        templates.update_template(session, template, current_user, data)
    except CampaignError as e:
        session.rollback()
        flash(str(e), "error")
        return _page(_template(template_id), {**templates.template_json(_template(template_id)), **data}, 422)
    session.commit()
    after = templates.current(template).version
    if after == before:
        flash(_("Nothing changed: still version %(n)s.", n=after), "success")
    else:
        flash(_("Saved as version %(n)s (not pre-approved).", n=after), "success")
    return redirect(url_for("templates_ui.edit", template_id=template_id))


@bp.post("/<int:template_id>/archive")
@roles_required(Role.OPERATOR)
def archive(template_id: int):
    session = db()
    templates.archive_template(session, _template(template_id), current_user)
    session.commit()
    flash(_("Template archived: the composer no longer offers it."), "success")
    return redirect(url_for("templates_ui.template_list"))


@bp.post("/<int:template_id>/preapprove")
@roles_required(Role.APPROVER)
def preapprove(template_id: int):
    session = db()
    template = _template(template_id)
    back = redirect(url_for("templates_ui.edit", template_id=template_id))
    try:
        version = templates.preapprove(session, template, current_user)
    except CampaignError as e:
        session.rollback()
        flash(str(e), "error")
        return back
    session.commit()
    flash(_("Version %(n)s is pre-approved.", n=version.version), "success")
    return back
