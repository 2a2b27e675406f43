"""The append-only audit log: who did what, when, from where, with the changed fields before and after.

Every package writes to it through record(), in its own transaction; administrators read it through
audit_entries(). This module knows staff accounts only by their table (syrena_core.accounts writes to the audit
log, so it imports this module, not the other way round)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, column, func, select, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from syrena_core.db import Base, utcnow

if TYPE_CHECKING:
    from syrena_core.accounts import User

# Where the current request comes from, set by the web app for the request's duration; domain code does not
# import Flask, and record() reads this when the caller gives no address.
request_origin: ContextVar[str | None] = ContextVar("request_origin", default=None)


class AuditLog(Base):
    """Append-only: the database refuses UPDATE and DELETE on it (trigger in migration 0008)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action", "action"),
        Index("ix_audit_log_object", "object_type", "object_id"),
    )

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

    # "User" by name: resolved by the mapper registry once syrena_core.accounts is imported (import_all_models).
    actor: Mapped[User | None] = relationship("User", lazy="joined")


# The staff table as far as filtering by actor needs it (its model lives in syrena_core.accounts).
_APP_USER = table("app_user", column("id"), column("email"))


def record(
    session: Session,
    action: str,
    actor: User | None,
    object_type: str | None = None,
    object_id: Any = None,
    details: dict[str, Any] | None = None,
    note: str | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> None:
    """Append to the audit log, in the caller's transaction, so an action and its trace commit together.
    `before`/`after`: the changed fields' old and new values; `remote_addr` defaults to the current web
    request's client (see request_origin)."""
    session.add(
        AuditLog(
            actor_id=actor.id if actor else None,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            details=details,
            note=note,
            before=before,
            after=after,
            remote_addr=remote_addr or request_origin.get(),
        )
    )


def audit_entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> tuple[int, list[AuditLog]]:
    """Audit rows, newest first, filtered: `actor` is an e-mail (or part of one), `action` an exact action or a
    prefix ending in "." ("zone." = every zone action). Returns (total matching, the page)."""
    query = select(AuditLog)
    if actor:
        query = query.join(_APP_USER, AuditLog.actor_id == _APP_USER.c.id).where(
            _APP_USER.c.email.ilike(f"%{_like(actor.lower())}%", escape="\\")
        )
    if action:
        query = query.where(
            AuditLog.action.startswith(action, autoescape=True) if action.endswith(".") else AuditLog.action == action
        )
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if since:
        query = query.where(AuditLog.at >= since)
    if until:
        query = query.where(AuditLog.at < until)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    query = query.order_by(AuditLog.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return total, list(session.scalars(query).unique())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# What the audit API answers (audit_dict, audit_entries), declared once: app/api/audit.py documents it with these
# (app/openapi.py), and schemathesis checks every answer against them. A default of None leaves a field out of
# "required" without making it nullable (the answers always hold it): hence the `# type: ignore[assignment]`.
_ANY_JSON = Field(None, description="any JSON value")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_id: int | None = None
    actor: str | None = None
    action: str
    object_type: str | None = None
    object_id: str | None = None
    details: Any = _ANY_JSON
    before: Any = _ANY_JSON
    after: Any = _ANY_JSON
    remote_addr: str | None = None
    note: str | None = None


class AuditPage(BaseModel):
    total: int
    limit: int = None  # type: ignore[assignment]
    offset: int = None  # type: ignore[assignment]
    items: list[AuditEntry]


def audit_dict(row: AuditLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor_id": row.actor_id,
        "actor": row.actor.email if row.actor else None,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "details": row.details,
        "before": row.before,
        "after": row.after,
        "remote_addr": row.remote_addr,
        "note": row.note,
    }


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
