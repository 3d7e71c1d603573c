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
from wfwatch.sessions import turn_start_offset
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


def parse_join(text: str) -> JoinSpec:
    """Parse ``start``, ``live``, ``resume``, ``offset N`` / ``N``, ``turn N``."""
    words = text.lower().split()
    if words in (["start"], ["0"]):
        return JoinSpec("start")
    if words in (["live"], ["resume"]):
        return JoinSpec(words[0])  # type: ignore[arg-type]
    if len(words) == 1 and words[0].isdigit():
        return JoinSpec("offset", offset=int(words[0]))
    if len(words) == 2 and words[0] in ("offset", "turn") and words[1].isdigit():
        number = int(words[1])
        return JoinSpec("offset", offset=number) if words[0] == "offset" else JoinSpec("turn", turn=number)
    raise ValueError(f"cannot join at {text!r}: use start, live, resume, offset N or turn N (N >= 0)")


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
        elif join.mode == "turn":
            reader.offset = await turn_start_offset(client, session_id, join.turn or 0)
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
