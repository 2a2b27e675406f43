"""Staff accounts, roles, API tokens and the append-only audit log."""
from __future__ import annotations

import enum
import hashlib
import secrets
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from syrena_core.db import Base, utcnow


class Role(str, enum.Enum):
    ADMIN = "admin"
    OPERATOR = "operator"
    APPROVER = "approver"
    FINANCE = "finance"


class AccountError(ValueError):
    """A request about accounts that cannot be met (unknown user, weak password…)."""


class AccountLocked(AccountError):
    """Too many wrong passwords in a row: no login, not even with the right one, until `until`."""

    def __init__(self, until: datetime):
        super().__init__(f"the account is locked until {until:%H:%M} UTC")
        self.until = until


MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn, 0–4: 3 = "safely unguessable" against an offline attack on a slow hash

# Where the current request comes from, set by the web app for the request's duration; domain code does not
# import Flask, and record() reads this when the caller gives no address.
request_origin: ContextVar[str | None] = ContextVar("request_origin", default=None)


def role_allows(role: str, *roles: Role | str) -> bool:
    # Admins may do everything; other roles only what they are named for.
    return role == Role.ADMIN.value or role in {Role(r).value for r in roles}


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Base32 TOTP secret once the user enrolled a second factor.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # a code is accepted once
    # Part of every login session's id: raising it ends all of the user's sessions ("log out everywhere").
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # E.164 mobile, set by admins: approvers are texted here when someone uses the emergency override.
    phone: Mapped[str | None] = mapped_column(String(16))

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")

    # What a login session asks of a user (Flask-Login's protocol, without importing Flask here).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: Role | str) -> bool:
        return self.active and role_allows(self.role, *roles)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # Only a hash is stored: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The token acts with this role (never more than its user's); None: the user's role.
    role: Mapped[str | None] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(80))
    prefix: Mapped[str | None] = mapped_column(String(8))  # first characters, to tell tokens apart in lists

    user: Mapped[User] = relationship(back_populates="tokens")

    def effective_role(self) -> str | None:
        """The lower of the token's grant and its owner's role now: a role change never widens a token.
        None: the grant and the owner's role have nothing in common (an admin's token narrowed to finance
        whose owner became an operator), and the token may do nothing."""
        owner = self.user.role
        if not self.role or self.role == owner:
            return owner
        if owner == Role.ADMIN.value:
            return self.role   # narrowed by its admin
        if self.role == Role.ADMIN.value:
            return owner       # granted as admin, the owner no longer is one
        return None


class LoginSession(Base):
    """One staff login: the session cookie carries its id, and a cookie whose row has ended opens nothing —
    logging out ends the row, so a cookie copied before it stops working at once (migration 0015)."""
    __tablename__ = "login_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def start_login_session(session: Session, user: User) -> str:
    """A new login session's id (random, for the cookie), stored as live."""
    sid = secrets.token_urlsafe(32)
    session.add(LoginSession(id=sid, user_id=user.id))
    return sid


def login_session_live(session: Session, sid: Any, user_id: int) -> bool:
    if not isinstance(sid, str) or not sid:
        return False
    row = session.get(LoginSession, sid)
    return row is not None and row.user_id == user_id and row.ended_at is None


def end_login_session(session: Session, sid: Any) -> None:
    row = session.get(LoginSession, sid) if isinstance(sid, str) and sid else None
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()


class AuditLog(Base):
    """Append-only: the database refuses UPDATE and DELETE on it (trigger in migration 0008)."""
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_action", "action"),
                      Index("ix_audit_log_object", "object_type", "object_id"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(lazy="joined")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise AccountError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None


def check_password_strength(password: str, email: str = "") -> None:
    """Refuse short or guessable passwords (zxcvbn: dictionary words, keyboard walks, the user's own e-mail)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    from zxcvbn import zxcvbn
    result = zxcvbn(password[:100], user_inputs=[email, email.partition("@")[0], "syrena", "poznan"])
    if result["score"] < MIN_PASSWORD_SCORE:
        hint = result["feedback"].get("warning") or "add more words or characters"
        raise AccountError(f"the password is too easy to guess: {hint}")


def create_user(session: Session, email: str, role: str, password: str, actor: User | None = None) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    role = _role(role)
    check_password_strength(password, email)
    if session.scalar(select(User).where(User.email == email)):
        raise AccountError(f"a user {email} exists already")
    user = User(email=email, role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    record(session, "user.create", actor=actor, object_type="user", object_id=user.id, details={"role": role},
           after={"email": email, "role": role, "active": True})
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = find_user(session, email)
    if user and user.active and user.check_password(password):
        return user
    return None


def attempt_login(session: Session, email: str, password: str, max_attempts: int = 5,
                  lockout_minutes: int = 15) -> User | None:
    """A password check that counts: after `max_attempts` wrong passwords in a row the account is locked for
    `lockout_minutes` (AccountLocked), so guessing online is slow even from many addresses. Audited."""
    user = find_user(session, email)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        record(session, "login.locked", None, "user", user.id, {"email": user.email})
        raise AccountLocked(user.locked_until)
    if user is None or not user.active or not user.check_password(password):
        record(session, "login.failed", None, "user", user.id if user else None, {"email": email[:254]})
        if user is not None:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= max_attempts:
                user.locked_until = now + timedelta(minutes=lockout_minutes)
                user.failed_logins = 0
                record(session, "user.lock", None, "user", user.id,
                       {"minutes": lockout_minutes, "attempts": max_attempts})
        return None
    user.failed_logins = 0
    user.locked_until = None
    return user


def set_password(session: Session, user: User, password: str, actor: User | None = None) -> None:
    """A new password also ends every session of the user."""
    check_password_strength(password, user.email)
    user.password_hash = generate_password_hash(password)
    user.session_generation = (user.session_generation or 0) + 1
    record(session, "user.password", actor, "user", user.id)


def end_sessions(session: Session, user: User, actor: User | None = None) -> None:
    """Log the user out everywhere: every session cookie issued so far stops working."""
    user.session_generation = (user.session_generation or 0) + 1
    session.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
                    .values(ended_at=utcnow()))
    record(session, "user.logout_everywhere", actor, "user", user.id)


def change_role(session: Session, user: User, role: str, actor: User | None = None) -> None:
    role = _role(role)
    before = user.role
    if before == role:
        return
    user.role = role
    user.session_generation = (user.session_generation or 0) + 1  # a demoted user keeps no old session
    record(session, "user.role", actor, "user", user.id, before={"role": before}, after={"role": role})


def set_phone(session: Session, user: User, phone: str | None, actor: User | None = None) -> None:
    """The staff member's mobile (E.164), texted when an emergency override needs approvers' attention;
    empty clears it. Admins set it; audited with the old and new number."""
    import phonenumbers  # only here: the rest of accounts needs no phone library

    value = (phone or "").strip() or None
    if value is not None:
        try:
            number = phonenumbers.parse(value, "PL")
        except phonenumbers.NumberParseException:
            raise AccountError(f"not a phone number: {value!r}; give it as +48601234567") from None
        if not phonenumbers.is_valid_number(number):
            raise AccountError(f"not a valid phone number: {value!r}; give it as +48601234567")
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if value == user.phone:
        return
    before = user.phone
    user.phone = value
    record(session, "user.phone", actor, "user", user.id, before={"phone": before}, after={"phone": value})


def set_active(session: Session, user: User, active: bool, actor: User | None = None) -> None:
    if user.active == active:
        return
    user.active = active
    user.session_generation = (user.session_generation or 0) + 1
    if not active:
        for token in user.tokens:
            if not token.revoked:
                token.revoked, token.revoked_at = True, utcnow()
    record(session, "user.activate" if active else "user.deactivate", actor, "user", user.id,
           before={"active": not active}, after={"active": active})


def issue_token(session: Session, user: User, role: str | None = None, label: str | None = None,
                actor: User | None = None) -> str:
    """A new API token; the plain value is returned once and never stored. `role` narrows what it may do
    (only an admin's token may carry another role)."""
    if role is not None:
        role = _role(role)
        if user.role != Role.ADMIN.value and role != user.role:
            raise AccountError(f"a {user.role} user's token cannot have the {role} role")
    token = secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=_hash_token(token), role=role, label=(label or None) and label[:80],
                   prefix=token[:8])
    session.add(row)
    session.flush()
    record(session, "token.issue", actor, "api_token", row.id,
           {"user_id": user.id, "email": user.email, "role": role or user.role, "label": row.label})
    return token


def revoke_token(session: Session, token_id: int, actor: User | None = None) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AccountError(f"no API token {token_id}")
    if not row.revoked:
        row.revoked, row.revoked_at = True, utcnow()
        record(session, "token.revoke", actor, "api_token", row.id, {"user_id": row.user_id})
    return row


def token_for(session: Session, token: str) -> ApiToken | None:
    """The live token row for a bearer value (None when unknown, revoked or its user inactive)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token), ApiToken.revoked.is_(False)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row


def user_for_token(session: Session, token: str) -> User | None:
    row = token_for(session, token)
    return row.user if row else None


def record(session: Session, action: str, actor: User | None, object_type: str | None = None,
           object_id: Any = None, details: dict[str, Any] | None = None, note: str | None = None, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           remote_addr: str | None = None) -> None:
    """Append to the audit log, in the caller's transaction, so an action and its trace commit together.
    `before`/`after`: the changed fields' old and new values; `remote_addr` defaults to the current web
    request's client (see request_origin)."""
    session.add(AuditLog(actor_id=actor.id if actor else None, action=action, object_type=object_type,
                         object_id=None if object_id is None else str(object_id), details=details, note=note,
                         before=before, after=after, remote_addr=remote_addr or request_origin.get()))


def audit_entries(session: Session, *, actor: str | None = None, action: str | None = None,
                  object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int | None = 100, offset: int = 0) -> tuple[int, list[AuditLog]]:
    """Audit rows, newest first, filtered: `actor` is an e-mail (or part of one), `action` an exact action or a
    prefix ending in "." ("zone." = every zone action). Returns (total matching, the page)."""
    from sqlalchemy import func
    query = select(AuditLog)
    if actor:
        query = query.join(User, AuditLog.actor_id == User.id).where(User.email.ilike(f"%{_like(actor.lower())}%",
                                                                                        escape="\\"))
    if action:
        query = query.where(AuditLog.action.startswith(action, autoescape=True) if action.endswith(".")
                            else AuditLog.action == action)
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if since:
        query = query.where(AuditLog.at >= since)
    if until:
        query = query.where(AuditLog.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.order_by(AuditLog.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return total, list(session.scalars(query).unique())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def audit_dict(row: AuditLog) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(), "actor_id": row.actor_id,
            "actor": row.actor.email if row.actor else None, "action": row.action,
            "object_type": row.object_type, "object_id": row.object_id, "details": row.details,
            "before": row.before, "after": row.after, "remote_addr": row.remote_addr, "note": row.note}


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
