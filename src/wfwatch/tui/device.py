"""What a pane subscribes through: a device on a session, at its own offset.

Panes consume three results — records, a gap, the end — from a
:data:`DeviceFactory`. The default factory reads the workflow's stream
directly with :class:`~wfwatch.stream.reader.StreamReader`; the hub's devices
plug in through the same signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from temporalio.client import Client

from wfwatch import events
from wfwatch.stream.reader import Batch, End, Gap, StreamReader

JoinMode = Literal["start", "live", "offset", "turn", "resume"]


@dataclass(frozen=True, slots=True)
class JoinSpec:
    mode: JoinMode = "start"
    offset: int | None = None
    turn: int | None = None

    def describe(self) -> str:
        if self.mode == "offset":
            return f"offset {self.offset}"
        if self.mode == "turn":
            return f"turn {self.turn}"
        return self.mode


@dataclass(frozen=True, slots=True)
class DeviceRecords:
    records: list[events.Record]
    next_offset: int
    head: int


@dataclass(frozen=True, slots=True)
class DeviceGap:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DeviceEnd:
    status: str
    next_offset: int


DeviceResult = DeviceRecords | DeviceGap | DeviceEnd
#: (session id, device name, join, resume offset or None) -> results
DeviceFactory = Callable[[str, str, JoinSpec, int | None], AsyncIterator[DeviceResult]]


def direct_devices(client: Client) -> DeviceFactory:
    """Devices that each read the workflow directly (no hub)."""

    async def open_device(
        session_id: str, name: str, join: JoinSpec, resume_at: int | None
    ) -> AsyncIterator[DeviceResult]:
        reader = StreamReader(client, session_id)
        if resume_at is not None:
            reader.offset = resume_at
        elif join.mode == "live":
            reader.offset = await reader.head()
        elif join.mode == "offset":
            reader.offset = max(0, join.offset or 0)
        head = 0
        async for result in reader:
            if isinstance(result, Batch):
                head = max(head, result.next_offset)
                yield DeviceRecords(result.records, result.next_offset, head)
            elif isinstance(result, Gap):
                yield DeviceGap(result.start, result.end)
            elif isinstance(result, End):
                yield DeviceEnd(result.status, result.next_offset)

    return open_device
