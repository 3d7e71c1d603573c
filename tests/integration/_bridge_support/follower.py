"""A reconnecting SSE client, as EventSource behaves, light enough for hundreds per test process.

It keeps what a fleet test checks: every offset received (from the ``id:``
cursors, so no JSON is decoded), gaps, the end, every reconnection (how
long it took, which replica answered: ``X-Wfwatch-Replica``) and the
``retry:`` hints a draining replica sends.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Follower:
    """One viewer of one session; :meth:`run` returns once the stream has ended (or ``deadline``)."""

    url: str
    offsets: list[int] = field(default_factory=list)
    gaps: list[tuple[str, str]] = field(default_factory=list)
    ended: str | None = None
    last_id: str | None = None
    replicas: list[str] = field(default_factory=list)
    #: Seconds from a dropped connection to the next 200 answer.
    resumes: list[float] = field(default_factory=list)
    retries_seen: list[int] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Set once the first response has started (the client is "connected").
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, http: httpx.AsyncClient, *, deadline: float = 90.0) -> None:
        dropped_at: float | None = None
        retry_ms = 1000
        try:
            async with asyncio.timeout(deadline):
                while self.ended is None:
                    headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
                    try:
                        async with http.stream("GET", self.url, headers=headers) as response:
                            if response.status_code != 200:
                                await response.aread()
                                self.refusals.append(response.status_code)
                            else:
                                if dropped_at is not None:
                                    self.resumes.append(time.monotonic() - dropped_at)
                                    dropped_at = None
                                self.replicas.append(response.headers.get("x-wfwatch-replica", ""))
                                self.connected.set()
                                retry_ms = await self._read(response, retry_ms)
                    except httpx.TransportError as err:
                        self.errors.append(type(err).__name__)
                    if self.ended is None:
                        dropped_at = dropped_at if dropped_at is not None else time.monotonic()
                        # EventSource waits `retry` ms; a little less here keeps the test short.
                        await asyncio.sleep(min(retry_ms, 1000) / 1000 / 2)
        except TimeoutError:
            self.errors.append(f"no end after {deadline}s")

    async def _read(self, response: httpx.Response, retry_ms: int) -> int:
        pending = b""
        async for chunk in response.aiter_bytes():
            frames = (pending + chunk).split(b"\n\n")
            pending = frames.pop()
            for frame in frames:
                event, event_id = b"message", None
                has_data = False
                for line in frame.split(b"\n"):
                    if line.startswith(b"id: "):
                        event_id = line[4:].decode()
                    elif line.startswith(b"event: "):
                        event = line[7:]
                    elif line.startswith(b"data:"):
                        has_data = True
                    elif line.startswith(b"retry: "):
                        retry_ms = int(line[7:])
                        self.retries_seen.append(retry_ms)
                if not has_data:
                    continue  # retry hint, heartbeat comment
                if event_id is not None:
                    self.last_id = event_id
                if event == b"message" and event_id is not None:
                    self.offsets.append(int(event_id.rpartition(":")[2]) - 1)
                elif event == b"gap" and event_id is not None:
                    self.gaps.append((frame.decode(errors="replace"), event_id))
                elif event == b"end":
                    self.ended = frame.decode(errors="replace")
                    return retry_ms
        return retry_ms
