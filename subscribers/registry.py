"""Importing a registry of residents the city already has (an older SMS system, a paper list).

An admin uploads a CSV (subscribers_ui); it is stored as a `SubscriberImport` and imported by an RQ job
(subscribers.jobs.run_registry_import) in batches, each committed with the import's checkpoint and counters, so
the page can show progress and a stopped job goes on where the last batch ended. A row that breaks a rule is
skipped with its reason (listed on the result page and downloadable); the others are imported. The rules of a
valid row live here (`_subscriber_of_row`) and in register_subscriber."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from subscribers.exceptions import (
    SubscriberError,
    SubscriberExists,
    SubscriberSuppressed,
)
from subscribers.gazetteer import GeocodeStatus, LocalGazetteer
from subscribers.models import ImportStatus, SubscriberImport, SubscriberImportSkip, SubscriberSource
from subscribers.service import LANGUAGES, register_subscriber
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow
from syrena_core.text import check_characters

MAX_ROWS = 500_000
BATCH_ROWS = 200  # rows per transaction: the progress bar moves with each, and a stopped job loses at most these
REQUIRED_COLUMN = "phone"
LOCATION_COLUMNS = ("address", "lat", "lon")
COLUMNS = (REQUIRED_COLUMN, *LOCATION_COLUMNS, "label", "language")  # what an import reads; the rest is ignored
ALREADY_SUBSCRIBED = "already subscribed"
OPTED_OUT = "opted out (only the resident can subscribe again)"


@dataclass(frozen=True)
class Row:
    line: int  # in the file, the header being line 1
    values: dict[str, str]


@dataclass(frozen=True)
class BatchResult:
    added: int
    skipped: list[tuple[Row, str]]


def _plain(row: Mapping[Any, Any]) -> dict[str, str]:
    """A CSV row as text columns: surplus fields (DictReader's None key) joined under "", missing ones empty."""
    values = {}
    for column, value in row.items():
        if isinstance(value, list):
            value = ",".join(v or "" for v in value)
        values["" if column is None else str(column)] = value or ""
    return values


def registry_rows(content: bytes) -> Iterator[Row]:
    """The file's rows. Raises SubscriberError when it is no UTF-8 CSV or lacks the columns every row needs."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SubscriberError(
            f"the file is not UTF-8 text (byte {e.start + 1}): save it as 'CSV UTF-8' and upload it again"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = [c.strip().lower() for c in reader.fieldnames or ()]
        if REQUIRED_COLUMN not in columns or not any(c in columns for c in LOCATION_COLUMNS):
            raise SubscriberError(
                "the first line must name the columns: phone, and address or lat and lon "
                "(optional: label, language); it holds " + (", ".join(columns) or "nothing")
            )
        reader.fieldnames = columns
        for values in reader:
            yield Row(reader.line_num, _plain(values))
    except csv.Error as e:
        raise SubscriberError(f"line {reader.line_num}: the CSV cannot be read ({e}); fix the file") from None


def count_rows(content: bytes) -> int:
    """How many rows the file holds (reading all of it: a broken line near the end fails now, not late)."""
    total = 0
    for total, _row in enumerate(registry_rows(content), start=1):
        if total > MAX_ROWS:
            raise SubscriberError(f"at most {MAX_ROWS} rows per file: split the file")
    return total


def _location(gazetteer: LocalGazetteer, session: Session, row: Mapping[str, str]) -> dict[str, Any]:
    lat, lon = row.get("lat", "").strip(), row.get("lon", "").strip()
    label = row.get("label", "").strip() or "home"
    if lat and lon:
        try:
            return {"lat": float(lat), "lon": float(lon), "label": label, "address": row.get("address") or None}
        except ValueError:
            raise SubscriberError("lat/lon are not numbers") from None
    address = row.get("address", "").strip()
    if not address:
        raise SubscriberError("give an address or lat and lon")
    result = gazetteer.geocode(session, address)
    if result.status != GeocodeStatus.FOUND:
        raise SubscriberError(
            f"the address {address!r} is not in the gazetteer"
            + (" (several match: add the postcode or the district)" if result.status == GeocodeStatus.CHOOSE else "")
        )
    match = result.found
    assert match is not None  # FOUND comes with its match
    return {"lat": match.lat, "lon": match.lon, "label": label, "address": match.label}


def _subscriber_of_row(gazetteer: LocalGazetteer, session: Session, row: Mapping[str, str]) -> dict[str, Any]:
    """The rules of a valid row (register_subscriber adds the phone's and the location's): the arguments of
    register_subscriber, or SubscriberError saying what is wrong."""
    for column in COLUMNS:
        # A NUL or another control character cannot be stored (PostgreSQL refuses NUL outright). Other columns
        # (notes, ids of the old system) are not imported, so not checked: a 20 MB file of notes stays quick.
        check_characters(row.get(column), f"column {column}", SubscriberError, line_breaks=False)
    language = row.get("language", "").strip() or "pl"
    if language not in LANGUAGES:
        raise SubscriberError(f"language must be one of {', '.join(LANGUAGES)}")
    return {"phone": row.get("phone"), "locations": [_location(gazetteer, session, row)], "language": language}


def import_rows(session: Session, gazetteer: LocalGazetteer, rows: Sequence[Row], consent_source: str) -> BatchResult:
    """Register each row's resident (verified: the city had their consent), each in a savepoint so a failing
    row changes nothing; numbers already subscribed or opted out are skipped (an opt-out is never overridden by
    an import), and so is every row that breaks a rule, with the reason."""
    added, skipped = 0, []
    for row in rows:
        try:
            with session.begin_nested():
                register_subscriber(
                    session,
                    **_subscriber_of_row(gazetteer, session, row.values),
                    verified=True,
                    source=SubscriberSource.IMPORT.value,
                    consent_version=f"import:{consent_source}"[:32],
                )
            added += 1
        except SubscriberExists:
            skipped.append((row, ALREADY_SUBSCRIBED))
        except SubscriberSuppressed:
            skipped.append((row, OPTED_OUT))
        except SubscriberError as e:
            skipped.append((row, str(e)))
    return BatchResult(added, skipped)


# ------------------------------------------------------------------ the import's record


def create_import(
    session: Session, content: bytes, filename: str, consent_source: str, actor: User | None
) -> SubscriberImport:
    """Store an uploaded file for the job (subscribers.jobs.submit_registry_import enqueues it)."""
    if not consent_source.strip():
        raise SubscriberError("say where the residents' consent comes from")
    if not content.strip():
        raise SubscriberError("the file is empty")
    job = SubscriberImport(
        created_by=actor.id if actor else None,
        filename=filename[:200] or "registry.csv",
        consent_source=consent_source.strip()[:200],
        size_bytes=len(content),
        content=content,
        status=ImportStatus.QUEUED.value,
    )
    session.add(job)
    session.flush()
    record(
        session,
        "subscriber.import_upload",
        actor,
        "subscriber_import",
        job.id,
        {"filename": job.filename, "bytes": job.size_bytes, "consent_source": job.consent_source},
    )
    return job


def _finish(session: Session, job: SubscriberImport, error: str | None = None) -> None:
    job.status = (ImportStatus.FAILED if error else ImportStatus.DONE).value
    job.error = error
    job.finished_at = utcnow()
    job.content = None  # residents' numbers and addresses: not kept once imported
    actor = session.get(User, job.created_by) if job.created_by else None
    details: dict[str, Any] = {"added": job.added, "skipped": job.skipped, "consent_source": job.consent_source}
    if error:
        details["error"] = error
    record(session, "subscriber.import", actor, "subscriber_import", job.id, details)


def fail_import(session: Session, import_id: int, error: str) -> None:
    """End an import the job could not finish (an unexpected error): what it imported stays, the page says where
    it stopped."""
    job = session.scalar(select(SubscriberImport).where(SubscriberImport.id == import_id).with_for_update())
    if job is not None and job.status not in (ImportStatus.DONE.value, ImportStatus.FAILED.value):
        _finish(
            session,
            job,
            f"{error}; the first {job.processed_rows} rows were processed, import the rest in a new file",
        )


@dataclass(frozen=True)
class Checkpoint:
    content: bytes
    processed_rows: int


def start_import(session: Session, import_id: int) -> Checkpoint | None:
    """Where the job goes on (the file and the rows done), or None when the import is over. On the first run
    the file is read through: one that is no CSV of residents fails the import at once, with the reason."""
    job = session.scalar(select(SubscriberImport).where(SubscriberImport.id == import_id).with_for_update())
    if job is None or job.status in (ImportStatus.DONE.value, ImportStatus.FAILED.value) or job.content is None:
        return None
    if job.total_rows is None:
        try:
            job.total_rows = count_rows(job.content)
        except SubscriberError as e:
            _finish(session, job, str(e))
            return None
        job.status = ImportStatus.RUNNING.value
    return Checkpoint(job.content, job.processed_rows)


def import_batch(session: Session, import_id: int, checkpoint: int, rows: Sequence[Row]) -> bool:
    """Import the rows that follow `checkpoint`, in the caller's transaction with the counters; False when
    another job got there first (nothing done: that job goes on), True otherwise."""
    job = session.scalar(select(SubscriberImport).where(SubscriberImport.id == import_id).with_for_update())
    if job is None or job.processed_rows != checkpoint or job.status != ImportStatus.RUNNING.value:
        return False
    result = import_rows(session, LocalGazetteer(), rows, job.consent_source)
    session.add_all(
        SubscriberImportSkip(import_id=import_id, line=row.line, reason=reason, row=_storable(row.values))
        for row, reason in result.skipped
    )
    job.processed_rows += len(rows)
    job.added += result.added
    job.skipped += len(result.skipped)
    if job.total_rows is not None and job.processed_rows >= job.total_rows:
        _finish(session, job)
    return True


def _storable(values: dict[str, str]) -> dict[str, str]:
    # jsonb cannot hold NUL: the row is kept for the admin to read, the reason already names the character.
    return {k.replace("\x00", "\ufffd"): v.replace("\x00", "\ufffd") for k, v in values.items()}


def rows_after(content: bytes, checkpoint: int) -> Iterator[Row]:
    return islice(registry_rows(content), checkpoint, None)


def batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    while batch := list(islice(rows, BATCH_ROWS)):
        yield batch


def forget_skipped_rows(session: Session, retention_days: int) -> int:
    """The rows imports skipped hold numbers and addresses of people who are no subscribers: kept for the admin
    to fix and import again, then erased `retention_days` after the import ended (the counts stay). How many."""
    cutoff = utcnow() - timedelta(days=retention_days)
    ended = select(SubscriberImport.id).where(SubscriberImport.finished_at < cutoff)
    result = session.execute(delete(SubscriberImportSkip).where(SubscriberImportSkip.import_id.in_(ended)))
    return int(getattr(result, "rowcount", 0) or 0)


STALLED_AFTER = timedelta(minutes=2)  # batches take a second or so; a job waiting behind an alert may lose a turn


def stalled_imports(session: Session) -> list[int]:
    """Unfinished imports whose progress stood still for STALLED_AFTER (their job was lost: a killed worker, a
    Redis that lost its queues), marked as seen now; the caller queues them again. A job still waiting is
    harmless to queue twice: each batch checks the checkpoint under the import's row lock."""
    now = utcnow()
    ids = list(
        session.scalars(
            select(SubscriberImport.id)
            .where(
                SubscriberImport.status.in_([ImportStatus.QUEUED.value, ImportStatus.RUNNING.value]),
                SubscriberImport.updated_at < now - STALLED_AFTER,
            )
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(update(SubscriberImport).where(SubscriberImport.id.in_(ids)).values(updated_at=now))
    return ids


# ------------------------------------------------------------------ what the pages show


def import_progress(session: Session, import_id: int) -> dict[str, Any] | None:
    job = session.get(SubscriberImport, import_id)
    if job is None:
        return None
    return {
        "id": job.id,
        "status": job.status,
        "filename": job.filename,
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "added": job.added,
        "skipped": job.skipped,
        "error": job.error,
        "finished": job.status in (ImportStatus.DONE.value, ImportStatus.FAILED.value),
    }


def skipped_rows(session: Session, import_id: int, limit: int | None = None) -> list[SubscriberImportSkip]:
    query = select(SubscriberImportSkip).where(SubscriberImportSkip.import_id == import_id)
    query = query.order_by(SubscriberImportSkip.line)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def recent_imports(session: Session, limit: int = 10) -> list[SubscriberImport]:
    return list(session.scalars(select(SubscriberImport).order_by(SubscriberImport.id.desc()).limit(limit)))
