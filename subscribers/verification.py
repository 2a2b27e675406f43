"""Verification codes: a resident proves a phone by typing back the code texted to it.

Requests wait in `verification_code` (what was asked: subscribe, unsubscribe, export) until the
code comes back; only a hash of the code is stored. The same answer is given for a wrong, expired,
exhausted or never-sent code, so nobody learns whether a number is known.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from subscribers.budget import CodeBudget
from subscribers.models import VerificationCode, VerificationPurpose
from subscribers.phones import require_allowed_country
from syrena_core.config import SubscriberSettings
from syrena_core.db import utcnow

CODE_DIGITS = 6
WRONG_CODE = "the code is wrong or has expired; ask for a new one"


def _hash(phone: str, code: str) -> str:
    return hashlib.sha256(f"{phone}:{code}".encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    verification_id: int
    code: str


def issue_code(
    session: Session,
    budget: CodeBudget,
    settings: SubscriberSettings,
    phone: str,
    purpose: VerificationPurpose,
    request: dict[str, Any],
    client_address: str | None,
    language: str = "pl",
) -> IssuedCode:
    """A new code for this phone and request; earlier unused codes of the phone stop working.

    A code is an SMS the city pays for: refused (nothing stored, nothing counted) for a number of a country
    not in `allowed_countries`, and when a budget of the phone, the asking address or its network, or the
    global hourly cap is spent."""
    require_allowed_country(phone, settings.allowed_countries)
    budget.take(phone, client_address, purpose.value, language)
    now = utcnow()
    session.execute(
        update(VerificationCode)
        .where(VerificationCode.phone == phone, VerificationCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    row = VerificationCode(
        phone=phone,
        code_hash=_hash(phone, code),
        purpose=purpose.value,
        request=request,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.code_ttl_minutes),
    )
    session.add(row)
    session.flush()
    return IssuedCode(row.id, code)


def redeem_code(session: Session, settings: SubscriberSettings, phone: str, code: Any) -> VerificationCode | None:
    """The pending request this code confirms, marked used; None otherwise. Every try counts, so the
    caller commits in both cases (and answers InvalidCode for None)."""
    now = utcnow()
    row = session.scalar(
        select(VerificationCode)
        .where(VerificationCode.phone == phone, VerificationCode.used_at.is_(None), VerificationCode.expires_at > now)
        .order_by(VerificationCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.attempts >= settings.code_attempts:
        return None
    row.attempts += 1
    typed = "".join(ch for ch in code if ch.isdigit()) if isinstance(code, str) else ""
    if not hmac.compare_digest(row.code_hash, _hash(phone, typed)):
        if row.attempts >= settings.code_attempts:
            row.used_at = now
        return None
    row.used_at = now
    return row


def code_message(code: str, language: str, minutes: int) -> str:
    # Plain GSM-7 on purpose: one Polish diacritic would make it UCS-2 and dearer.
    if language == "en":
        return f"Syrena: your code is {code}. It is valid for {minutes} minutes. Do not give it to anyone."
    if language == "uk":  # Cyrillic: UCS-2 whatever we do, still one part (67 characters)
        return f"Syrena: ваш код {code}. Дійсний {minutes} хв. Нікому його не повідомляйте."
    return f"Syrena: Twoj kod to {code}. Wazny {minutes} minut. Nie podawaj go nikomu."
