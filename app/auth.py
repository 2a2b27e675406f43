"""Who is asking: staff log in to the admin UI with a password; programs call the API with a bearer token."""
from __future__ import annotations

from functools import wraps
from typing import Callable
from urllib.parse import urlparse

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from app.database import db
from app.extensions import login_manager
from syrena_core.accounts import Role, User, authenticate, record, user_for_token

bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user and user.active else None


class LoginForm(FlaskForm):
    # No deliverability or special-use check: staff addresses like admin@syrena.local are real logins here,
    # and a wrong address simply matches no account.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    # Only local paths: never bounce a fresh login to another site.
    if target and not urlparse(target).netloc and target.startswith("/"):
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        session = db()
        user = authenticate(session, form.email.data, form.password.data)
        if user is None:
            record(session, "login.failed", None, "user", None, {"email": form.email.data[:254]})
            session.commit()
            flash(_("Wrong e-mail or password."), "error")
        else:
            login_user(user)
            record(session, "login", user, "user", user.id)
            session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form), (401 if form.is_submitted() else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
def set_language(code: str):
    response = redirect(_safe_next(request.referrer and urlparse(request.referrer).path))
    if code in ("pl", "en"):
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def roles_required(*roles: Role) -> Callable:
    """For admin pages: log in first, then the role decides (403 otherwise)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(db(), token.strip())


def api_user() -> User:
    return g.api_user
