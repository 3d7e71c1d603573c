"""Helpers for ``hub_fanout.py``: a worker in its own process, CPU clocks, a bulk stream.

The worker (agent workflows + activities + :class:`StreamGenerator`) runs in a
subprocess so the benchmark process's CPU time is the hub's (and its
devices') alone, and the worker's own CPU (it answers every poll Query and
Update) can be reported separately.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream

with workflow.unsafe.imports_passed_through():
    from wfwatch import events
    from wfwatch.stream.publisher import event_payload
    from wfwatch.stream.reader import OFFSET_QUERY

HERE = Path(__file__).resolve().parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@workflow.defn(sandboxed=False)
class StreamGenerator:
    """Publishes ``count`` token events from inside the workflow, then waits to be finished.

    Workflow-side publishing puts nothing in the history (the items are
    produced by the workflow's own code), so a 100k-event stream exists in
    seconds instead of the ~20 s a paced publisher needs. Items are
    published 5,000 per workflow task to stay far from deadlock detection.
    """

    @workflow.init
    def __init__(self, count: int) -> None:
        self.stream = WorkflowStream()
        self.finished = False

    @workflow.run
    async def run(self, count: int) -> int:
        topic = self.stream.topic(events.TOPIC)
        for start in range(0, count, 5000):
            for index in range(start, min(count, start + 5000)):
                topic.publish(
                    event_payload(events.TokenDelta(message_id="bulk", text=f"token {index} ", turn=1, ts=0.0))
                )
            await workflow.sleep(timedelta(milliseconds=1))
        await workflow.wait_condition(lambda: self.finished)
        self.stream.detach_pollers()  # let in-flight poll Updates return before the run ends
        await workflow.wait_condition(workflow.all_handlers_finished)
        return count

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def published(self) -> int:
        handler = workflow.get_query_handler(OFFSET_QUERY)  # the stream's own offset Query
        assert handler is not None
        return int(handler())


def worker_main(argv: Sequence[str]) -> None:
    """Entry point of the worker subprocess: ``address namespace task_queue``."""
    address, namespace, task_queue = argv

    async def run() -> None:
        from temporalio.client import Client
        from temporalio.worker import Worker

        from wfwatch.agents.activities import ALL_ACTIVITIES
        from wfwatch.agents.workflows import AgentSession, Subagent

        client = await Client.connect(address, namespace=namespace)
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[AgentSession, Subagent, StreamGenerator],
            activities=ALL_ACTIVITIES,
            max_concurrent_activities=200,
        ):
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin

    asyncio.run(run())


@contextlib.asynccontextmanager
async def worker_process(address: str, namespace: str, task_queue: str) -> AsyncIterator[int]:
    """Run the worker in a subprocess; yields its pid."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, _hub_common; _hub_common.worker_main(sys.argv[1:])",
            address,
            namespace,
            task_queue,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
    if b"ready" not in line:
        proc.kill()
        raise RuntimeError(f"the benchmark worker did not start (said {line!r})")
    try:
        yield proc.pid
    finally:
        proc.stdin.close()
        try:
            await asyncio.get_running_loop().run_in_executor(None, lambda: proc.wait(timeout=15))
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # After the ")" the fields start at #3 (state): utime is #14, stime #15.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
