"""One session as the hub holds it: one upstream reader, shared by every device.

A :class:`SessionFeed` owns, for one workflow id:

* the **upstream reader** — the only thing that polls Temporal for the live
  tail, however many devices watch (it stops ``grace`` seconds after the
  last connected device leaves and restarts when one comes back);
* the **retained buffer** of the newest decoded records, which devices read
  by slicing from their own cursor; one :class:`asyncio.Event` is set per
  appended batch and every waiting device re-reads from the buffer — no
  per-device queues, so a slow device costs nothing but its cursor;
* what the **cache** holds (``cached``) and what is **known gone**
  (``gaps``), both as offset ranges; and how the stream **ended**.

:meth:`SessionFeed.locate` decides, for any offset, where a device's next
records come from: a gap notice, the buffer, the cache, a bounded catch-up
read from the workflow (poll Query, written through the cache), the end of
the stream, or "wait for the next batch". It is synchronous and has no
Temporal in it, so the interleaving rules are unit-testable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, Final, NamedTuple

from temporalio.client import Client

from wfwatch import events
from wfwatch.hub.buffer import RetainedBuffer
from wfwatch.hub.cache import CachedStream, CacheWrite, EventCache
from wfwatch.hub.codec import RawItem, decode_raw, raw_from_wire
from wfwatch.hub.results import Delivery, DeviceEvent, EndOfStream, GapNotice, JoinError
from wfwatch.hub.spans import SpanSet
from wfwatch.hub.upstream import RawBatch, UpstreamReader, describe_epoch, session_turn_offsets
from wfwatch.schemas import Translator
from wfwatch.stream.reader import Batch, Gap, ReadMode, StreamNotFound, StreamReader

log = logging.getLogger(__name__)

#: Records per cache block: cache reads and decoding happen a block at a
#: time and decoded blocks are shared by every device replaying them.
BLOCK: Final = 4096
#: Decoded cache blocks kept in memory per session (bounded memory for replay).
MAX_BLOCKS: Final = 32
#: When the first device of a session starts no further than this past what
#: the cache holds, the upstream reader starts at the cache's end and fills
#: the hole (so the cache stays contiguous); further away, it starts at the
#: device and older offsets are read on demand.
EAGER_CATCH_UP: Final = 20_000

_TURN_MARK: Final = b'"turn_started"'


class Where(NamedTuple):
    """Where the records at an offset come from (see :meth:`SessionFeed.locate`)."""

    kind: str  # one of the constants below
    start: int = 0
    end: int = 0


BUFFER: Final = "buffer"
CACHE: Final = "cache"
GAP: Final = "gap"
MISSING: Final = "missing"
WAIT: Final = "wait"
END: Final = "end"

_FROM_BUFFER: Final = Where(BUFFER)
_WAIT: Final = Where(WAIT)
_END: Final = Where(END)


class SessionFeed:
    """The shared state and upstream reader of one session; devices read through it."""

    def __init__(
        self,
        session_id: str,
        *,
        client: Client | None,
        cache: EventCache,
        retain: int = 200_000,
        warm: int | None = None,
        live_mode: ReadMode = "query",
        poll_interval: float = 0.05,
        grace: float = 5.0,
        on_idle: Callable[[SessionFeed], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.client = client
        self.cache = cache
        self.live_mode: ReadMode = live_mode
        self.poll_interval = poll_interval
        self.grace = grace
        self._on_idle = on_idle

        self.buffer = RetainedBuffer(0, retain=retain, warm=warm)
        self.cached = SpanSet()
        self.gaps = SpanSet()
        self.end: EndOfStream | None = None
        self.replaced = False
        self.epoch = ""
        self.turn_offsets: dict[int, int] = {}
        self._turn_scan = Translator()
        self._turn_scan_next = 0
        self.known_head = 0
        self._stream: CachedStream | None = None
        self._runs: dict[str, int] = {}

        self._wake = asyncio.Event()
        #: Devices reading through this feed (by id), connected or not.
        self.devices: dict[str, object] = {}
        self.connected = 0
        self.prepared = False
        self.prepare_task: asyncio.Task[None] | None = None
        self._upstream_planned = False
        self._upstream: asyncio.Task[None] | None = None
        self._reader: UpstreamReader | None = None
        self._pages: UpstreamReader | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._verify: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._backfill_lock = asyncio.Lock()
        self._blocks: OrderedDict[tuple[int, int], list[events.Record]] = OrderedDict()
        self._block_loads: dict[tuple[int, int], asyncio.Task[list[events.Record]]] = {}
        self.closed = False

        # Counters that survive reader restarts (the live reader adds its own).
        self._updates = 0
        self._queries = 0
        self._items = 0
        self.max_in_flight = 0
        self.backfill_queries = 0
        self.restarts = 0
        self.errors = 0
        self.last_error = ""
        # What stopped the last upstream reader, while the next one is not yet running.
        self._trouble = ""

    # --- setting up ------------------------------------------------------------

    async def prepare(self) -> None:
        """Load what the cache knows; ask Temporal only if the session is not complete there.

        Raises :class:`StreamNotFound` for an unknown workflow or one without
        a stream. A session the cache holds complete is served without any
        Temporal call; its epoch is checked in the background.
        """
        stream = await self.cache.load(self.session_id)
        if stream is not None:
            self._track(self.cache.touch(stream.key))  # in use: keep it when the cache is pruned
        if stream is not None and stream.end_status is not None and stream.end_offset is not None:
            self._adopt(stream)
            self.end = EndOfStream(stream.end_status, stream.end_offset)
            self.buffer.rebase(stream.end_offset)
            self.known_head = stream.end_offset
            if self.client is not None:
                self._verify = asyncio.create_task(self._verify_epoch(), name=f"wfwatch-verify-{self.session_id}")
            self.prepared = True
            return
        if self.client is None:
            raise StreamNotFound(f"session {self.session_id!r} is not in the cache and the hub has no Temporal client")
        epoch, _ = await describe_epoch(self.client, self.session_id)
        if stream is None or stream.epoch != epoch:
            if stream is not None:
                log.info(
                    "session %s was replaced (epoch %s -> %s); dropping its cache", self.session_id, stream.epoch, epoch
                )
            stream = await self.cache.reset(self.session_id, epoch)
        self._adopt(stream)
        self.known_head = max(await StreamReader(self.client, self.session_id).head(), self.cached.end)
        self.buffer.rebase(max(self.cached.end, self.gaps.end))
        self.prepared = True

    def prepare_offline(self, stream: CachedStream) -> None:
        """Adopt a cache entry without Temporal (used by tests and benchmarks)."""
        self._adopt(stream)
        if stream.end_status is not None and stream.end_offset is not None:
            self.end = EndOfStream(stream.end_status, stream.end_offset)
            self.buffer.rebase(stream.end_offset)
        else:
            self.buffer.rebase(max(self.cached.end, self.gaps.end))
        self.known_head = max(self.buffer.head, self.known_head)
        self.prepared = True

    def _adopt(self, stream: CachedStream) -> None:
        self._stream = stream
        self.epoch = stream.epoch
        self.cached = SpanSet(stream.items)
        self.gaps = SpanSet(stream.gaps)
        self.turn_offsets = dict(stream.turns)
        self._runs = dict(stream.runs)

    async def _verify_epoch(self) -> None:
        """Detect a different workflow now using this id; the cached copy stays readable offline."""
        assert self.client is not None
        try:
            epoch, _ = await describe_epoch(self.client, self.session_id)
        except StreamNotFound:
            return  # deleted from Temporal: the cache is now the only copy
        except Exception as err:  # unreachable server etc.: offline replay is the point
            log.debug("could not verify the epoch of %s: %s", self.session_id, err)
            return
        if epoch != self.epoch:
            log.warning("session %s was replaced by a new workflow; its old cache is dropped", self.session_id)
            # Now, so no device reads the old copy while the cache is reset.
            self.replaced = True
            self.end = EndOfStream("replaced", self.buffer.head)
            await self.cache.reset(self.session_id, epoch)
            self._mark_replaced()

    def _mark_replaced(self) -> None:
        """End every device with ``"replaced"``; the hub opens a fresh feed for whoever joins next."""
        self.replaced = True
        self.end = EndOfStream("replaced", self.buffer.head)
        self.notify()
        if self._on_idle is not None:
            self._on_idle(self)

    # --- where an offset's records come from -------------------------------------

    def locate(self, position: int) -> Where:
        """Where the records at ``position`` come from, decided without awaiting."""
        if self.replaced:
            return _END
        if self.gaps:
            gap = self.gaps.find(position)
            if gap is not None:
                return Where(GAP, position, gap[1])
        buffer = self.buffer
        if buffer.base <= position < buffer.head:
            return _FROM_BUFFER
        span = self.cached.find(position)
        if span is not None:
            return Where(CACHE, span[0], span[1])
        if position >= buffer.head:
            if self.end is not None and position >= self.end.next_offset:
                return _END
            return _WAIT
        stop = buffer.base
        for start in (self.cached.next_start(position), self.gaps.next_start(position)):
            if start is not None and start < stop:
                stop = start
        return Where(MISSING, position, stop)

    async def next_event(self, position: int, limit: int) -> tuple[DeviceEvent | None, asyncio.Event | None]:
        """The next event for a device at ``position``, or ``(None, wake)`` to wait on ``wake``.

        The wake event is taken in the same step as the decision to wait, so
        a batch appended after that decision always wakes the device.
        """
        while True:
            where = self.locate(position)
            kind = where.kind
            if kind is BUFFER:
                records = self.buffer.read(position, limit)
                return Delivery(records, records[-1].offset + 1), None
            if kind is WAIT:
                return None, self._wake
            if kind is GAP:
                return GapNotice(position, where.end), None
            if kind is END:
                assert self.end is not None
                return EndOfStream(self.end.status, max(position, self.end.next_offset)), None
            if kind is CACHE:
                records = await self._read_cached(position, where.start, where.end, limit)
                if records:
                    return Delivery(records, records[-1].offset + 1), None
                continue  # the block was bad and its span dropped: locate again
            await self._backfill(where.start, where.end)

    def notify(self) -> None:
        """Wake every waiting device (they re-read from their cursors)."""
        self._wake.set()
        self._wake = asyncio.Event()

    # --- devices coming and going ---------------------------------------------------

    def attach(self, device_id: str, device: object, position: int, *, connected: bool = True) -> None:
        """Register a device whose position is already resolved; no await in between."""
        self.devices[device_id] = device
        if not self._upstream_planned and self.end is None:
            self._plan_upstream(position)
        if connected:
            self.set_connected(+1)

    def detach(self, device_id: str, *, was_connected: bool) -> None:
        self.devices.pop(device_id, None)
        if was_connected:
            self.set_connected(-1)
        elif not self.devices and self.connected == 0:
            self._schedule_idle()

    def set_connected(self, delta: int) -> None:
        self.connected += delta
        if self.connected > 0:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            self.ensure_upstream()
        else:
            self._schedule_idle()

    def _schedule_idle(self) -> None:
        if self._idle_timer is None:
            self._idle_timer = asyncio.get_running_loop().call_later(self.grace, self._idle)

    def _idle(self) -> None:
        self._idle_timer = None
        if self.connected > 0:
            return
        self.stop_upstream()
        if self._on_idle is not None:
            self._on_idle(self)

    def _plan_upstream(self, position: int) -> None:
        """Choose where the upstream reader starts, from the first device's position."""
        self._upstream_planned = True
        # Never past the known head: a device asking for a future offset must not
        # move everyone else's upstream start beyond the real end of the stream.
        start = min(position, self.known_head)
        if not len(self.buffer) and start > self.buffer.head + EAGER_CATCH_UP:
            self.buffer.rebase(start)

    # --- the upstream reader -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._upstream is not None and not self._upstream.done()

    @property
    def trouble(self) -> str:
        """What keeps the upstream from reading right now ("" when it reads fine)."""
        if not self.running or self.end is not None:
            return ""
        return self._reader.trouble if self._reader is not None else self._trouble

    @property
    def caught_up(self) -> bool:
        return self.running and self._reader is not None and self._reader.caught_up

    def ensure_upstream(self) -> None:
        """Start the upstream reader unless it runs, the stream ended, or the feed is offline."""
        if self.running or self.end is not None or not self.prepared or self.client is None or self.closed:
            return
        if self._upstream is not None:
            self.restarts += 1
        self._upstream = asyncio.create_task(self._run_upstream(), name=f"wfwatch-upstream-{self.session_id}")

    def stop_upstream(self) -> None:
        if self._upstream is not None and not self._upstream.done():
            self._upstream.cancel()

    async def _run_upstream(self) -> None:
        assert self.client is not None
        backoff = 0.5
        while True:
            reader = UpstreamReader(
                self.client,
                self.session_id,
                from_offset=self.buffer.head,
                live_mode=self.live_mode,
                poll_interval=self.poll_interval,
                epoch=self.epoch or None,
            )
            self._reader = reader
            try:
                async for result in reader:
                    if isinstance(result, Batch):
                        self._on_batch(result)
                    elif isinstance(result, Gap):
                        await self.mark_gap(result.start, result.end)
                    elif result.status == "replaced":
                        # Another workflow took the id while we read it; the next feed's prepare restarts the cache.
                        await self.drain_writes()
                        self._mark_replaced()
                        return
                    else:
                        self.mark_end(result.status, result.next_offset)
                        return
                    backoff = 0.5
                    self._trouble = ""
                return
            except StreamNotFound as err:
                # The workflow vanished while we read it: nothing more will come.
                self.errors += 1
                self.last_error = str(err)
                self.mark_end("deleted", self.buffer.head)
                return
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.errors += 1
                self.last_error = self._trouble = str(err)
                log.warning("upstream of %s failed (%s); retrying in %.1fs", self.session_id, err, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self._retire(reader)

    def _retire(self, reader: UpstreamReader) -> None:
        self._updates += reader.stats.updates
        self._queries += reader.stats.queries
        self._items += reader.stats.items
        self.max_in_flight = max(self.max_in_flight, reader.max_updates_in_flight)
        if self._reader is reader:
            self._reader = None

    def _on_batch(self, batch: Batch) -> None:
        raw: list[RawItem] = batch.raw if isinstance(batch, RawBatch) else []
        self.append(batch.records, raw, run_id=batch.run_id, next_offset=batch.next_offset)

    def append(
        self, records: list[events.Record], raw: list[RawItem], *, run_id: str = "", next_offset: int = 0
    ) -> None:
        """Take a batch read upstream: into the buffer, then the cache; wake the devices.

        ``raw`` is the stored form of the same items (written to the cache in
        the background; the buffer evicts a record only once it is there).
        """
        if not records:
            return
        head = self.buffer.head
        if records[0].offset != head:
            # Defensive: never let an overlap or hole into the buffer.
            records = [r for r in records if r.offset >= head]
            if not records or records[0].offset != head:
                log.error("upstream of %s skipped from %d to %s", self.session_id, head, next_offset)
                return
        self.buffer.append(records)
        first, end = records[0].offset, records[-1].offset + 1
        raw = [item for item in raw if first <= item.offset < end]
        turns = self._learn_turns(records)
        runs = {}
        if run_id and run_id not in self._runs:
            self._runs[run_id] = first
            runs[run_id] = first
        self.known_head = max(self.known_head, end, next_offset)
        covered = (first, end) if len(raw) == end - first else None
        self._write(CacheWrite(items=raw, covered=covered, turns=turns, runs=runs))
        self.notify()

    async def mark_gap(self, start: int, end: int) -> None:
        """Offsets ``start..end-1`` are gone upstream: remember it and continue the buffer at ``end``."""
        self.gaps.add(start, end)
        self._write(CacheWrite(gaps=[(start, end)]))
        if len(self.buffer):
            await self.drain_writes()  # what the buffer holds must be in the cache first
        self.buffer.rebase(max(end, self.buffer.head))
        self.known_head = max(self.known_head, end)
        self.notify()

    def mark_end(self, status: str, next_offset: int) -> None:
        """The workflow closed: devices drain what remains, then get end-of-stream."""
        self.end = EndOfStream(status, max(next_offset, self.buffer.head))
        self.known_head = max(self.known_head, self.end.next_offset)
        if self._stream is not None:
            self._track(self.cache.set_end(self._stream.key, self.end.status, self.end.next_offset))
        self.notify()

    def _learn_turns(self, records: list[events.Record]) -> dict[int, int]:
        """Where turns start, from wfwatch's ``turn_started`` or from a framework's stream.

        A framework marks no turns: they are found by folding its items in
        offset order (``wfwatch.schemas``), which the feed does while the
        batches it sees stay contiguous from the stream's first offset.
        """
        found: dict[int, int] = {}
        scanning = bool(records) and records[0].offset == self._turn_scan_next
        for record in records:
            item = record.item
            starts: tuple[events.Decoded, ...] = (item,)
            if scanning:
                if type(item) is events.UnknownItem:
                    starts = self._turn_scan.translate(record)[0].derived
                self._turn_scan_next = record.offset + 1
            for event in starts:
                if type(event) is events.TurnStarted and event.turn not in self.turn_offsets:
                    self.turn_offsets[event.turn] = record.offset
                    found[event.turn] = record.offset
        return found

    # --- the cache ---------------------------------------------------------------------

    def _write(self, change: CacheWrite) -> None:
        """Persist in the background; the cached range grows once sqlite committed it."""
        if self._stream is None:
            return
        self._track(self._commit(self._stream.key, change))

    async def _commit(self, key: int, change: CacheWrite) -> None:
        try:
            await self.cache.write(key, change)
        except Exception as err:
            self.errors += 1
            self.last_error = f"cache write failed: {err}"
            log.error("caching %s failed: %s", self.session_id, err)
            return
        if change.covered is not None:
            self.cached.add(*change.covered)
        # Evict only what the cache now holds, so nothing is lost to a slow device.
        span = self.cached.find(self.buffer.base)
        if span is not None:
            self.buffer.trim(span[1], self._needed_from())

    def _needed_from(self) -> int:
        """The lowest position a connected device still has to read from (the head when none)."""
        needed = self.buffer.head
        for device in self.devices.values():
            if getattr(device, "connected", False):
                needed = min(needed, getattr(device, "position", needed))
        return needed

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain_writes(self) -> None:
        """Wait for every background cache write started so far."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def _read_cached(self, position: int, start: int, end: int, limit: int) -> list[events.Record]:
        block_start = max(start, position - position % BLOCK)
        block_end = min(end, block_start - block_start % BLOCK + BLOCK)
        key = (block_start, block_end)
        block = self._blocks.get(key)
        if block is None:
            block = await self._load_block(key)
        else:
            self._blocks.move_to_end(key)
        if len(block) != block_end - block_start or (block and block[0].offset != block_start):
            log.error("cache of %s lacks offsets in %d..%d; re-reading them", self.session_id, block_start, block_end)
            self._blocks.pop(key, None)
            self.cached.remove(block_start, block_end)
            return []
        index = position - block_start
        return block[index : index + limit]

    async def _load_block(self, key: tuple[int, int]) -> list[events.Record]:
        """Read and decode one block once, however many devices ask for it at the same time."""
        task = self._block_loads.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_block(key))
            self._block_loads[key] = task
            task.add_done_callback(lambda _: self._block_loads.pop(key, None))
        # Shielded: a device that gives up (seek, close) must not cancel the others' read.
        return await asyncio.shield(task)

    async def _fetch_block(self, key: tuple[int, int]) -> list[events.Record]:
        assert self._stream is not None
        block = await self.cache.read_records(self._stream.key, *key)
        self._blocks[key] = block
        while len(self._blocks) > MAX_BLOCKS:
            self._blocks.popitem(last=False)
        return block

    # --- catch-up beyond the buffer and the cache -----------------------------------------

    async def _backfill(self, start: int, stop: int) -> None:
        """Read ``[start, stop)`` from the workflow by poll Query (one ≤1 MB page) into the cache.

        The poll Query reads what the workflow retains without adding to its
        history or spending an Update. Offsets the workflow no longer holds
        become a recorded gap. One backfill runs at a time per session, so
        devices catching up together share each page.
        """
        async with self._backfill_lock:
            where = self.locate(start)
            if where.kind != MISSING:
                return  # another device filled it while we waited
            stop = where.end
            if self.client is None or self._stream is None:
                self.gaps.add(start, stop)  # offline and not cached: nothing can bring it back
                return
            if self._pages is None:
                self._pages = UpstreamReader(self.client, self.session_id, from_offset=start, live_mode="query")
            self.backfill_queries += 1
            try:
                result = await self._pages.query_page(start)
            except StreamNotFound:
                await self._record_backfill([], [(start, stop)], None)
                return
            except Exception as err:
                self.errors += 1
                self.last_error = f"catch-up read failed: {err}"
                log.warning("reading %s from %d failed: %s; retrying", self.session_id, start, err)
                await asyncio.sleep(1.0)
                return
            raw = [raw_from_wire(i.offset, i.topic, i.data) for i in result.items if start <= i.offset < stop]
            gaps: list[tuple[int, int]] = []
            covered: tuple[int, int] | None = None
            if raw:
                if raw[0].offset > start:
                    gaps.append((start, raw[0].offset))
                covered = (raw[0].offset, raw[-1].offset + 1)
            elif result.items and result.items[0].offset >= stop:
                gaps.append((start, stop))  # the workflow's log now begins past this range
            elif not result.items and result.next_offset > start:
                gaps.append((start, min(stop, result.next_offset)))
            else:
                await asyncio.sleep(0.1)  # nothing there yet (should not happen below the buffer)
                return
            await self._record_backfill(raw, gaps, covered)

    async def _record_backfill(
        self, raw: list[RawItem], gaps: list[tuple[int, int]], covered: tuple[int, int] | None
    ) -> None:
        turns: dict[int, int] = {}
        marked = [item for item in raw if _TURN_MARK in item.data]
        if marked:
            turns = self._learn_turns([decode_raw(item) for item in marked])
        if self._stream is not None:
            try:
                await self.cache.write(self._stream.key, CacheWrite(items=raw, covered=covered, gaps=gaps, turns=turns))
            except Exception as err:
                self.errors += 1
                self.last_error = f"cache write failed: {err}"
                raise
        if covered is not None:
            self.cached.add(*covered)
        for gap in gaps:
            self.gaps.add(*gap)
        self.notify()

    # --- joins -------------------------------------------------------------------------------

    async def resolve_live(self) -> int:
        """The head offset for a ``live`` join."""
        if self.end is not None:
            return self.end.next_offset
        if self.caught_up or self.client is None:
            return self.buffer.head
        head = await StreamReader(self.client, self.session_id).head()
        self.known_head = max(self.known_head, head)
        return head

    async def resolve_turn(self, turn: int) -> int:
        """The first offset of ``turn``: from what was read, else the session's ``info`` query."""
        offset = self.turn_offsets.get(turn)
        if offset is not None:
            return offset
        if self.client is not None:
            offsets = await session_turn_offsets(self.client, self.session_id)
            if offsets:
                for known, at in offsets.items():
                    self.turn_offsets.setdefault(known, at)
                if turn in offsets:
                    return offsets[turn]
        latest = max(self.turn_offsets, default=0)
        if latest and turn > latest:
            raise JoinError(f"turn {turn} of session {self.session_id!r} has not started (latest turn: {latest})")
        raise JoinError(
            f"turn {turn} of session {self.session_id!r} is unknown: the session does not report turn offsets "
            "and no TurnStarted event for it has been read"
        )

    # --- stats and shutdown -----------------------------------------------------------------

    def counters(self) -> tuple[int, int, int, int, int]:
        """(updates, queries, items, updates in flight, max updates in flight), live reader included."""
        reader = self._reader
        updates, queries, items, in_flight, peak = self._updates, self._queries, self._items, 0, self.max_in_flight
        if reader is not None:
            updates += reader.stats.updates
            queries += reader.stats.queries
            items += reader.stats.items
            in_flight = reader.updates_in_flight
            peak = max(peak, reader.max_updates_in_flight)
        if self._pages is not None:
            queries += self._pages.stats.queries
        return updates, queries, items, in_flight, peak

    async def close(self) -> None:
        """Stop reading and make sure the cache has everything that was read."""
        self.closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for task in (self._upstream, self._verify, self.prepare_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.drain_writes()
        self._blocks.clear()
        self.notify()
