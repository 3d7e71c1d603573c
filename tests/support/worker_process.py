"""A demo-agent worker in a process of its own, so a test can SIGKILL it.

Usage: python worker_process.py ADDRESS NAMESPACE TASK_QUEUE

Prints ``ready`` on stdout once the worker polls, then runs until killed.
Tests start it through :func:`worker_processes`. Its log (warnings and up:
a workflow task that fails, an activity that gives up) goes to a file, whose
end the helper prints when it stops, so a failing test shows what the worker
saw (pytest shows a test's output only when it fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from wfwatch.agents.worker import create_worker


async def main(address: str, namespace: str, task_queue: str) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
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
    logs: list[Path] = []

    async def spawn() -> asyncio.subprocess.Process:
        log = Path(tempfile.gettempdir()) / f"wfwatch-worker-{task_queue}-{len(procs)}.log"
        logs.append(log)
        with log.open("wb") as stderr:
            proc = await _start(address, namespace, task_queue, stderr)
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
        for log in logs:
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            print(f"--- worker log {log} ({len(lines)} lines), its end:", *lines[-40:], sep="\n")
            log.unlink(missing_ok=True)


async def _start(address: str, namespace: str, task_queue: str, stderr: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__)),
        address,
        namespace,
        task_queue,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
