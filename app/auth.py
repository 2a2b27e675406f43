"""Who is asking: staff log in to the admin UI with a password (and a TOTP code when enrolled or required);
programs call the API with a bearer token."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlparse

import pyotp
import segno
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from app.database import db
from app.extensions import limiter, login_manager
from app.security import totp_required
from syrena_core import accounts
from syrena_core.accounts import AccountError, ApiToken, LoginThrottled, Role, User, token_for

bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.session_protection = "basic"

SECOND_FACTOR_ROLES = (Role.ADMIN.value, Role.APPROVER.value)
PENDING_SECONDS = 300  # between the password and the TOTP code


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The cookie's own login session must be live: logging out ends it on the server (a copied cookie
    # stops working at once).
    user = accounts.user_by_login_id(db(), user_id)
    if user is None or not accounts.login_session_live(db(), session.get("sid"), user.id):
        return None
    return user


class LoginForm(FlaskForm):
    # No deliverability or special-use check: staff addresses like admin@syrena.local are real logins here,
    # and a wrong address simply matches no account.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Regexp(r"^\s*\d{6}\s*$")])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    repeat = PasswordField("Repeat", validators=[DataRequired(), EqualTo("new")])


class EmptyForm(FlaskForm):
    """A POST button: only the CSRF token."""


def _safe_next(target: str | None) -> str:
    # Only local paths: never bounce a fresh login to another site.
    if target and not urlparse(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("admin.dashboard")


def _security():
    return current_app.config["SYRENA"].security


def _start_session(user: User, next_url: str | None):
    session.pop("pending_login", None)
    session.permanent = True  # PERMANENT_SESSION_LIFETIME is the idle timeout
    session["sid"] = accounts.complete_login(db(), user, request.remote_addr)  # a new id at every login
    login_user(user)
    db().commit()
    return redirect(_safe_next(next_url))


def _pending_user() -> User | None:
    pending = session.get("pending_login")
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return accounts.user_by_login_id(db(), pending.get("id", ""))


def _throttled(error: LoginThrottled, template: str, form):
    # The same answer whether the e-mail belongs to an account or not (issue 19 #9).
    flash(
        _(
            "Too many failed logins for this account from your address. Try again in %(seconds)s s.",
            seconds=error.retry_after,
        ),
        "error",
    )
    response = current_app.make_response((render_template(template, form=form), 429))
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: _security().login_limit, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        s = db()
        try:
            user = accounts.attempt_login(s, form.email.data, form.password.data, request.remote_addr, _security())
        except LoginThrottled as e:
            s.commit()
            return _throttled(e, "login.html", form)
        if user is None:
            s.commit()
            flash(_("Wrong e-mail or password."), "error")
        else:
            next_url = request.args.get("next")
            if user.totp_secret or (totp_required(current_app.config["SYRENA"]) and user.role in SECOND_FACTOR_ROLES):
                s.commit()
                session["pending_login"] = {"id": user.get_id(), "at": time.time(), "next": next_url}
                endpoint = "auth.login_code" if user.totp_secret else "auth.totp_enrol"
                return redirect(url_for(endpoint))
            return _start_session(user, next_url)
    return render_template("login.html", form=form), (401 if form.is_submitted() else 200)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: _security().login_limit, methods=["POST"])
def login_code():
    user = _pending_user()
    if user is None or not user.totp_secret:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        s = db()
        try:
            accounts.check_login_throttle(s, user.email, request.remote_addr)
        except LoginThrottled as e:
            s.commit()
            return _throttled(e, "account/code.html", form)
        if accounts.verify_totp(user, form.code.data):
            return _start_session(user, session["pending_login"].get("next"))
        # Wrong codes count like wrong passwords: for this e-mail from this address, with the same back-off.
        if accounts.count_login_failure(s, user.email, request.remote_addr, user, _security(), factor="totp"):
            session.pop("pending_login", None)
        s.commit()
        flash(_("Wrong code."), "error")
        return render_template("account/code.html", form=form), 401
    return render_template("account/code.html", form=form)


def _otpauth(user: User, secret: str) -> tuple[str, str]:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=_security().totp_issuer)
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False)
    return uri, "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@bp.route("/account/totp", methods=["GET", "POST"])
def totp_enrol():
    """Enrol a TOTP second factor: logged in, or between password and code when the role requires one."""
    pending = not current_user.is_authenticated
    user = _pending_user() if pending else current_user
    if user is None:
        return redirect(url_for("auth.login"))
    secret = session.get("totp_enrol_secret")
    if not secret:
        secret = session["totp_enrol_secret"] = accounts.new_totp_secret()
    form = CodeForm()
    if form.validate_on_submit():
        if accounts.enrol_totp(db(), user, secret, form.code.data):
            session.pop("totp_enrol_secret", None)
            db().commit()
            if pending:
                return _start_session(user, session["pending_login"].get("next"))
            flash(_("Two-step login is on."), "success")
            return redirect(url_for("auth.account"))
        flash(_("Wrong code."), "error")
    uri, qr = _otpauth(user, secret)
    return render_template("account/totp.html", form=form, secret=secret, uri=uri, qr=qr, pending=pending)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    accounts.logout(db(), current_user._get_current_object(), session.get("sid"))  # a replayed cookie opens nothing
    db().commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current.data):
            flash(_("The current password is wrong."), "error")
        else:
            try:
                accounts.set_password(db(), user, form.new.data, actor=user)
            except AccountError as e:
                flash(str(e), "error")
            else:
                db().commit()
                login_user(user)  # this session stays; all others ended with the new generation
                flash(_("Password changed. Other sessions were logged out."), "success")
                return redirect(url_for("auth.account"))
    tokens = db().query(ApiToken).filter(ApiToken.user_id == current_user.id).order_by(ApiToken.id).all()
    return render_template("account/index.html", form=form, button=EmptyForm(), tokens=tokens)


@bp.route("/account/logout-everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.end_sessions(db(), current_user._get_current_object(), actor=current_user._get_current_object())
    db().commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
def set_language(code: str):
    response = redirect(_safe_next(request.referrer and urlparse(request.referrer).path))
    if code in current_app.config["SYRENA"].app.languages:
        response.set_cookie(
            "lang",
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        )
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


def bearer_token() -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        return None
    return token_for(db(), token.strip())


def api_user() -> User:
    return g.api_user
