"""A demo-agent worker in a process of its own, so a test can SIGKILL it.

Usage: python worker_process.py ADDRESS NAMESPACE TASK_QUEUE

Prints ``ready`` on stdout once the worker polls, then runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client

from wfwatch.agents.worker import create_worker


async def main(address: str, namespace: str, task_queue: str) -> None:
    client = await Client.connect(address, namespace=namespace)
    async with create_worker(client, task_queue):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
