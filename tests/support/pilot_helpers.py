"""Waiting on a running app from a Pilot test, without fixed sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 60) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await pilot.pause(0.1)
