"""Staff accounts, roles, API tokens and the append-only audit log."""
from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, Text, select
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


MIN_PASSWORD_LENGTH = 10


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")

    # What a login session asks of a user (Flask-Login's protocol, without importing Flask here).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: Role | str) -> bool:
        # Admins may do everything; other roles only what they are named for.
        allowed = {Role(r).value for r in roles}
        return self.active and (self.role == Role.ADMIN.value or self.role in allowed)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # Only a hash is stored: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    user: Mapped[User] = relationship(back_populates="tokens")


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, email: str, role: str, password: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    try:
        role = Role(role).value
    except ValueError:
        raise AccountError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.email == email)):
        raise AccountError(f"a user {email} exists already")
    user = User(email=email, role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    record(session, "user.create", actor=None, object_type="user", object_id=user.id, details={"role": role})
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = find_user(session, email)
    if user and user.active and user.check_password(password):
        return user
    return None


def issue_token(session: Session, user: User) -> str:
    """A new API token; the plain value is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=_hash_token(token)))
    record(session, "token.issue", actor=None, object_type="user", object_id=user.id)
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token), ApiToken.revoked.is_(False)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row.user


def record(session: Session, action: str, actor: User | None, object_type: str | None = None,
           object_id: Any = None, details: dict[str, Any] | None = None, note: str | None = None) -> None:
    """Append to the audit log, in the caller's transaction, so an action and its trace commit together."""
    session.add(AuditLog(actor_id=actor.id if actor else None, action=action, object_type=object_type,
                         object_id=None if object_id is None else str(object_id), details=details, note=note))
