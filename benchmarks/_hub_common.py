"""Helpers for the hub benchmarks: a worker in its own process, CPU clocks, a bulk stream,
and devices on an offline feed.

The worker (agent workflows + activities + :class:`StreamGenerator`) runs in a
subprocess so the benchmark process's CPU time is the hub's (and its
devices') alone, and the worker's own CPU (it answers every poll Query and
Update) can be reported separately.

:func:`offline_feed` and :func:`offline_device` put real hub devices on a
:class:`~wfwatch.hub.feed.SessionFeed` with no Temporal client, so the hub's
own delivery path (buffer, sqlite cache blocks) is measured without a server
(``hub_fanout.py`` in-process fan-out, ``framework_reduce.py`` catch-up).
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

from wfwatch.hub import Delivery, Device, Join
from wfwatch.hub.cache import CacheWrite, EventCache
from wfwatch.hub.codec import RawItem
from wfwatch.hub.device import FeedSource
from wfwatch.hub.feed import SessionFeed

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


# --- devices on an offline feed (no Temporal) ---------------------------------------------


async def offline_feed(tmp: Path, name: str, cache: EventCache | None = None) -> tuple[SessionFeed, EventCache]:
    """A feed of session ``name`` with no Temporal client, over ``cache`` (a new sqlite file by default).

    A session the cache holds as completed replays from sqlite, as a new hub
    serves it; otherwise the stream starts empty and the caller appends to it
    (the buffer path: everything appended stays retained).
    """
    cache = cache or EventCache(tmp / f"{name}.sqlite")
    stream = await cache.load(name)
    if stream is None:
        stream = await cache.reset(name, "epoch-1")
    feed = SessionFeed(name, client=None, cache=cache, retain=200_000)
    feed.prepare_offline(stream)
    return feed, cache


async def write_completed(cache: EventCache, name: str, raw: list[RawItem], status: str = "completed") -> None:
    """Store ``raw`` (contiguous from its first offset) as the whole stream of a session that ended."""
    stream = await cache.reset(name, "epoch-1")
    end = raw[-1].offset + 1 if raw else 0
    await cache.write(stream.key, CacheWrite(items=raw, covered=(raw[0].offset, end) if raw else None))
    await cache.set_end(stream.key, status, end)


class _Owner:
    """Just enough of a hub for devices reading an offline feed."""

    def _device_moved(self, device: Device) -> None:
        pass

    def _device_connection(self, device: Device, connected: bool) -> None:
        pass

    async def _device_closed(self, device: Device) -> None:
        pass

    async def _resolve(self, device: Device, join: Join) -> int:
        return 0


def offline_device(feed: SessionFeed, index: int, position: int = 0) -> Device:
    """A hub device reading ``feed`` from ``position``, with the hub's default chunk size."""
    device = Device(
        _Owner(),
        FeedSource(feed),
        device_id=f"d{index}",
        name=f"d{index}",
        session_id=feed.session_id,
        join=Join("start"),
        position=position,
        epoch=feed.epoch,
        direct=False,
        chunk_size=4096,
        auto_ack=True,
    )
    feed.attach(device.device_id, device, position)
    return device


async def count_until(device: Device, target: int) -> int:
    """Records delivered to ``device`` until it reached offset ``target``."""
    delivered = 0
    async for event in device:
        if isinstance(event, Delivery):
            delivered += len(event.records)
            if event.next_offset >= target:
                break
    return delivered
