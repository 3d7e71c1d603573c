"""Stopping a long-running command (``wfwatch demo``) in bounded time.

Ctrl-C cancels the command's main task, and its ``async with`` blocks then
stop the workers, the sessions and the embedded server in order. Each of
those waits on something outside the process (a worker's last polls, an
activity's final flush), and CI once saw that take over 60 s on a loaded
box. :class:`BoundedStop` makes the stop itself bounded: once stopping has
begun, a timer thread kills the embedded server's process group and ends
the process after ``seconds``, saying which stage it was stuck in. A second
Ctrl-C does the same at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

#: The exit status of a command ended by Ctrl-C (128 + SIGINT), as ``_run`` gives.
EXIT_INTERRUPTED = 130


class BoundedStop:
    """Ctrl-C (or the end of the work) starts a stop that lasts at most ``seconds``."""

    def __init__(self, seconds: float, *, exit_now: Callable[[int], object] = os._exit) -> None:
        self.seconds = seconds
        #: What the command is doing now; the forced exit names it.
        self.stage = "starting"
        #: Called (synchronously, from any thread) before a forced exit: kills what must not outlive us.
        self.on_force: Callable[[], None] | None = None
        self.interrupted = False
        self._exit_now = exit_now
        self._timer: threading.Timer | None = None
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        """Take over SIGINT for the running task (call from inside it)."""
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        signal.signal(signal.SIGINT, self._on_sigint)

    def at(self, stage: str) -> None:
        self.stage = stage

    def stopping(self) -> None:
        """The work is over (or was interrupted): from now on the process ends within ``seconds``."""
        if self._timer is None:
            self._timer = threading.Timer(
                self.seconds, self.force, args=(f"still stopping after {self.seconds:.0f} s",)
            )
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        """Stopping finished in time."""
        if self._timer is not None:
            self._timer.cancel()

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted:
            self.force("a second Ctrl-C")
            return
        self.interrupted = True
        self.stopping()
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    def force(self, why: str) -> None:
        """Kill what must not outlive the process, say why on stderr, and exit 130."""
        try:
            sys.stderr.write(f"wfwatch: {why} ({self.stage}); exiting now\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        try:
            if self.on_force is not None:
                self.on_force()
        finally:
            self._exit_now(EXIT_INTERRUPTED)
