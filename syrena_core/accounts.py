"""Staff accounts: roles, passwords, login throttling, login sessions, the TOTP second factor and API tokens.
Every change is audited through syrena_core.audit."""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import math
import secrets
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import phonenumbers
import pyotp
from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from syrena_core.audit import record
from syrena_core.db import Base, utcnow

if TYPE_CHECKING:
    from syrena_core.config import SecuritySettings


class Role(str, enum.Enum):
    ADMIN = "admin"
    OPERATOR = "operator"
    APPROVER = "approver"
    FINANCE = "finance"


class AccountError(ValueError):
    """A request about accounts that cannot be met (unknown user, weak password…)."""


class LoginThrottled(AccountError):
    """Too many failed logins for this e-mail address from this client address: no attempt (not even with the
    right password) is checked until `until`. Said alike whether the account exists or not; other addresses
    are not affected, so nobody can lock a real user out."""

    def __init__(self, until: datetime, now: datetime):
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        super().__init__(
            f"too many failed logins for this account from this address: try again in {self.retry_after} s"
        )


MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn, 0–4: 3 = "safely unguessable" against an offline attack on a slow hash


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

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

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
            return self.role  # narrowed by its admin
        if self.role == Role.ADMIN.value:
            return owner  # granted as admin, the owner no longer is one
        return None


class LoginThrottle(Base):
    """Failed logins of one typed e-mail from one client address, and how long that pair waits now
    (migration 0018). Written by the SQL constants beside attempt_login."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

    account: Mapped[str] = mapped_column(String(254), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


def user_by_login_id(session: Session, login_id: str) -> User | None:
    """The active user a login id (User.get_id(): "<user id>:<session generation>") names, or None. The id carries
    the user's session generation: "log out everywhere", a new password or a role change raise it, and every
    older session cookie stops matching."""
    ident, _sep, generation = (login_id or "").partition(":")
    if not ident.isdigit() or not generation.isdigit():
        return None
    user = session.get(User, int(ident))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user


def complete_login(session: Session, user: User, remote_addr: str | None) -> str:
    """Every factor passed: a new login session (its id, for the cookie: a new one at every login, so no
    fixation), the failures of this e-mail from this address forgotten, and the login audited."""
    sid = start_login_session(session, user)
    forget_login_failures(session, user.email, remote_addr)
    record(session, "login", user, "user", user.id)
    return sid


def logout(session: Session, user: User, sid: Any) -> None:
    """End this login session on the server: its cookie, if replayed, opens nothing any more."""
    record(session, "logout", user, "user", user.id)
    end_login_session(session, sid)


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
    record(
        session,
        "user.create",
        actor=actor,
        object_type="user",
        object_id=user.id,
        details={"role": role},
        after={"email": email, "role": role, "active": True},
    )
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


@lru_cache(maxsize=1)
def dummy_password_hash() -> str:
    """A hash of a random password nobody knows, made like every stored one (same algorithm and cost): an
    e-mail that matches no active account is checked against it, so that a wrong password costs the same
    work, and takes the same time, whether the account exists or not."""
    return generate_password_hash(secrets.token_urlsafe(24))


def password_matches(user: User | None, password: str) -> bool:
    """The password check of a login, with equal work for every e-mail: an unknown one is hashed against
    dummy_password_hash(), a deactivated account against its own hash (and refused all the same)."""
    stored = user.password_hash if user is not None else dummy_password_hash()
    matches = check_password_hash(stored, password)
    return matches and user is not None and user.active


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = find_user(session, email)
    return user if password_matches(user, password) else None


# ---------------------------------------------------------------- login throttling by (account, address)
# Failures are counted per typed e-mail (known or not: unknown ones are throttled exactly alike, so the answer
# never tells them apart) and per client address, never per account alone: an attacker who fails from his
# address waits longer and longer, while the real user logs in from hers (issue 19 #9).

# Failures older than this are forgotten (and their rows swept): the count is about one guessing run.
FORGET_FAILURES_AFTER = timedelta(hours=24)

# The pair's current block, if any.
THROTTLE_BLOCKED_UNTIL_SQL = text(
    "SELECT blocked_until FROM login_throttle WHERE account = :account AND address = :address"
)
# One more failure, counted atomically (two parallel wrong passwords both count); a count whose last failure is
# older than FORGET_FAILURES_AFTER starts again at 1.
THROTTLE_COUNT_FAILURE_SQL = text("""
    INSERT INTO login_throttle (account, address, failures, last_failure_at)
    VALUES (:account, :address, 1, :now)
    ON CONFLICT (account, address) DO UPDATE SET
        failures = CASE WHEN login_throttle.last_failure_at < :forget_before THEN 1
                        ELSE login_throttle.failures + 1 END,
        last_failure_at = :now
    RETURNING failures""")
THROTTLE_BLOCK_SQL = text(
    "UPDATE login_throttle SET blocked_until = :until WHERE account = :account AND address = :address"
)
# A successful login from the address forgets its failures.
THROTTLE_FORGET_SQL = text("DELETE FROM login_throttle WHERE account = :account AND address = :address")
# An administrator lifting the throttle of an account: every address.
THROTTLE_FORGET_ACCOUNT_SQL = text("DELETE FROM login_throttle WHERE account = :account")
# Old rows go on every failure (an index range on last_failure_at): the table holds one day of failures at most.
THROTTLE_SWEEP_SQL = text("DELETE FROM login_throttle WHERE last_failure_at < :forget_before")


def login_account_key(email: str) -> str:
    return (email or "").strip().lower()[:254]


def login_address_key(remote_addr: str | None) -> str:
    """The client's address as counted: an IPv6 client's whole /64 (one subscriber line gets a /64 and can
    pick any address in it), an IPv4 address as is."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return (remote_addr or "unknown")[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def check_login_throttle(session: Session, email: str, remote_addr: str | None) -> None:
    """Raise LoginThrottled (audited) while this e-mail is blocked for this address."""
    account, address, now = login_account_key(email), login_address_key(remote_addr), utcnow()
    until = session.scalar(THROTTLE_BLOCKED_UNTIL_SQL, {"account": account, "address": address})
    if until is not None and until > now:
        error = LoginThrottled(until, now)
        record(
            session,
            "login.throttled",
            None,
            "login",
            account,
            {"email": account, "address": address, "retry_after": error.retry_after},
            remote_addr=remote_addr,
        )
        raise error


def backoff_seconds(failures: int, policy: SecuritySettings) -> int:
    """How long a pair waits after its `failures`-th failure in a row: nothing before login_attempts, then
    login_backoff_seconds, doubled with every further failure, up to lockout_minutes."""
    if failures < policy.login_attempts:
        return 0
    doublings = min(failures - policy.login_attempts, 30)
    return min(policy.login_backoff_seconds * 2**doublings, policy.lockout_minutes * 60)


def count_login_failure(
    session: Session,
    email: str,
    remote_addr: str | None,
    user: User | None,
    policy: SecuritySettings,
    factor: str = "password",
) -> int:
    """Count a failed password or code for (email, address), block the pair for its back-off, and audit
    both. Returns the seconds the pair now waits (0: none yet)."""
    account, address, now = login_account_key(email), login_address_key(remote_addr), utcnow()
    params = {"account": account, "address": address, "now": now, "forget_before": now - FORGET_FAILURES_AFTER}
    session.execute(THROTTLE_SWEEP_SQL, params)
    failures = session.scalar(THROTTLE_COUNT_FAILURE_SQL, params)
    wait = backoff_seconds(failures, policy)
    record(
        session,
        "login.failed",
        None,
        "user",
        user.id if user else None,
        {"email": account, "address": address, "factor": factor, "failures": failures},
        remote_addr=remote_addr,
    )
    if wait:
        session.execute(THROTTLE_BLOCK_SQL, {**params, "until": now + timedelta(seconds=wait)})
        record(
            session,
            "login.backoff",
            None,
            "user",
            user.id if user else None,
            {"email": account, "address": address, "failures": failures, "seconds": wait},
            remote_addr=remote_addr,
        )
    return wait


def forget_login_failures(session: Session, email: str, remote_addr: str | None) -> None:
    session.execute(
        THROTTLE_FORGET_SQL, {"account": login_account_key(email), "address": login_address_key(remote_addr)}
    )


def unlock(session: Session, user: User, actor: User | None = None, details: dict[str, Any] | None = None) -> None:
    """An administrator lifts every throttle of the user's e-mail (all addresses)."""
    user.locked_until, user.failed_logins = None, 0
    session.execute(THROTTLE_FORGET_ACCOUNT_SQL, {"account": login_account_key(user.email)})
    record(session, "user.unlock", actor, "user", user.id, details)


def attempt_login(
    session: Session, email: str, password: str, remote_addr: str | None, policy: SecuritySettings
) -> User | None:
    """A password check that counts, per (e-mail, client address): after `login_attempts` failures in a row
    the pair waits, longer after every further failure (LoginThrottled), while other addresses are not
    affected. Unknown e-mails do the same work and get the same answers as real ones. Audited.
    A right password does not yet forget the failures: wrong second-factor codes count on top of them until
    the login is complete (forget_login_failures)."""
    check_login_throttle(session, email, remote_addr)
    user = find_user(session, email)
    if not password_matches(user, password):
        count_login_failure(session, email, remote_addr, user, policy)
        return None
    return user


# ---------------------------------------------------------------- the TOTP second factor


def new_totp_secret() -> str:
    return pyotp.random_base32()


def verify_totp(user: User, code: str, secret: str | None = None) -> bool:
    """A code of `secret` (default: the user's enrolled one) is good for its 30-second step (±1 for clock drift),
    and only once: the step is remembered on the user (the caller commits)."""
    secret = secret or user.totp_secret
    if not secret:
        return False
    totp = pyotp.TOTP(secret)
    now = time.time()
    code = code.strip()
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        step = int(at // totp.interval)
        if secrets.compare_digest(totp.at(at), code) and (user.totp_last_step is None or step > user.totp_last_step):
            user.totp_last_step = step
            return True
    return False


def enrol_totp(session: Session, user: User, secret: str, code: str) -> bool:
    """Turn on the second factor with `secret` once the user shows a good code of it (audited); False: wrong code."""
    if not verify_totp(user, code, secret):
        return False
    user.totp_secret = secret
    record(session, "user.totp_enrol", user, "user", user.id)
    return True


def reset_totp(session: Session, user: User, actor: User | None = None) -> None:
    """An administrator removes the user's second factor (a lost phone): the user enrols again at the next login,
    and every session of the user ends."""
    user.totp_secret, user.totp_last_step = None, None
    end_sessions(session, user, actor=actor)
    record(session, "user.totp_reset", actor, "user", user.id)


def set_password(session: Session, user: User, password: str, actor: User | None = None) -> None:
    """A new password also ends every session of the user."""
    check_password_strength(password, user.email)
    user.password_hash = generate_password_hash(password)
    user.session_generation = (user.session_generation or 0) + 1
    record(session, "user.password", actor, "user", user.id)


def end_sessions(session: Session, user: User, actor: User | None = None) -> None:
    """Log the user out everywhere: every session cookie issued so far stops working."""
    user.session_generation = (user.session_generation or 0) + 1
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
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
    record(
        session,
        "user.activate" if active else "user.deactivate",
        actor,
        "user",
        user.id,
        before={"active": not active},
        after={"active": active},
    )


def issue_token(
    session: Session, user: User, role: str | None = None, label: str | None = None, actor: User | None = None
) -> str:
    """A new API token; the plain value is returned once and never stored. `role` narrows what it may do
    (only an admin's token may carry another role)."""
    if role is not None:
        role = _role(role)
        if user.role != Role.ADMIN.value and role != user.role:
            raise AccountError(f"a {user.role} user's token cannot have the {role} role")
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        user=user, token_hash=_hash_token(token), role=role, label=(label or None) and label[:80], prefix=token[:8]
    )
    session.add(row)
    session.flush()
    record(
        session,
        "token.issue",
        actor,
        "api_token",
        row.id,
        {"user_id": user.id, "email": user.email, "role": role or user.role, "label": row.label},
    )
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
