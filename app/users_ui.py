"""Staff accounts for administrators: create, change role, deactivate, unlock, reset the second factor,
issue (shown once) and revoke API tokens. Every change goes through syrena_core.accounts and is audited."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.auth import EmptyForm, roles_required
from app.database import db
from syrena_core import accounts
from syrena_core.accounts import AccountError, Role, User

bp = Blueprint("users_ui", __name__, url_prefix="/admin/users")
ROLES = [r.value for r in Role]


class NewUserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLES)
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLES)


class TokenForm(FlaskForm):
    role = SelectField("Role", choices=["", *ROLES], validators=[Optional()])
    label = StringField("Label", validators=[Optional(), Length(max=80)])


def _user(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _me() -> User:
    return current_user._get_current_object()


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_list():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(db(), form.email.data, form.role.data, form.password.data, actor=_me())
        except AccountError as e:
            db().rollback()
            flash(str(e), "error")
        else:
            db().commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("users_ui.user_list"))
    users = db().scalars(select(User).order_by(User.email)).all()
    return render_template(
        "users/list.html",
        users=users,
        form=form,
        roles=ROLES,
        button=EmptyForm(),
        role_form=RoleForm(),
        token_form=TokenForm(),
        new_token=None,
    )


def _post_ok() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


@bp.post("/<int:user_id>/role")
@roles_required(Role.ADMIN)
def change_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user(user_id)
    if user.id == current_user.id:
        flash(_("You cannot change your own role."), "error")
    else:
        accounts.change_role(db(), user, form.role.data, actor=_me())
        db().commit()
        flash(_("Role changed."), "success")
    return redirect(url_for("users_ui.user_list"))


@bp.post("/<int:user_id>/phone")
@roles_required(Role.ADMIN)
def change_phone(user_id: int):
    _post_ok()
    user = _user(user_id)
    try:
        accounts.set_phone(db(), user, request.form.get("phone", "")[:40], actor=_me())
    except AccountError as e:
        db().rollback()
        flash(str(e), "error")
    else:
        db().commit()
        flash(_("Phone saved."), "success")
    return redirect(url_for("users_ui.user_list"))


@bp.post("/<int:user_id>/active")
@roles_required(Role.ADMIN)
def toggle_active(user_id: int):
    _post_ok()
    user = _user(user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."), "error")
    else:
        accounts.set_active(db(), user, not user.active, actor=_me())
        db().commit()
    return redirect(url_for("users_ui.user_list"))


@bp.post("/<int:user_id>/unlock")
@roles_required(Role.ADMIN)
def unlock(user_id: int):
    _post_ok()
    user = _user(user_id)
    accounts.unlock(db(), user, actor=_me())  # lifts the login throttle of the user's e-mail at every address
    db().commit()
    return redirect(url_for("users_ui.user_list"))


@bp.post("/<int:user_id>/totp-reset")
@roles_required(Role.ADMIN)
def totp_reset(user_id: int):
    _post_ok()
    accounts.reset_totp(db(), _user(user_id), actor=_me())  # the user enrols again; every session ends
    db().commit()
    return redirect(url_for("users_ui.user_list"))


@bp.post("/<int:user_id>/logout")
@roles_required(Role.ADMIN)
def logout_user_everywhere(user_id: int):
    _post_ok()
    accounts.end_sessions(db(), _user(user_id), actor=_me())
    db().commit()
    return redirect(url_for("users_ui.user_list"))


@bp.post("/<int:user_id>/tokens")
@roles_required(Role.ADMIN)
def issue_token(user_id: int):
    form = TokenForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user(user_id)
    try:
        token = accounts.issue_token(db(), user, role=form.role.data or None, label=form.label.data, actor=_me())
    except AccountError as e:
        db().rollback()
        flash(str(e), "error")
        return redirect(url_for("users_ui.user_list"))
    db().commit()
    # Shown once, in this response only; never stored in plain text.
    users = db().scalars(select(User).order_by(User.email)).all()
    return render_template(
        "users/list.html",
        users=users,
        form=NewUserForm(formdata=None),
        roles=ROLES,
        button=EmptyForm(),
        role_form=RoleForm(formdata=None),
        token_form=TokenForm(formdata=None),
        new_token={"user": user, "value": token},
    )


@bp.post("/tokens/<int:token_id>/revoke")
@roles_required(Role.ADMIN)
def revoke_token(token_id: int):
    _post_ok()
    try:
        accounts.revoke_token(db(), token_id, actor=_me())
    except AccountError:
        abort(404)
    db().commit()
    return redirect(url_for("users_ui.user_list"))
