"""RQ jobs of the subscribers package: keyword SMS from residents, verification codes, the periodic
erasure of personal data whose retention ended, and registry imports.

They run inside `flask worker`, which holds the SMPP session, take ids (and, for a code, the code
itself: it is never stored in plain), build their own database sessions, and send exactly one SMS per
code or inbound message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rq.utils import import_attribute
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from billing.ledger import accepted_charge, record_transactional_charges
from smsc_gateway.interface import OutboundSms, SendResult, active_gateway
from smsc_gateway.models import InboundMessage
from subscribers.exceptions import InvalidPhoneNumber
from subscribers.geocoders import geocoder_for
from subscribers.keywords import Command, Keyword, parse_command
from subscribers.models import AddressChoice, ResidentReport, ResidentReportNote, VerificationCode
from subscribers.phones import is_allowed_country, mask_phone, normalise_phone
from subscribers.registry import (
    batches,
    create_import,
    fail_import,
    forget_skipped_rows,
    import_batch,
    rows_after,
    stalled_imports,
    start_import,
)
from subscribers.reports import Incoming, ReportLimits, add_reply, file_reports
from subscribers.service import purge_unsubscribed, unsubscribe, zone_codes_of_subscribers
from subscribers.sms import KeywordBatch, Reply, failure_reply, handle_command
from subscribers.verification import code_message
from syrena_core import metrics, ops_state
from syrena_core.accounts import User
from syrena_core.config import Settings, get_settings
from syrena_core.db import session_scope, utcnow
from syrena_core.queues import INFO, TRANSACTIONAL, queue, redis_connection

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


def _charge(url: str, charges: Sequence[tuple[str, SendResult]]) -> None:
    """Record what the SMSC accepted, all in one transaction."""
    accepted = [accepted_charge(phone, r) for phone, r in charges if r.accepted]
    if accepted:
        with session_scope(url) as session:
            record_transactional_charges(session, accepted, at=utcnow())


# ------------------------------------------------------------------ keyword SMS


@dataclass(frozen=True)
class Answer:
    inbound_id: int
    phone: str
    text: str


# Under a backlog the queue holds many small jobs (one per batch the MO writer stored). The first to run also
# takes up to this many messages stored after its own, which their jobs then find handled: batches grow
# exactly when messages wait, and a batch's fixed cost is paid once for all of them. Not more: a worker runs one
# job at a time, so an alert queued meanwhile waits for this batch (with up to HANDLER_BATCH of its own: ~150 MO,
# ~0.15 s on a quiet core, ~0.5 s at load 15; at 250 a 10,000-reply storm at load 16 once held an alert's first
# submit_sm back 1.8 s — bench/bench_replies.py).
TAKE_AHEAD = 100


# The batch's messages marked handled, with the replies said, by one statement at the end of the batch's
# transaction: not an ORM UPDATE per row and attribute (psycopg2 runs those one by one: half the batch's round
# trips, two row versions per message). Nobody sees handled_at before the commit anyway, and the rows are locked
# by the SELECT ... FOR UPDATE of _claim until then. NULL reply: ignored, or nothing to say.
MARK_HANDLED = text(
    """
    UPDATE inbound_message i SET handled_at = :now, reply = v.reply
    FROM unnest(CAST(:ids AS bigint[]), CAST(:replies AS text[])) AS v(id, reply)
    WHERE i.id = v.id
    """
)


def _claim(
    session, inbound_ids: Sequence[int], take_ahead: int, claimed: list[int], allowed_countries: tuple[str, ...]
) -> tuple[list[tuple[InboundMessage, str, Command]], list[int]]:
    """Lock the unhandled messages (marked handled at the end of the batch, _mark_handled: a redelivered job
    finds nothing to do: one SMS, one reply); the ones to answer, with their senders and commands, and the ids
    of all locked. `claimed` gets every id taken.

    A sender of a country outside `allowed_countries` gets no reply (a reply is an SMS the city pays for, and
    pumping works by MO as well) and no subscription (alerts would cost the same); only a STOP is honoured,
    silently, because an opt-out costs nothing."""
    rows = list(
        session.scalars(
            select(InboundMessage)
            .where(InboundMessage.id.in_(list(inbound_ids)), InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.id)
            .with_for_update()
        )
    )
    if take_ahead and inbound_ids:
        last = max(inbound_ids)
        # The next `take_ahead` unhandled ones after its own, by primary key (no scan of old messages; only the
        # few handled just before are stepped over). Not the id range (last, last + take_ahead]: under a backlog
        # each later job's range was mostly handled by the one before, and batches shrank back to one job's
        # worth (~10 MO in a 500/s reply storm, issue 15). Rows another worker holds are its own to answer.
        rows += session.scalars(
            select(InboundMessage)
            .where(InboundMessage.id > last, InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.id)
            .limit(take_ahead)
            .with_for_update(skip_locked=True)
        )
    claimed.extend(r.id for r in rows if r.id not in claimed)
    work = []
    for row in rows:
        phone = _sender_phone(row.source_addr)
        if phone is None or _is_binary(row.data_coding):
            log.info("inbound %s ignored: %s", row.id, "binary data_coding" if phone else "sender is no phone number")
            continue
        command = parse_command(row.text)
        if not is_allowed_country(phone, allowed_countries):
            if command.keyword == Keyword.UNSUBSCRIBE:
                unsubscribe(session, phone)
            log.info(
                "inbound %s from %s: %s, not answered: the sender's country is not allowed",
                row.id,
                mask_phone(phone),
                command.keyword.value,
            )
            metrics.INBOUND.labels(command.keyword.value).inc()
            continue
        work.append((row, phone, command))
    return work, [row.id for row in rows]


def _mark_handled(session, ids: Sequence[int], said: dict[int, str]) -> None:
    session.execute(MARK_HANDLED, {"ids": list(ids), "replies": [said.get(i) for i in ids], "now": utcnow()})


def _replies(session, work: list[tuple[InboundMessage, str, Command]], settings: Settings) -> list[str]:
    config = settings.subscribers
    batch = KeywordBatch(
        session,
        geocoder_for(config),
        config.consent_version,
        config.address_choice_minutes,
        [(phone, command) for _row, phone, command in work],
    )
    reported = _reports(session, work, batch, settings)
    replies: list[Reply] = [
        Reply("pl", fixed=reported[row.id]) if row.id in reported else handle_command(batch, phone, command)
        for row, phone, command in work
    ]
    session.flush()
    zones = zone_codes_of_subscribers(session, [r.zones_of.id for r in replies if r.zones_of is not None])
    return [r.render(zones.get(r.zones_of.id, []) if r.zones_of is not None else ()) for r in replies]


# Handlers that take their messages out of a batch before the keywords, in order, each
# `f(session, work, now) -> (handled, rest)` where handled items have `inbound_id`, `phone`, `reply` (None: no
# SMS back). Named by dotted path: subscribers may not import campaigns (shared/design.md's layout).
# campaigns.callouts: answers of staff to an open call-out, first (a phone in no open call-out goes on);
# campaigns.replies: replies to an open question (which keywords still win is documented there and in README).
INBOUND_BRANCHES = ("campaigns.callouts.take_replies", "campaigns.replies.take_question_replies")


def _take_branches(session, work: list[tuple[InboundMessage, str, Command]]) -> tuple[list, list]:
    handled: list = []
    now = utcnow()
    for path in INBOUND_BRANCHES:
        if not work:
            break
        taken, work = import_attribute(path)(session, work, now)
        handled += taken
    return handled, work


def _reports(session, work: list[tuple[InboundMessage, str, Command]], batch: KeywordBatch, settings: Settings):
    """The batch's reports to the city (subscribers.reports), filed together: their answers by inbound id."""
    items = [
        Incoming(row.id, phone, row.text, command, row.received_at)
        for row, phone, command in work
        if command.keyword == Keyword.REPORT
    ]
    if not items:
        return {}
    limits = ReportLimits(redis_connection(settings.redis.url), settings.subscribers)
    return file_reports(session, items, batch.subscribers, batch.geocoder, limits)


def _answer(
    session,
    inbound_ids: Sequence[int],
    settings: Settings,
    isolate: bool,
    take_ahead: int = 0,
    claimed: list[int] | None = None,
) -> list[Answer]:
    work, claimed_ids = _claim(
        session, inbound_ids, take_ahead, claimed if claimed is not None else [], settings.subscribers.allowed_countries
    )
    if not claimed_ids:
        return []
    if not work:
        _mark_handled(session, claimed_ids, {})
        return []
    taken: list = []
    if not isolate:
        taken, work = _take_branches(session, work)
        texts = _replies(session, work, settings) if work else []
    else:
        try:
            # A savepoint: a failing command changes nothing, yet the SMS is marked handled and answered.
            with session.begin_nested():
                taken, rest = _take_branches(session, work)
                texts = _replies(session, rest, settings) if rest else []
            work = rest
        except Exception:
            log.exception("inbound %s: the %s command failed", work[0][0].id, work[0][2].keyword.value)
            taken, texts = [], [failure_reply(command.language).render() for _row, _phone, command in work]
    answers = []
    said: dict[int, str] = {}
    for item in taken:  # taken by a branch: its reply (if any) is sent like a keyword's
        if item.reply is not None:
            said[item.inbound_id] = item.reply
            answers.append(Answer(item.inbound_id, item.phone, item.reply))
        log.info("inbound %s from %s: taken by %s", item.inbound_id, mask_phone(item.phone), type(item).__name__)
        metrics.INBOUND.labels(type(item).__name__).inc()
    for (row, phone, command), reply in zip(work, texts):
        if reply:  # "": deliberately unanswered (a repeated refusal of a report past its limit)
            said[row.id] = reply
            answers.append(Answer(row.id, phone, reply))
        log.info("inbound %s from %s: %s", row.id, mask_phone(phone), command.keyword.value)
        metrics.INBOUND.labels(command.keyword.value).inc()
    _mark_handled(session, claimed_ids, said)
    return answers


def handle_inbound_batch(inbound_message_ids: Sequence[int], take_ahead: int = TAKE_AHEAD) -> dict[int, str]:
    """Act on keyword SMS and answer each once; returns the replies by inbound id (none for ignored ones).

    The batch (with up to `take_ahead` waiting messages stored after it) is handled in one transaction;
    should any message fail, the batch is rolled back and its messages handled one by one, so the others
    still get their answers and the failing one an apology."""
    settings = get_settings()
    url = settings.database.url
    ids = list(inbound_message_ids)
    claimed: list[int] = list(ids)
    try:
        with session_scope(url) as session:
            answers = _answer(session, ids, settings, isolate=False, take_ahead=take_ahead, claimed=claimed)
    except Exception:
        log.exception("answering %d inbound SMS together failed; answering them one by one", len(claimed))
        answers = []
        for inbound_id in claimed:
            with session_scope(url) as session:
                answers += _answer(session, [inbound_id], settings, isolate=True)
    if answers:
        results = {
            r.ref: r
            for r in active_gateway().send(
                [OutboundSms(ref=a.inbound_id, destination=a.phone, text=a.text) for a in answers]
            )
        }
        for a in answers:
            if not results[a.inbound_id].accepted:
                log.warning("reply to inbound %s refused by the SMSC: %s", a.inbound_id, results[a.inbound_id].error)
        _charge(url, [(a.phone, results[a.inbound_id]) for a in answers])
    return {a.inbound_id: a.text for a in answers}


def handle_inbound_sms(inbound_message_id: int) -> str | None:
    """One keyword SMS: its reply (None when the SMS is ignored or was handled before)."""
    return handle_inbound_batch([inbound_message_id], take_ahead=0).get(inbound_message_id)


# ------------------------------------------------------------------ replies to residents' reports


def send_report_reply(note_id: int) -> str:
    """Text a reply written in the reports inbox to the reporter, once (a redelivered job finds it taken), and
    charge it in the ledger as transactional; the note records whether the SMSC accepted it."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        note = session.scalar(
            select(ResidentReportNote)
            .where(ResidentReportNote.id == note_id, ResidentReportNote.sms_status == "queued")
            .with_for_update(skip_locked=True)
        )
        if note is None:
            return "taken or sent before"
        report = session.get(ResidentReport, note.report_id)
        assert report is not None  # the note is deleted with its report
        phone, body = report.phone, note.body
        allowed = is_allowed_country(phone, settings.subscribers.allowed_countries)
        note.sms_status = "sending" if allowed else "failed"
        if not allowed:
            note.sms_error = "the country is not allowed"
    if not allowed:
        log.warning("reply %s to %s not sent: the country is not allowed", note_id, mask_phone(phone))
        return "failed"
    result = _send_one(note_id, phone, body)
    # The note's state and its charge in one transaction: a reply shown as sent is in the ledger.
    with session_scope(url) as session:
        note = session.get(ResidentReportNote, note_id)
        assert note is not None
        note.sms_status = "sent" if result.accepted else "failed"
        note.sms_error = None if result.accepted else (result.error or "refused by the SMSC")[:64]
        note.sent_at = utcnow() if result.accepted else None
        if result.accepted:
            record_transactional_charges(session, [accepted_charge(phone, result)], at=utcnow())
    if not result.accepted:
        log.warning("reply %s to %s refused by the SMSC: %s", note_id, mask_phone(phone), result.error)
    return "sent" if result.accepted else "failed"


def submit_report_reply(
    session: Session, redis_url: str, report_id: int, actor: User, body: object, max_parts: int
) -> ResidentReportNote:
    """Record the reply (subscribers.reports.add_reply: checked, audited), commit, and queue its sending on the
    transactional queue."""
    note = add_reply(session, report_id, actor, body, max_parts)
    session.commit()
    queue(TRANSACTIONAL, redis_url).enqueue(
        send_report_reply,
        note.id,
        job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=24 * 3600,
        description=f"reply to report {report_id}",
    )
    return note


# ------------------------------------------------------------------ verification codes


def send_verification_code(verification_id: int, code: str, language: str) -> bool:
    """Text the code; nothing is sent for a request that was used or replaced meanwhile."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        row = session.get(VerificationCode, verification_id)
        if row is None or row.used_at is not None or row.expires_at <= utcnow():
            return False
        phone = row.phone
    if not is_allowed_country(phone, settings.subscribers.allowed_countries):
        # Asked before the country left allowed_countries: still not worth paying for.
        log.warning("verification %s to %s not sent: the country is not allowed", verification_id, mask_phone(phone))
        return False
    result = _send_one(verification_id, phone, code_message(code, language, settings.subscribers.code_ttl_minutes))
    if not result.accepted:
        log.warning("verification %s to %s refused by the SMSC: %s", verification_id, mask_phone(phone), result.error)
    _charge(url, [(phone, result)])
    return result.accepted


def enqueue_verification_code(verification_id: int, code: str, language: str) -> None:
    settings = get_settings()
    queue(TRANSACTIONAL, settings.redis.url).enqueue(
        send_verification_code,
        verification_id,
        code,
        language,
        job_timeout=JOB_TIMEOUT,
        result_ttl=0,
        failure_ttl=RESULT_TTL,
        description=f"verification code {verification_id}",
    )


# ------------------------------------------------------------------ retention

PURGE_DUE_KEY = "syrena:subscribers:purge-due"


def purge_expired_personal_data() -> int:
    """Erase those whose retention after unsubscribing has ended (their opt-out stays), address lists offered
    by SMS that nobody picked from in time, and the rows registry imports skipped once the same retention has
    passed. Returns how many subscribers were erased."""
    settings = get_settings()
    with session_scope(settings.database.url) as session:
        session.execute(delete(AddressChoice).where(AddressChoice.expires_at <= utcnow()))
        forget_skipped_rows(session, settings.subscribers.retention_days)
        return purge_unsubscribed(session, settings.subscribers.retention_days)


def enqueue_purge_when_due(settings: Settings) -> bool:
    """Called by every worker's heartbeat every few seconds; enqueues the erasure at most once per
    `[subscribers] purge_every_minutes` across all workers sharing the Redis (the key expires then)."""
    redis = redis_connection(settings.redis.url)
    if not redis.set(PURGE_DUE_KEY, "1", nx=True, ex=max(60, settings.subscribers.purge_every_minutes * 60)):
        return False
    queue(INFO, settings.redis.url).enqueue(
        purge_expired_personal_data,
        job_timeout=600,
        result_ttl=RESULT_TTL,
        description="erase personal data whose retention ended",
    )
    return True


# ------------------------------------------------------------------ registry imports

# A worker runs one job at a time, alerts included: an import works this long, then queues the rest of itself
# behind whatever came meanwhile (an alert's chunks go first), and goes on from its checkpoint.
IMPORT_SLICE_SECONDS = 5.0
IMPORT_JOB_TIMEOUT = 300


def run_registry_import(import_id: int, slice_seconds: float = IMPORT_SLICE_SECONDS) -> str:
    """Import the next batches of an uploaded registry (subscribers.registry), for about `slice_seconds`;
    returns what it did. Safe to run twice: each batch checks the checkpoint under the import's row lock."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        start = start_import(session, import_id)
    if start is None:
        return "finished"
    deadline = time.monotonic() + slice_seconds
    checkpoint = start.processed_rows
    try:
        for batch in batches(rows_after(start.content, checkpoint)):
            with session_scope(url) as session:
                if not import_batch(session, import_id, checkpoint, batch):
                    return "taken over by another job"
            checkpoint += len(batch)
            if time.monotonic() > deadline or ops_state.shutting_down():
                _enqueue_import(import_id, settings.redis.url)
                return f"paused after {checkpoint} rows"
    except Exception as e:
        # Not left "importing" for ever: the page tells the admin where it stopped.
        log.exception("registry import %s failed after %d rows", import_id, checkpoint)
        with session_scope(url) as session:
            fail_import(session, import_id, f"the import stopped on an unexpected error ({type(e).__name__})")
        raise
    return f"finished after {checkpoint} rows"


def _enqueue_import(import_id: int, redis_url: str) -> None:
    queue(INFO, redis_url).enqueue(
        run_registry_import,
        import_id,
        job_timeout=IMPORT_JOB_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=24 * 3600,
        description=f"registry import {import_id}",
    )


def submit_registry_import(
    session: Session, redis_url: str, content: bytes, filename: str, consent_source: str, actor: User | None
) -> int:
    """Store the upload, commit, and queue its job (on the info queue: alerts and codes go first); its id."""
    job = create_import(session, content, filename, consent_source, actor)
    session.commit()
    _enqueue_import(job.id, redis_url)
    return job.id


RESUME_DUE_KEY = "syrena:subscribers:imports-checked"


def resume_stalled_imports(settings: Settings) -> int:
    """Called by every worker's heartbeat; at most once a minute across the fleet, queues again the imports
    whose job was lost (subscribers.registry.stalled_imports). How many."""
    if not redis_connection(settings.redis.url).set(RESUME_DUE_KEY, "1", nx=True, ex=60):
        return 0
    with session_scope(settings.database.url) as session:
        ids = stalled_imports(session)
    for import_id in ids:
        log.warning("registry import %s made no progress: queued again", import_id)
        _enqueue_import(import_id, settings.redis.url)
    return len(ids)
