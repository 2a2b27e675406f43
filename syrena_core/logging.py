"""Structured logs: one JSON object per line on stderr (or plain text), level from [logging].

Every record carries the process's context (the RQ job and the campaign it works on, set by the worker
around each job) as fields, so a log pipeline can follow one campaign across workers. Phone numbers are
personal data: in records at INFO and above they are masked (+48691****23); only DEBUG, which an operator
switches on deliberately for troubleshooting, keeps them whole.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# The default is shared by every context, so it is read-only: log_context sets a new mapping, never edits one.
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "syrena_log_context", default=MappingProxyType({})
)

# E.164 with or without "+", or a national number of 9+ digits; not ids (those are shorter) nor timestamps.
_PHONE = re.compile(r"(?<![\w.])(\+?)(\d{3,4})(\d{3,9})(\d{2})(?![\w.])")


def mask_phones(text: str) -> str:
    def mask(m: re.Match) -> str:
        digits = len(m.group(2)) + len(m.group(3)) + len(m.group(4))
        if digits < 9 or digits > 15 or (digits == 10 and not m.group(1)):  # 10 bare digits: a Unix time
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{'*' * len(m.group(3))}{m.group(4)}"

    return _PHONE.sub(mask, text)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields added to every record logged inside the block (in this thread or task)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Adds the context fields and masks phone numbers (message, arguments, exception text) at INFO+."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if record.levelno >= logging.INFO:
            try:
                message = record.getMessage()
            except Exception:
                return True
            masked = mask_phones(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and not record.exc_text:
                record.exc_text = mask_phones(logging.Formatter().formatException(record.exc_info))
            elif record.exc_text:
                record.exc_text = mask_phones(record.exc_text)
        return True


_JSON_FIELDS = ["asctime", "levelname", "name", "message", "process", "threadName"]


def configure_logging(level: str = "INFO", fmt: str = "json", stream=None) -> None:
    """Replace the root handlers with one on stderr; idempotent (the app factory may run more than once)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter  # JSON or plain text
    if fmt == "json":
        formatter = JsonFormatter(
            _JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "threadName": "thread"},
            datefmt="%Y-%m-%dT%H:%M:%SZ",
        )
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime  # UTC, like every time Syrena stores
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    handler._syrena = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [
        h
        for h in root.handlers
        if getattr(h, "_syrena", False)
        or (isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.stderr, sys.stdout))
    ]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # chatty on every CLI call
