"""Keeping logs out of the terminal while the dashboard owns it.

Python logging handlers and Temporal's Rust core both write to stderr by
default; under a Textual app that garbles the screen (a retried activity logs
a traceback, for instance). Before the dashboard starts, everything is routed
to a log file instead, Temporal's core logs forwarded through Python logging.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from wfwatch import paths
from wfwatch.text import one_line


def log_to_file(path: Path | None = None, level: int = logging.INFO) -> Path:
    """Send all logging (ours, the SDK's, Temporal core's) to ``path``; returns it.

    Must run before the first Temporal client or worker is created, because
    the SDK's default runtime is fixed then.
    """
    path = path or paths.log_dir() / "wfwatch.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=5_000_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    core = logging.getLogger("temporalio.core")
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=core),
            )
        )
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    return path


class OneLineFormatter(logging.Formatter):
    """A record and its exception on one line: ``... : ModelFailure: scripted failure after 25 tokens``.

    The headless demo retries activities on purpose (its scripted model
    fails); a traceback per attempt buried its progress lines and filled a
    pipe nobody read fast enough (about 60 KB in two minutes).
    """

    def format(self, record: logging.LogRecord) -> str:
        exc_info = record.exc_info
        if not exc_info or exc_info[1] is None:
            return super().format(record)
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info = exc_info
        err = exc_info[1]
        # Workflow ids and model errors are workflow-controlled: shown literally, on one line.
        first = str(err).splitlines()[0] if str(err) else ""
        return one_line(f"{line}: {type(err).__name__}: {first}".rstrip(": "))


def log_one_line_to_stderr() -> None:
    """Log warnings to stderr one line each, exceptions without their traceback."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
