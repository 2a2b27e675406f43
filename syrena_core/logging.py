"""Structured logs: one JSON object per line on stderr (or readable text), level from [logging].

JSON is the default: what a service writes for a log pipeline. "text" (what `make run` uses) is one line per
record, its level coloured when the stream is a terminal; "auto" is text on a terminal and JSON elsewhere.
The NO_COLOR and FORCE_COLOR conventions (https://no-color.org) override the terminal test: `make run` sets
FORCE_COLOR when its own output is a terminal, since honcho hands its processes a pipe.

Every record carries the process's context (the RQ job and the campaign it works on, set by the worker
around each job) as fields, so a log pipeline can follow one campaign across workers. Phone numbers are
personal data: in records at INFO and above they are masked (+48691****23); only DEBUG, which an operator
switches on deliberately for troubleshooting, keeps them whole.
"""

from __future__ import annotations

import contextvars
import logging
import os
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
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# ANSI SGR colours of the level names in text logs.
_LEVEL_COLOURS = {
    logging.DEBUG: "\033[2m",  # dim
    logging.INFO: "\033[32m",  # green
    logging.WARNING: "\033[33m",  # yellow
    logging.ERROR: "\033[31m",  # red
    logging.CRITICAL: "\033[1;31m",  # bold red
}
_RESET = "\033[0m"
# What every LogRecord has; the rest of a record's attributes are context and `extra=` fields.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def use_colour(stream) -> bool:
    """Colour when `stream` is a terminal; NO_COLOR (any value) turns it off, FORCE_COLOR on."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _is_terminal(stream)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [context]`, the level coloured when `colour`; masking is the filter's."""

    def __init__(self, colour: bool = False):
        super().__init__(datefmt=_TIME_FORMAT)
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        level = f"{record.levelname:<8}"
        if self.colour:
            level = f"{_LEVEL_COLOURS.get(record.levelno, '')}{level}{_RESET}"
        line = f"{self.formatTime(record, self.datefmt)} {level} {record.name}: {record.message}"
        # The context's fields (set on the record by ContextFilter) and any `extra=` ones, as JSON has them.
        context = " ".join(f"{key}={value}" for key, value in record.__dict__.items() if key not in _RECORD_FIELDS)
        if context:
            line += f"  [{context}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure_logging(level: str = "INFO", fmt: str = "json", stream=None) -> None:
    """Replace the root handlers with one on stderr; idempotent (the app factory may run more than once).
    `fmt`: "json", "text", or "auto" (text on a terminal, else JSON)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if fmt == "auto":
        fmt = "text" if _is_terminal(stream) else "json"
    formatter: logging.Formatter  # JSON or plain text
    if fmt == "json":
        formatter = JsonFormatter(
            _JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "threadName": "thread"},
            datefmt=_TIME_FORMAT,
        )
    else:
        formatter = TextFormatter(colour=use_colour(stream))
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
