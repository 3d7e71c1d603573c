"""What a pane subscribes through: a hub device on a session, at its own offset.

Panes consume three results — records, a gap, the end — from a
:data:`DeviceFactory`. The real one, :func:`hub_devices`, opens a device on
the app's :class:`~wfwatch.hub.Hub`: every pane on a session shares one
upstream reader, and the hub tracks each pane's position (the devices
panel lists them). Tests and the load benchmark plug deterministic feeds in
through the same signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from wfwatch import events
from wfwatch.hub import Delivery, EndOfStream, GapNotice, Hub, Join


def parse_join(text: str) -> Join:
    """Parse ``start``, ``live``, ``resume``, ``offset N`` / ``N``, ``turn N``."""
    words = text.lower().split()
    if words in (["start"], ["0"]):
        return Join("start")
    if words == ["live"]:
        return Join("live")
    if words == ["resume"]:
        return Join("resume")
    if len(words) == 1 and words[0].isdigit():
        return Join.at(int(words[0]))
    if len(words) == 2 and words[0] in ("offset", "turn") and words[1].isdigit():
        number = int(words[1])
        if words[0] == "offset":
            return Join.at(number)
        if number >= 1:
            return Join.at_turn(number)
    raise ValueError(f"cannot join at {text!r}: use start, live, resume, offset N (N >= 0) or turn N (N >= 1)")


@dataclass(frozen=True, slots=True)
class DeviceOpened:
    """The device is open at ``position``; the stream's head is ``head`` (possibly behind it).

    ``resume_point`` is where the device had left off before this open (a
    saved position on the stream's current epoch), or None: opening a device
    moves its saved position, so a pane keeps this to ``resume`` to later.
    """

    position: int
    head: int
    resume_point: int | None = None


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


DeviceResult = DeviceOpened | DeviceRecords | DeviceGap | DeviceEnd
#: (session id, device name, join, resume offset or None) -> results.
#: ``resume_at`` is the pane's own next offset after a drop; it wins over ``join``.
DeviceFactory = Callable[[str, str, Join, int | None], AsyncIterator[DeviceResult]]


def pane_device_id(session_id: str, name: str) -> str:
    """A pane's device id: stable per session and pane name, so ``resume`` finds it next time."""
    return f"tui:{session_id}:{name}"


def hub_devices(hub: Hub) -> DeviceFactory:
    """Panes as hub devices: one upstream read per session, however many panes watch it.

    A drop (the pane's subscription cancelled) closes the device; the hub
    keeps its position, and the devices panel shows it offline until the
    pane reconnects from where it was.
    """

    async def open_device(session_id: str, name: str, join: Join, resume_at: int | None) -> AsyncIterator[DeviceResult]:
        device_id = pane_device_id(session_id, name)
        earlier = await hub.saved_position(session_id, device_id)
        device = await hub.open_device(
            session_id,
            name=name,
            join=Join.at(resume_at) if resume_at is not None else join,
            device_id=device_id,
        )
        try:
            yield DeviceOpened(device.position, device.stream_head, earlier)
            async for event in device:
                if isinstance(event, Delivery):
                    yield DeviceRecords(event.records, event.next_offset, device.info.head)
                elif isinstance(event, GapNotice):
                    yield DeviceGap(event.start, event.end)
                elif isinstance(event, EndOfStream):
                    yield DeviceEnd(event.status, event.next_offset)
        finally:
            await device.close()

    return open_device
