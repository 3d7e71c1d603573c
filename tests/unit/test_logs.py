"""How the headless demo logs: one line a record, even for an exception."""

from __future__ import annotations

import io
import logging
import sys

from wfwatch.logs import OneLineFormatter


def test_an_exception_is_logged_as_one_line_without_its_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("wfwatch.test.one-line")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            try:
                raise KeyError("inner")
            except KeyError as inner:
                raise RuntimeError("scripted failure after 25 tokens\nsecond line") from inner
        except RuntimeError:
            log.warning("Completing activity as failed (%s)", "attempt 1", exc_info=True)
        log.warning("plain")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "WARNING wfwatch.test.one-line: Completing activity as failed (attempt 1): "
        "RuntimeError: scripted failure after 25 tokens",
        "WARNING wfwatch.test.one-line: plain",
    ]


def test_the_record_keeps_its_exception_for_other_handlers() -> None:
    try:
        raise ValueError("kept")
    except ValueError:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "m", None, exc_info=sys.exc_info())
    OneLineFormatter("%(message)s").format(record)
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
    assert "Traceback" in logging.Formatter("%(message)s").format(record)


def test_hostile_text_in_an_exception_is_shown_literally() -> None:
    try:
        raise RuntimeError("\x1b]0;owned\x07 \u202e evil")
    except RuntimeError:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "m", None, exc_info=sys.exc_info())
    line = OneLineFormatter("%(message)s").format(record)
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
