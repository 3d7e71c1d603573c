"""A demo-agent worker in a process of its own, so a test can SIGKILL it.

Usage: python worker_process.py ADDRESS NAMESPACE TASK_QUEUE

Prints ``ready`` on stdout once the worker polls, then runs until killed.
Tests start it through :func:`worker_processes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from temporalio.client import Client

from wfwatch.agents.worker import create_worker


async def main(address: str, namespace: str, task_queue: str) -> None:
    client = await Client.connect(address, namespace=namespace)
    async with create_worker(client, task_queue):
        print("ready", flush=True)
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def worker_processes(
    address: str, namespace: str, task_queue: str
) -> AsyncIterator[Callable[[], Awaitable[asyncio.subprocess.Process]]]:
    """Yields ``spawn()``, which starts a worker subprocess and waits until it polls.

    Every process still running is killed on exit.
    """
    procs: list[asyncio.subprocess.Process] = []

    async def spawn() -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__)),
            address,
            namespace,
            task_queue,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        assert line.strip() == b"ready", line
        return proc

    try:
        yield spawn
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
