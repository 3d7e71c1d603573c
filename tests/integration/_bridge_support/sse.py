"""Reading Server-Sent Events with httpx, the way EventSource parses them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from wfwatch import events


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event; ``event`` is ``message`` for records, as in EventSource."""

    event: str
    data: str
    id: str | None

    @property
    def json(self) -> Any:
        return json.loads(self.data)

    @property
    def offset(self) -> int:
        value = self.json["offset"]
        assert isinstance(value, int)
        return value


@dataclass(frozen=True)
class Comment:
    text: str


async def sse(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    comments: bool = False,
) -> AsyncIterator[SSEEvent | Comment]:
    """Events of one SSE response until it ends; raises on a non-200 answer.

    Stop iterating (``break``) to drop the connection, like a closed tab.
    """
    async with client.stream("GET", url, headers=headers, params=params) as response:
        if response.status_code != 200:
            await response.aread()
            raise AssertionError(f"GET {url} answered {response.status_code}: {response.text}")
        assert response.headers["content-type"].startswith("text/event-stream")
        event, last_id = "", None
        data: list[str] = []
        async for line in response.aiter_lines():
            if not line:
                if data:
                    yield SSEEvent(event or "message", "\n".join(data), last_id)
                event, data = "", []
                continue
            if line.startswith(":"):
                if comments:
                    yield Comment(line[1:].strip())
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                last_id = value


async def collect(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    stop_after: int | None = None,
    timeout: float = 40.0,
) -> list[SSEEvent]:
    """Every event until the stream ends (or ``stop_after`` events, then hang up).

    A stream still open after ``timeout`` seconds fails the test with what it got.
    """
    got: list[SSEEvent] = []
    try:
        async with asyncio.timeout(timeout):
            async for item in sse(client, url, headers=headers, params=params):
                assert isinstance(item, SSEEvent)
                got.append(item)
                if stop_after is not None and len(got) >= stop_after:
                    break
    except TimeoutError:
        tail = [(g.event, g.id, g.data[:80]) for g in got[-3:]]
        raise AssertionError(f"{url}: no end after {timeout}s; {len(got)} events, last {tail}") from None
    return got


def records_of(got: list[SSEEvent]) -> list[events.Record]:
    """The records carried by the default (message) events, decoded with the event schema."""
    out = []
    for item in got:
        if item.event != "message":
            continue
        data = item.json
        offset = data.pop("offset")
        out.append(events.Record(offset, events.decode_value(data)))
    return out


def offsets_of(got: list[SSEEvent]) -> list[int]:
    return [item.offset for item in got if item.event == "message"]
