"""The delivery hub: many devices per session, one upstream reader per session.

With Workflow Streams alone every device long-polls the workflow with its
own Updates; each poll lands in the workflow's history and Temporal caps
Updates per run (10 in flight, 2,000 in total by default), so eleven tabs
already starve. The hub reads each session once and serves any number of
devices from a shared buffer and a local cache, each at its own position:

>>> async with Hub(client) as hub:                                # doctest: +SKIP
...     device = await hub.open_device("session-1", name="phone", join=Join("start"))
...     async for event in device:
...         ...  # Delivery / GapNotice / EndOfStream

Positions are persisted (debounced) under the platformdirs state dir so a
device resumes after its process restarts; the event cache lives under the
data dir so a restarted hub does not re-read, and a completed session
replays without Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Collection, Coroutine
from pathlib import Path
from typing import Any

from temporalio.client import Client

from wfwatch.hub.cache import EventCache
from wfwatch.hub.device import Device, DirectSource, FeedSource, Source
from wfwatch.hub.feed import SessionFeed
from wfwatch.hub.paths import cache_path, positions_path
from wfwatch.hub.positions import PositionStore, SavedPosition
from wfwatch.hub.results import DeviceInfo, HubError, Join, JoinError, KnownHead, UpstreamStats
from wfwatch.hub.upstream import describe_epoch, session_turn_offsets
from wfwatch.stream.reader import ReadMode, StreamReader

log = logging.getLogger(__name__)

#: How the upstream reader follows the live tail once caught up (catch-up is
#: always by Query). Chosen from ``benchmarks/hub_fanout.py`` (2 cores, hub
#: with 10 devices, same session): long-poll Updates cost 4.25 s server CPU
#: and 2.85 s worker CPU where 50 ms Query polling cost 4.72 s and 6.84 s, at
#: the same latency (p50/p99 86/231 vs 87/222 ms); idle, one parked Update
#: costs 1.4 s/min of server CPU against 6.1 s/min (and 4.2 s/min of worker
#: CPU) for polling. The price is history: one Update per published batch
#: (542 vs 326 KB for that session), which the session's continue-as-new
#: absorbs; pass ``upstream_mode="query"`` where history must not grow.
DEFAULT_UPSTREAM_MODE: ReadMode = "update"
#: Cached sessions unused for two weeks are dropped (the cache is a copy of
#: what Temporal holds, kept so reopening is instant; it must not grow forever).
DEFAULT_CACHE_MAX_AGE = 14 * 24 * 3600.0
#: Records a session keeps in memory once its connected devices have read them
#: (about 300 KB): the soak (50 sessions x 10 devices) grew the hub by ~2 MB/min
#: while every session kept its whole history in memory.
DEFAULT_WARM = 1024
#: Records per Delivery: bounded so a UI renders a long catch-up progressively.
DEFAULT_CHUNK = 4096


class Hub:
    """Fan-out of Workflow Streams sessions to devices, with positions and catch-up.

    Args:
        client: The Temporal client used for every upstream read.
        state_dir: Where device positions are kept (``None``: platformdirs state dir).
        cache_dir: Where the event cache is kept (``None``: platformdirs data dir).
        retain: Most records kept in memory per session for a lagging device;
            older ones are served from the cache.
        warm: Newest records kept in memory per session once every connected
            device has read them (reconnects and live joins are served from
            memory; older history from the cache). Memory per session stays
            at about this many records when devices keep up.
        grace: Seconds an upstream reader keeps running after its last connected device left.
        upstream_mode: How the live tail is followed: ``update`` (long-poll
            Updates: lowest latency, one Update per batch in the history) or
            ``query`` (poll Query every ``poll_interval``: no history).
            Catch-up is always read by Query.
        poll_interval: Query-mode polling period.
        chunk_size: Most records in one Delivery (≤ 5000).
        persist_interval: Debounce period for saving acknowledged positions.
        cache_max_age: Cached sessions not used for this many seconds are
            dropped when the hub starts its first feed (``None``: never).
    """

    def __init__(
        self,
        client: Client,
        *,
        state_dir: Path | None = None,
        cache_dir: Path | None = None,
        retain: int = 200_000,
        warm: int = DEFAULT_WARM,
        grace: float = 5.0,
        upstream_mode: ReadMode = DEFAULT_UPSTREAM_MODE,
        poll_interval: float = 0.05,
        chunk_size: int = DEFAULT_CHUNK,
        persist_interval: float = 0.5,
        cache_max_age: float | None = DEFAULT_CACHE_MAX_AGE,
    ) -> None:
        if upstream_mode not in ("update", "query"):
            raise ValueError(f"upstream_mode must be 'update' or 'query', got {upstream_mode!r}")
        if not 1 <= chunk_size <= 5000:
            raise ValueError(f"chunk_size must be between 1 and 5000, got {chunk_size}")
        self.client = client
        self.retain = retain
        self.warm = warm
        self.grace = grace
        self.upstream_mode: ReadMode = upstream_mode
        self.poll_interval = poll_interval
        self.chunk_size = chunk_size
        self.persist_interval = persist_interval
        self._positions = PositionStore(positions_path(state_dir))
        self._cache = EventCache(cache_path(cache_dir))
        self._feeds: dict[str, SessionFeed] = {}
        self._devices: dict[str, Device] = {}
        self._dirty: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False
        self.cache_max_age = cache_max_age
        self._pruned = cache_max_age is None

    async def __aenter__(self) -> Hub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def cache(self) -> EventCache:
        return self._cache

    # --- devices ------------------------------------------------------------------

    async def open_device(
        self,
        session_id: str,
        *,
        name: str,
        join: Join | None = None,
        device_id: str | None = None,
        direct: bool = False,
        auto_ack: bool = True,
    ) -> Device:
        """Attach a device to a session at the position ``join`` asks for.

        Raises :class:`~wfwatch.stream.reader.StreamNotFound` for an unknown
        workflow (or one without a stream) and :class:`JoinError` when the
        join cannot be resolved or ``device_id`` is already open.
        """
        self._check_open()
        join = join or Join()
        if device_id is not None and device_id in self._devices:
            raise JoinError(f"device {device_id!r} is already open; close it before opening it again")
        device_id = device_id or uuid.uuid4().hex[:12]
        saved = self._positions.get(device_id)
        source: Source
        feed: SessionFeed | None = None
        if direct:
            epoch, _ = await describe_epoch(self.client, session_id)
            position = await self._resolve_direct(session_id, join, saved, epoch)
            source = DirectSource(self.client, session_id)
        else:
            feed = await self._feed(session_id)
            position = await self._resolve_feed(feed, join, saved)
            if feed.closed:  # its grace period ran out while we resolved the join
                feed = await self._feed(session_id)
                position = await self._resolve_feed(feed, join, saved)
            epoch = feed.epoch
            source = FeedSource(feed)
        if device_id in self._devices:  # opened concurrently while we awaited
            raise JoinError(f"device {device_id!r} is already open; close it before opening it again")
        device = Device(
            self,
            source,
            device_id=device_id,
            name=name,
            session_id=session_id,
            join=join,
            position=position,
            epoch=epoch,
            direct=direct,
            chunk_size=self.chunk_size,
            auto_ack=auto_ack,
        )
        # Registration is synchronous after the position is fixed: every offset
        # from there on is served by the same buffer/cache path, so the
        # hand-over from catch-up to live cannot lose or repeat an offset.
        self._devices[device_id] = device
        if feed is not None:
            feed.attach(device_id, device, position)
        self._device_moved(device)
        self._ensure_flusher()
        return device

    async def prepare(self, session_id: str) -> None:
        """Make a session ready to join without opening a device (a caller retrying after an outage).

        Raises what :meth:`open_device` raises while preparing
        (:class:`~wfwatch.stream.reader.StreamNotFound`, ``StreamReadError``);
        a session no device joins is dropped after the grace period.
        """
        self._check_open()
        feed = await self._feed(session_id)
        feed.release_if_unused()

    def devices(self, session_id: str | None = None, *, include_offline: bool = True) -> list[DeviceInfo]:
        """The devices table: open devices, plus (by default) saved ones not open now."""
        rows = [d.info for d in self._devices.values() if session_id is None or d.session_id == session_id]
        if include_offline:
            for saved in self._positions.all(session_id):
                if saved.device_id in self._devices:
                    continue
                feed = self._feeds.get(saved.session_id)
                head = max(saved.position, feed.known_head if feed is not None else 0)
                rows.append(
                    DeviceInfo(
                        device_id=saved.device_id,
                        name=saved.name,
                        session_id=saved.session_id,
                        join=saved.join,
                        position=saved.position,
                        head=head,
                        lag=head - saved.position,
                        connected=False,
                        direct=saved.direct,
                        last_seen=saved.last_seen,
                        delivered=0,
                        acked=saved.position,
                        open=False,
                    )
                )
        return rows

    def device(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    async def saved_position(self, session_id: str, device_id: str) -> int | None:
        """Where ``device_id`` left off on this session's current epoch (what ``resume`` gives), or None.

        Opening a device moves its saved position; a caller that may want to
        ``resume`` later asks first.
        """
        self._check_open()
        saved = self._positions.get(device_id)
        if saved is None or saved.session_id != session_id:
            return None
        feed = await self._feed(session_id)
        return saved.position if saved.epoch == feed.epoch else None

    def forget_device(self, device_id: str) -> None:
        """Drop a saved position (the device must be closed)."""
        if device_id in self._devices:
            raise HubError(f"device {device_id!r} is open; close it first")
        self._positions.forget(device_id)

    def upstream_stats(self, session_id: str) -> UpstreamStats:
        """How the session is read from Temporal right now (zeros when nobody watches it)."""
        feed = self._feeds.get(session_id)
        direct = [d for d in self._devices.values() if d.session_id == session_id and d.direct]
        direct_updates = sum(d.own_updates for d in direct)
        if feed is None:
            return UpstreamStats(
                session_id=session_id,
                mode=self.upstream_mode,
                running=False,
                caught_up=False,
                updates=0,
                queries=0,
                items=0,
                in_flight=0,
                max_in_flight=0,
                backfill_queries=0,
                restarts=0,
                errors=0,
                last_error="",
                base=0,
                head=0,
                retained=0,
                cached=0,
                epoch="",
                ended=None,
                devices=len(direct),
                connected=sum(1 for d in direct if d.connected),
                direct_devices=len(direct),
                direct_updates=direct_updates,
            )
        updates, queries, items, in_flight, peak = feed.counters()
        return UpstreamStats(
            session_id=session_id,
            mode=feed.live_mode,
            running=feed.running,
            caught_up=feed.caught_up,
            updates=updates,
            queries=queries,
            items=items,
            in_flight=in_flight,
            max_in_flight=peak,
            backfill_queries=feed.backfill_queries,
            restarts=feed.restarts,
            errors=feed.errors,
            last_error=feed.last_error,
            base=feed.buffer.base,
            head=max(feed.known_head, feed.buffer.head),
            retained=len(feed.buffer),
            cached=feed.cached.total(),
            epoch=feed.epoch,
            ended=feed.end.status if feed.end is not None else None,
            devices=len(feed.devices) + len(direct),
            connected=feed.connected + sum(1 for d in direct if d.connected),
            direct_devices=len(direct),
            direct_updates=direct_updates,
            trouble=feed.trouble,
        )

    async def known_heads(self, session_ids: Collection[str]) -> dict[str, KnownHead]:
        """Each session's head offset where this hub knows it, without asking Temporal.

        A session read right now reports its live head; one read before (the
        cache survives restarts) reports where its stream ended, or, while it
        may still be running, the last offset seen: a lower bound. Sessions the
        hub never read are left out. A listing of many sessions can afford
        this every refresh; a query per session could not.
        """
        known: dict[str, KnownHead] = {}
        for session_id in session_ids:
            feed = self._feeds.get(session_id)
            if feed is not None and (feed.running or feed.end is not None):
                head = max(feed.known_head, feed.buffer.head)
                known[session_id] = KnownHead(head, exact=True)
        rest = [s for s in session_ids if s not in known]
        if rest and not self._closed:
            for session_id, (head, final) in (await self._cache.heads(rest)).items():
                known[session_id] = KnownHead(head, exact=final)
        return known

    def sessions(self) -> list[str]:
        """Sessions with a feed right now (being read, or kept for disconnected devices)."""
        return list(self._feeds)

    # --- feeds ----------------------------------------------------------------------

    async def prune_cache(self, older_than: float) -> list[str]:
        """Drop cached sessions unused for ``older_than`` seconds (open ones are kept)."""
        dropped = await self._cache.prune(older_than, keep=self._feeds.keys())
        if dropped:
            log.info("hub cache: dropped %d session(s) unused for %.0f s", len(dropped), older_than)
        return dropped

    async def _prune_once(self) -> None:
        try:
            await self.prune_cache(self.cache_max_age or 0.0)
        except Exception as err:  # a locked or broken cache file must not stop delivery
            log.warning("hub cache: pruning failed: %s", err)

    async def _feed(self, session_id: str) -> SessionFeed:
        if not self._pruned:
            self._pruned = True
            self._spawn(self._prune_once())
        feed = self._feeds.get(session_id)
        if feed is None or feed.closed or feed.replaced:
            feed = SessionFeed(
                session_id,
                client=self.client,
                cache=self._cache,
                retain=self.retain,
                warm=self.warm,
                live_mode=self.upstream_mode,
                poll_interval=self.poll_interval,
                grace=self.grace,
                on_idle=self._feed_idle,
            )
            self._feeds[session_id] = feed
            feed.prepare_task = asyncio.create_task(feed.prepare(), name=f"wfwatch-prepare-{session_id}")
        assert feed.prepare_task is not None
        try:
            await asyncio.shield(feed.prepare_task)
        except Exception:
            if self._feeds.get(session_id) is feed and not feed.devices:
                del self._feeds[session_id]
            raise
        return feed

    def _feed_idle(self, feed: SessionFeed) -> None:
        """A feed's grace period ran out with no connected device: drop it if nobody holds it."""
        if feed.devices and not feed.replaced:
            return  # disconnected devices keep their feed (the reader is already stopped)
        if self._feeds.get(feed.session_id) is feed:
            del self._feeds[feed.session_id]
        feed.closed = True  # now, so a join resolving meanwhile opens a fresh feed
        self._spawn(feed.close())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- resolving joins --------------------------------------------------------------

    async def _resolve_feed(self, feed: SessionFeed, join: Join, saved: SavedPosition | None) -> int:
        if join.mode == "start":
            return 0
        if join.mode == "offset":
            assert join.offset is not None
            return join.offset
        if join.mode == "live":
            return await feed.resolve_live()
        if join.mode == "turn":
            assert join.turn is not None
            return await feed.resolve_turn(join.turn)
        return _resumed(saved, feed.session_id, feed.epoch)

    async def _resolve_direct(self, session_id: str, join: Join, saved: SavedPosition | None, epoch: str) -> int:
        if join.mode == "start":
            return 0
        if join.mode == "offset":
            assert join.offset is not None
            return join.offset
        if join.mode == "live":
            return await StreamReader(self.client, session_id).head()
        if join.mode == "turn":
            assert join.turn is not None
            feed = self._feeds.get(session_id)
            if feed is not None and join.turn in feed.turn_offsets:
                return feed.turn_offsets[join.turn]
            offsets = await session_turn_offsets(self.client, session_id) or {}
            if join.turn not in offsets:
                raise JoinError(f"turn {join.turn} of session {session_id!r} is unknown")
            return offsets[join.turn]
        return _resumed(saved, session_id, epoch)

    async def _resolve(self, device: Device, join: Join) -> int:
        """Resolve a seek for an open device."""
        if device.direct:
            return await self._resolve_direct(device.session_id, join, self._saved(device), device.epoch)
        assert device.feed is not None
        return await self._resolve_feed(device.feed, join, self._saved(device))

    def _saved(self, device: Device) -> SavedPosition:
        return SavedPosition(
            device_id=device.device_id,
            name=device.name,
            session_id=device.session_id,
            epoch=device.epoch,
            join=device.join.describe(),
            position=device.acked,
            direct=device.direct,
            last_seen=device.last_seen,
        )

    # --- device callbacks ---------------------------------------------------------------

    def _device_moved(self, device: Device) -> None:
        self._dirty.add(device.device_id)

    def _device_connection(self, device: Device, connected: bool) -> None:
        self._persist([device])
        if device.feed is not None:
            device.feed.set_connected(+1 if connected else -1)

    async def _device_closed(self, device: Device) -> None:
        self._persist([device])
        self._devices.pop(device.device_id, None)
        if device.feed is not None:
            device.feed.detach(device.device_id, was_connected=device.connected)

    # --- persistence ------------------------------------------------------------------------

    def _persist(self, devices: list[Device]) -> None:
        for device in devices:
            self._dirty.discard(device.device_id)
        self._positions.save([self._saved(d) for d in devices])

    def flush_positions(self) -> None:
        """Save every acknowledged position now (normally debounced)."""
        dirty = [self._devices[i] for i in self._dirty if i in self._devices]
        self._dirty.clear()
        self._positions.save([self._saved(d) for d in dirty])

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="wfwatch-hub-positions")

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.persist_interval)
            if self._dirty:
                try:
                    self.flush_positions()
                except Exception as err:  # a full disk must not kill delivery
                    log.error("saving device positions failed: %s", err)

    # --- shutdown ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise HubError("the hub is closed")

    async def aclose(self) -> None:
        """Close every device (positions saved), stop every reader, finish cache writes."""
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for device in list(self._devices.values()):
            with contextlib.suppress(Exception):
                await device.close()
        self.flush_positions()
        for feed in list(self._feeds.values()):
            await feed.close()
        self._feeds.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._cache.close()
        self._positions.close()


def _resumed(saved: SavedPosition | None, session_id: str, epoch: str) -> int:
    """A saved position is only valid for the same session and epoch; otherwise start over."""
    if saved is None or saved.session_id != session_id:
        return 0
    if saved.epoch != epoch:
        log.info(
            "device %s: session %s was replaced since it was last seen; starting at 0", saved.device_id, session_id
        )
        return 0
    return saved.position
