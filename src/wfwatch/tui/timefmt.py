"""Event times as a reader wants them: off, relative to the session's start, or wall clock.

Like the Temporal CLI's ``--time-format``. Relative times count from the
session's first timed record rather than from "now", so a line's text does
not change every second and a replay reads the same as the live run. A time
of 0 means the publisher sent none (a framework's stream): nothing is shown,
never 1970.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

TimeFormat = Literal["off", "relative", "absolute"]
TIME_FORMATS: Final[tuple[TimeFormat, ...]] = ("off", "relative", "absolute")


def next_format(current: TimeFormat) -> TimeFormat:
    return TIME_FORMATS[(TIME_FORMATS.index(current) + 1) % len(TIME_FORMATS)]


def stamp(ts: float, mode: TimeFormat, origin: float) -> str:
    """``ts`` shown in ``mode`` (relative to ``origin``); "" when off or the event carries no time."""
    if mode == "off" or ts <= 0:
        return ""
    if mode == "relative":
        return f"+{duration(max(0.0, ts - origin) * 1000)}" if origin > 0 else ""
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]


def duration(ms: float) -> str:
    """A duration compactly: ``120 ms``, ``2.1s``, ``3m04s``."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"
