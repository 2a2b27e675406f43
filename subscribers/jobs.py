"""RQ jobs of the subscribers package: keyword SMS from residents, and verification codes.

They run inside `flask worker`, which holds the SMPP session, take ids (and, for a code, the code
itself: it is never stored in plain), build their own database sessions, and send exactly one SMS.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from billing.ledger import record_transactional_charge
from smsc_gateway.interface import OutboundSms, SendResult, active_gateway
from smsc_gateway.models import InboundMessage
from subscribers.exceptions import InvalidPhoneNumber
from subscribers.gazetteer import geocoder_for
from subscribers.keywords import parse_command
from subscribers.models import VerificationCode
from subscribers.phones import mask_phone, normalise_phone
from subscribers.service import purge_unsubscribed
from subscribers.sms import failure_reply, handle_command
from subscribers.verification import code_message
from syrena_core.config import get_settings
from syrena_core.db import session_scope, utcnow
from syrena_core.queues import TRANSACTIONAL, queue

log = logging.getLogger("syrena.subscribers.jobs")

JOB_TIMEOUT = 60
RESULT_TTL = 600
# 8-bit binary payloads (ringtones, configuration pushes) are no words to answer.
_BINARY_CODINGS = {0x02, 0x04}


def _is_binary(data_coding: int) -> bool:
    return data_coding in _BINARY_CODINGS or (data_coding & 0xF4) == 0xF4


def _sender_phone(source_addr: str) -> str | None:
    for candidate in (source_addr, "+" + source_addr.lstrip("+")):
        try:
            return normalise_phone(candidate)
        except InvalidPhoneNumber:
            continue
    return None


def _send_one(ref: int, phone: str, text: str) -> SendResult:
    (result,) = active_gateway().send([OutboundSms(ref=ref, destination=phone, text=text)])
    return result


def _charge(url: str, phone: str, result: SendResult) -> None:
    if result.accepted:
        with session_scope(url) as session:
            record_transactional_charge(session, phone=phone, parts=result.parts, encoding=result.encoding,
                                        smsc_message_ids=result.smsc_message_ids, at=utcnow())


def handle_inbound_sms(inbound_message_id: int) -> str | None:
    """Act on a keyword SMS and answer it once. Returns the reply (None when the SMS is ignored)."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        # The row lock and handled_at make a redelivered job a no-op: one SMS, one reply.
        message = session.scalar(select(InboundMessage).where(InboundMessage.id == inbound_message_id)
                                 .with_for_update())
        if message is None or message.handled_at is not None:
            return None
        message.handled_at = utcnow()
        phone = _sender_phone(message.source_addr)
        if phone is None or _is_binary(message.data_coding):
            log.info("inbound %s ignored: %s", inbound_message_id,
                     "binary data_coding" if phone else "sender is no phone number")
            return None
        command = parse_command(message.text)
        try:
            # A savepoint: a failing command changes nothing, yet the SMS is marked handled and answered.
            with session.begin_nested():
                reply = handle_command(session, phone, command, geocoder_for(settings.subscribers.geocoder),
                                       settings.subscribers.consent_version)
        except Exception:
            log.exception("inbound %s: the %s command failed", inbound_message_id, command.keyword.value)
            reply = failure_reply(command.language)
        message.reply = reply.text
    log.info("inbound %s from %s: %s", inbound_message_id, mask_phone(phone), command.keyword.value)
    result = _send_one(inbound_message_id, phone, reply.text)
    if not result.accepted:
        log.warning("reply to inbound %s refused by the SMSC: %s", inbound_message_id, result.error)
    _charge(url, phone, result)
    return reply.text


def send_verification_code(verification_id: int, code: str, language: str) -> bool:
    """Text the code; nothing is sent for a request that was used or replaced meanwhile."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        row = session.get(VerificationCode, verification_id)
        if row is None or row.used_at is not None or row.expires_at <= utcnow():
            return False
        phone = row.phone
    result = _send_one(verification_id, phone, code_message(code, language, settings.subscribers.code_ttl_minutes))
    if not result.accepted:
        log.warning("verification %s to %s refused by the SMSC: %s", verification_id, mask_phone(phone),
                    result.error)
    _charge(url, phone, result)
    return result.accepted


def enqueue_verification_code(verification_id: int, code: str, language: str) -> None:
    settings = get_settings()
    queue(TRANSACTIONAL, settings.redis.url).enqueue(
        send_verification_code, verification_id, code, language, job_timeout=JOB_TIMEOUT,
        result_ttl=0, failure_ttl=RESULT_TTL, description=f"verification code {verification_id}")


def purge_expired_personal_data() -> int:
    """Erase those whose retention after unsubscribing has ended (their opt-out stays)."""
    settings = get_settings()
    with session_scope(settings.database.url) as session:
        return purge_unsubscribed(session, settings.subscribers.retention_days)
