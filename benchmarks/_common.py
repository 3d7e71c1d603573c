"""Shared pieces for wfwatch benchmarks.

* :class:`StreamHost` — the smallest workflow that hosts a Workflow Stream:
  it only keeps the log and waits for a ``finish`` Signal. Benchmarks publish
  into it from outside and read it back, so all the cost measured is the
  stream's own (no agent logic). Defined here, not in a script, because the
  workflow sandbox re-imports the workflow's module and cannot re-import
  ``__main__``.
* :func:`process_cpu_seconds` — user+system CPU of a process (and, optionally,
  every process in its process group) from ``/proc``, for measuring the dev
  server's share of the machine.

This module is imported into the workflow sandbox: keep it free of heavy or
non-deterministic imports at module level.
"""

from __future__ import annotations

import os

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream


@workflow.defn
class StreamHost:
    """Hosts a Workflow Stream until it is told to finish."""

    @workflow.init
    def __init__(self) -> None:
        # The SDK checks that it is constructed from a method named __init__.
        self.stream = WorkflowStream()
        self.finished = False

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.finished)
        # Release any long-poll still waiting so the run can close cleanly.
        self.stream.detach_pollers()
        await workflow.wait_condition(workflow.all_handlers_finished)


def _clk_tck() -> int:
    # Not at module level: this module is re-imported inside the sandbox.
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    return text[text.rfind(")") + 2 :].split()


def process_cpu_seconds(pid: int, *, whole_group: bool = True) -> float:
    """utime+stime of ``pid`` in seconds; with ``whole_group`` also of every
    other live process whose process group is ``pid`` (the dev server runs in
    its own group). Returns 0.0 where ``/proc`` is unavailable."""
    total = 0
    if whole_group:
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            pids = []
        for p in pids:
            fields = _stat_fields(p)
            # After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
            if fields is not None and len(fields) > 12 and int(fields[2]) == pid:
                total += int(fields[11]) + int(fields[12])
        if total:
            return total / _clk_tck()
    fields = _stat_fields(pid)
    if fields is None or len(fields) <= 12:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _clk_tck()
