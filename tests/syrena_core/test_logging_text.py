"""Readable text logs (what `make run` shows): one line per record, the level coloured only on a terminal,
phone numbers masked as in JSON; "auto" picks text on a terminal and JSON elsewhere."""

from __future__ import annotations

import io
import json
import logging

import pytest

from syrena_core.config import LoggingSettings
from syrena_core.logging import configure_logging, log_context

GREEN, YELLOW, RESET = "\033[32m", "\033[33m", "\033[0m"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logged(monkeypatch):
    """Log a few lines with the given format into the given stream; returns its text."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def log(fmt: str, stream: io.StringIO) -> str:
        configure_logging("INFO", fmt, stream=stream)
        log = logging.getLogger("syrena.test.text")
        with log_context(campaign_id=12):
            log.info("reply to %s sent", "+48691234567")
        log.warning("no subscriber 691234567")
        return stream.getvalue()

    yield log
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_text_lines_are_readable_and_masked_without_colour_in_a_pipe(logged):
    lines = logged("text", io.StringIO()).splitlines()
    assert len(lines) == 2
    info, warning = lines
    assert "INFO" in info and "syrena.test.text: reply to +4869*****67 sent" in info and "campaign_id=12" in info
    assert "WARNING" in warning and "6912***67" in warning and "691234567" not in warning
    assert "\033[" not in info + warning  # a file or a pipe gets no escape codes


def test_levels_are_coloured_on_a_terminal(logged):
    info, warning = logged("text", Terminal()).splitlines()
    assert f"{GREEN}INFO" in info and RESET in info and "+4869*****67" in info
    assert f"{YELLOW}WARNING" in warning


def test_no_color_and_force_color_override_the_terminal_test(logged, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in logged("text", Terminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")  # make run: honcho hands its processes a pipe
    assert f"{GREEN}INFO" in logged("text", io.StringIO())


def test_auto_is_text_on_a_terminal_and_json_elsewhere(logged):
    assert f"{GREEN}INFO" in logged("auto", Terminal())
    records = [json.loads(line) for line in logged("auto", io.StringIO()).splitlines()]
    assert records[0]["message"] == "reply to +4869*****67 sent" and records[0]["campaign_id"] == 12


def test_json_stays_the_default_and_unknown_formats_fail():
    assert LoggingSettings().format == "json"
    assert LoggingSettings(format="auto").format == "auto"
    with pytest.raises(ValueError, match='"json", "text" or "auto"'):
        LoggingSettings(format="pretty")
