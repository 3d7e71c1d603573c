"""A device: one consumer of a session (a dashboard pane, a browser tab, a script).

A device is a cursor, not a queue: its position is the next offset it will
be given, and each step of ``async for event in device`` reads from that
position — through the session's shared feed, or, in **direct** mode,
through a Workflow Streams subscription of its own (how a client without a
delivery layer reads; kept so users can compare the two).

Positions move forward only by delivery, gap notice or an explicit
:meth:`Device.seek`. ``disconnect`` / ``reconnect`` simulate a network drop:
nothing is delivered while disconnected, and on reconnect the device carries
on from where it was — the feed serves whatever it missed from the buffer,
the cache or the workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from temporalio.client import Client

from wfwatch.hub.results import Delivery, DeviceEvent, DeviceInfo, EndOfStream, GapNotice, Join
from wfwatch.stream.reader import Batch, Gap, StreamReader

if TYPE_CHECKING:
    from wfwatch.hub.feed import SessionFeed

log = logging.getLogger(__name__)


class Source(Protocol):
    """Where a device's events come from."""

    async def next_event(self, position: int, limit: int) -> tuple[DeviceEvent | None, asyncio.Event | None]:
        """An event from ``position``, or ``(None, wake)``: wait on ``wake`` (if any) and ask again."""
        ...

    def interrupt(self) -> None:
        """Make a pending ``next_event`` / wait return so the device re-checks its state."""
        ...

    def head(self) -> int: ...

    async def stop(self) -> None: ...


class Owner(Protocol):
    """What a device needs from its hub."""

    def _device_moved(self, device: Device) -> None: ...

    def _device_connection(self, device: Device, connected: bool) -> None: ...

    async def _device_closed(self, device: Device) -> None: ...

    async def _resolve(self, device: Device, join: Join) -> int: ...


class FeedSource:
    """Reads through the session's shared feed (the hub's normal mode)."""

    def __init__(self, feed: SessionFeed) -> None:
        self.feed = feed

    async def next_event(self, position: int, limit: int) -> tuple[DeviceEvent | None, asyncio.Event | None]:
        return await self.feed.next_event(position, limit)

    def interrupt(self) -> None:
        # Seeks and drops are rare: a spurious wake of the session's other
        # waiting devices is cheaper than a second wait primitive per device.
        self.feed.notify()

    def head(self) -> int:
        return max(self.feed.known_head, self.feed.buffer.head)

    async def stop(self) -> None:
        return None


class DirectSource:
    """Reads with the device's own long-poll Updates, as a client without the hub would."""

    def __init__(self, client: Client, session_id: str) -> None:
        self._client = client
        self._session_id = session_id
        self._queue: asyncio.Queue[DeviceEvent | None] = asyncio.Queue(maxsize=2)
        self._task: asyncio.Task[None] | None = None
        self._reader: StreamReader | None = None
        self._consumed_to = -1
        self._head = 0
        self.updates = 0
        self.errors = 0
        self.last_error = ""

    @property
    def live_updates(self) -> int:
        return self.updates + (self._reader.stats.updates if self._reader is not None else 0)

    async def next_event(self, position: int, limit: int) -> tuple[DeviceEvent | None, asyncio.Event | None]:
        if self._task is None or position != self._consumed_to:
            await self._restart(position, limit)
        event = await self._queue.get()
        if event is not None:
            self._consumed_to = _end_of(event, position)
        return event, None

    def interrupt(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        _drain(self._queue)
        self._queue.put_nowait(None)

    def head(self) -> int:
        return self._head

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _restart(self, position: int, limit: int) -> None:
        await self.stop()
        _drain(self._queue)
        self._consumed_to = position
        self._task = asyncio.create_task(self._pump(position, limit), name=f"wfwatch-direct-{self._session_id}")

    async def _pump(self, position: int, limit: int) -> None:
        backoff = 0.5
        while True:
            reader = StreamReader(self._client, self._session_id, from_offset=position, mode="update")
            self._reader = reader
            try:
                async for result in reader:
                    if isinstance(result, Batch):
                        self._head = max(self._head, result.next_offset)
                        records = result.records
                        for index in range(0, len(records), limit):
                            chunk = records[index : index + limit]
                            await self._queue.put(Delivery(chunk, chunk[-1].offset + 1))
                    elif isinstance(result, Gap):
                        await self._queue.put(GapNotice(result.start, result.end))
                    else:
                        self._head = max(self._head, result.next_offset)
                        await self._queue.put(EndOfStream(result.status, result.next_offset))
                        return
                    position = reader.offset
                    backoff = 0.5
                return
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # A naive client would give up here (e.g. the 2,000-Update cap);
                # we record it and retry so the comparison keeps running.
                self.errors += 1
                self.last_error = str(err)
                log.warning("direct reader of %s failed (%s); retrying", self._session_id, err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.updates += reader.stats.updates
                self._reader = None


def _end_of(event: DeviceEvent, position: int) -> int:
    if isinstance(event, Delivery):
        return event.next_offset
    if isinstance(event, GapNotice):
        return event.end
    return max(position, event.next_offset)


def _drain(queue: asyncio.Queue[DeviceEvent | None]) -> None:
    while not queue.empty():
        queue.get_nowait()


class Device:
    """One consumer's cursor into a session; iterate it with ``async for``.

    Each iteration step yields one :data:`~wfwatch.hub.results.DeviceEvent`:
    a :class:`Delivery` of at most ``chunk_size`` records contiguous from the
    device's position (so a UI can render a long catch-up progressively), a
    :class:`GapNotice`, or a final :class:`EndOfStream` after which the
    iteration stops. Iterating again (e.g. after :meth:`seek`) continues from
    the current position; starting a new iteration ends any earlier one.

    With ``auto_ack`` (the default) asking for the next event acknowledges the
    previous one: a consumer that finished handling an event has processed it.
    """

    def __init__(
        self,
        owner: Owner,
        source: Source,
        *,
        device_id: str,
        name: str,
        session_id: str,
        join: Join,
        position: int,
        epoch: str,
        direct: bool,
        chunk_size: int,
        auto_ack: bool,
    ) -> None:
        self.device_id = device_id
        self.name = name
        self.session_id = session_id
        self.join = join
        self.epoch = epoch
        self.direct = direct
        self.position = position
        self.acked = position
        self.delivered = 0
        self.last_seen = time.time()
        self.ended: str | None = None
        self._owner = owner
        self._source = source
        self._chunk = chunk_size
        self._auto_ack = auto_ack
        self._connected = True
        self._closed = False
        self._iteration = 0
        self._generation = 0
        self._reconnected = asyncio.Event()
        self._reconnected.set()

    # --- reading ---------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[DeviceEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[DeviceEvent]:
        # The newest iteration owns the device: one left behind by a consumer
        # that broke out of its loop simply ends at its next step.
        self._iteration += 1
        mine = self._iteration
        while not self._closed and mine == self._iteration:
            if not self._connected:
                await self._reconnected.wait()
                continue
            generation = self._generation
            event, wake = await self._source.next_event(self.position, self._chunk)
            if generation != self._generation or not self._connected or self._closed or mine != self._iteration:
                continue  # a seek, drop or close happened meanwhile: re-read from the new state
            if event is None:
                if wake is not None:
                    await wake.wait()
                continue
            self._advance(event)
            yield event
            if self._auto_ack and generation == self._generation:
                self.ack(self.position)
            if isinstance(event, EndOfStream):
                return

    def _advance(self, event: DeviceEvent) -> None:
        self.last_seen = time.time()
        if isinstance(event, Delivery):
            self.position = event.next_offset
            self.delivered += len(event.records)
        elif isinstance(event, GapNotice):
            self.position = event.end
        else:
            self.position = max(self.position, event.next_offset)
            self.ended = event.status

    # --- control ---------------------------------------------------------------

    def ack(self, offset: int) -> None:
        """Record that everything before ``offset`` was processed (persisted, debounced)."""
        offset = min(offset, self.position)
        if offset > self.acked:
            self.acked = offset
            self.last_seen = time.time()
            self._owner._device_moved(self)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def feed(self) -> SessionFeed | None:
        """The shared feed this device reads through (``None`` in direct mode)."""
        return self._source.feed if isinstance(self._source, FeedSource) else None

    @property
    def own_updates(self) -> int:
        """Update polls this device made itself (direct mode only; 0 through the hub)."""
        return self._source.live_updates if isinstance(self._source, DirectSource) else 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stream_head(self) -> int:
        """The stream's head as the hub last saw it (``info.head`` never reads below the position).

        A device that joined beyond it waits for the stream to get there; a
        UI can say so instead of looking stuck.
        """
        return self._source.head()

    async def disconnect(self) -> None:
        """Simulate a network drop: deliver nothing until :meth:`reconnect`."""
        if self._closed or not self._connected:
            return
        self._connected = False
        self._generation += 1
        self._reconnected.clear()
        self._source.interrupt()
        self._owner._device_connection(self, False)

    async def reconnect(self) -> None:
        """Come back: delivery resumes from the device's position."""
        if self._closed or self._connected:
            return
        self._connected = True
        self._generation += 1
        self.last_seen = time.time()
        self._owner._device_connection(self, True)
        self._reconnected.set()

    async def seek(self, join: Join) -> None:
        """Move the cursor (replay from 0, an offset, a turn, live); the next event comes from there."""
        if self._closed:
            raise RuntimeError(f"device {self.device_id!r} is closed")
        position = await self._owner._resolve(self, join)
        self.join = join
        self.position = position
        self.acked = position
        self.ended = None
        self._generation += 1
        self._source.interrupt()
        self._owner._device_moved(self)

    async def close(self) -> None:
        """Leave the session; the position stays saved for a later ``resume``."""
        if self._closed:
            return
        self._closed = True
        self._generation += 1
        self._source.interrupt()
        self._reconnected.set()
        await self._source.stop()
        await self._owner._device_closed(self)

    @property
    def info(self) -> DeviceInfo:
        head = max(self._source.head(), self.position)
        return DeviceInfo(
            device_id=self.device_id,
            name=self.name,
            session_id=self.session_id,
            join=self.join.describe(),
            position=self.position,
            head=head,
            lag=head - self.position,
            connected=self._connected and not self._closed,
            direct=self.direct,
            last_seen=self.last_seen,
            delivered=self.delivered,
            acked=self.acked,
            open=not self._closed,
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self._connected else "disconnected"
        return f"<Device {self.device_id} {self.name!r} on {self.session_id} at {self.position} ({state})>"
