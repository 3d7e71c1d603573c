"""Cursor, gap, end-of-stream and cache rules of the hub, without Temporal.

A :class:`SessionFeed` without a client is fed by hand (as its upstream
reader would feed it) and read by real :class:`Device` objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfwatch import events
from wfwatch.hub import Delivery, Device, DeviceEvent, EndOfStream, GapNotice, Join, JoinError
from wfwatch.hub.cache import EventCache
from wfwatch.hub.codec import JSON_ENCODING, RawItem, decode_raw
from wfwatch.hub.device import FeedSource
from wfwatch.hub.feed import WAIT, SessionFeed


class Owner:
    """The part of a hub a device talks to, resolving joins against one feed."""

    def __init__(self, feed: SessionFeed) -> None:
        self.feed = feed
        self.moved = 0

    def _device_moved(self, device: Device) -> None:
        self.moved += 1

    def _device_connection(self, device: Device, connected: bool) -> None:
        self.feed.set_connected(+1 if connected else -1)

    async def _device_closed(self, device: Device) -> None:
        self.feed.detach(device.device_id, was_connected=device.connected)

    async def _resolve(self, device: Device, join: Join) -> int:
        return await resolve(self.feed, join)


async def resolve(feed: SessionFeed, join: Join) -> int:
    if join.mode == "live":
        return await feed.resolve_live()
    if join.mode == "turn":
        assert join.turn is not None
        return await feed.resolve_turn(join.turn)
    return join.offset or 0


def item(offset: int) -> RawItem:
    return RawItem(
        offset, events.TOPIC, JSON_ENCODING, events.encode(events.TokenDelta(message_id="m", text=f"t{offset}"))
    )


def append(feed: SessionFeed, count: int) -> None:
    raw = [item(o) for o in range(feed.buffer.head, feed.buffer.head + count)]
    feed.append([decode_raw(r) for r in raw], raw)


@contextlib.asynccontextmanager
async def offline_feed(
    directory: Path, *, retain: int = 1000, warm: int | None = None
) -> AsyncIterator[tuple[SessionFeed, Owner]]:
    cache = EventCache(directory / "events.sqlite")
    stream = await cache.reset("session", "epoch-1")
    feed = SessionFeed("session", client=None, cache=cache, retain=retain, warm=warm, grace=60)
    feed.prepare_offline(stream)
    try:
        yield feed, Owner(feed)
    finally:
        await feed.close()
        await cache.close()


async def open_device(feed: SessionFeed, owner: Owner, join: Join, name: str = "d", chunk: int = 4096) -> Device:
    position = await resolve(feed, join)
    device = Device(
        owner,
        FeedSource(feed),
        device_id=name,
        name=name,
        session_id=feed.session_id,
        join=join,
        position=position,
        epoch=feed.epoch,
        direct=False,
        chunk_size=chunk,
        auto_ack=True,
    )
    feed.attach(name, device, position)
    return device


def offsets(received: list[DeviceEvent]) -> list[int]:
    return [r.offset for e in received if isinstance(e, Delivery) for r in e.records]


async def drain(device: Device) -> list[DeviceEvent]:
    """Everything a device gets until end-of-stream."""
    return [event async for event in device]


# --- the rules, one by one ------------------------------------------------------------------


async def test_slow_device_is_refed_from_the_cache_and_memory_stays_bounded(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=10) as (feed, owner):
        slow = await open_device(feed, owner, Join("start"))
        for _ in range(20):
            append(feed, 7)
        await feed.drain_writes()
        assert len(feed.buffer) <= 10
        assert feed.buffer.base == 130
        feed.mark_end("completed", feed.buffer.head)
        received = await drain(slow)
        assert offsets(received) == list(range(140))
        assert received[-1] == EndOfStream("completed", 140)
        assert [r.item.text for e in received if isinstance(e, Delivery) for r in e.records][:3] == [  # type: ignore[union-attr]
            "t0",
            "t1",
            "t2",
        ]


async def test_memory_holds_a_warm_window_once_connected_devices_have_read_it(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=100_000, warm=50) as (feed, owner):
        keeping_up = await open_device(feed, owner, Join("start"), name="up")
        got: list[int] = []

        async def read() -> None:
            async for event in keeping_up:
                got.extend(offsets([event]))

        reader = asyncio.create_task(read())
        for _ in range(30):
            append(feed, 20)
            await feed.drain_writes()
            await asyncio.sleep(0)
        while len(got) < 600:
            await asyncio.sleep(0.01)
        append(feed, 1)  # one more write: trims behind the device's position
        await feed.drain_writes()
        assert len(feed.buffer) <= 51, "the device has read it all: only the warm window stays"
        # A latecomer from 0 is served from the cache, contiguous, and then live from memory.
        late = await open_device(feed, owner, Join("start"), name="late")
        feed.mark_end("completed", feed.buffer.head)
        assert offsets(await drain(late)) == list(range(601))
        reader.cancel()


async def test_a_device_that_lags_holds_what_it_still_needs_up_to_retain(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=300, warm=10) as (feed, owner):
        lagging = await open_device(feed, owner, Join("start"), name="lag")
        for _ in range(10):
            append(feed, 20)
        await feed.drain_writes()
        assert feed.buffer.base == 0, "a connected device at 0 still needs everything (200 < retain)"
        for _ in range(10):
            append(feed, 20)
        await feed.drain_writes()
        assert len(feed.buffer) <= 300 and feed.buffer.base == 100, "beyond retain the cache takes over"
        feed.mark_end("completed", feed.buffer.head)
        assert offsets(await drain(lagging)) == list(range(400))


async def test_truncated_offsets_give_an_explicit_gap_never_a_silent_jump(tmp_path: Path) -> None:
    async with offline_feed(tmp_path) as (feed, owner):
        append(feed, 5)
        await feed.mark_gap(5, 50)  # the workflow dropped 5..49 before we read them
        append(feed, 3)
        feed.mark_end("completed", 53)
        early = await open_device(feed, owner, Join("start"), "early")
        inside = await open_device(feed, owner, Join.at(20), "inside")
        assert await drain(early) == [
            Delivery([decode_raw(item(o)) for o in range(5)], 5),
            GapNotice(5, 50),
            Delivery([decode_raw(item(o)) for o in range(50, 53)], 53),
            EndOfStream("completed", 53),
        ]
        inside_events = await drain(inside)
        assert inside_events[0] == GapNotice(20, 50)
        assert offsets(inside_events) == [50, 51, 52]


async def test_caught_up_is_not_the_end_a_device_waits_then_drains_then_ends(tmp_path: Path) -> None:
    async with offline_feed(tmp_path) as (feed, owner):
        append(feed, 3)
        device = await open_device(feed, owner, Join("start"))
        received: list[DeviceEvent] = []

        async def read() -> None:
            async for event in device:
                received.append(event)

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.01)
        assert offsets(received) == [0, 1, 2]
        assert not reader.done(), "a caught-up device must wait, not end"
        append(feed, 2)
        await asyncio.sleep(0.01)
        assert offsets(received) == [0, 1, 2, 3, 4]
        feed.mark_end("failed", 5)
        await asyncio.wait_for(reader, 1)
        assert received[-1] == EndOfStream("failed", 5)


async def test_live_join_gets_exactly_what_follows_the_head(tmp_path: Path) -> None:
    async with offline_feed(tmp_path) as (feed, owner):
        append(feed, 10)
        live = await open_device(feed, owner, Join("live"))
        assert live.position == 10
        assert feed.locate(10).kind == WAIT
        append(feed, 4)
        feed.mark_end("completed", 14)
        assert offsets(await drain(live)) == [10, 11, 12, 13]


async def test_deliveries_are_bounded_chunks(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=20_000) as (feed, owner):
        append(feed, 10_000)
        feed.mark_end("completed", 10_000)
        device = await open_device(feed, owner, Join("start"), chunk=3000)
        received = await drain(device)
        sizes = [len(e.records) for e in received if isinstance(e, Delivery)]
        assert sizes == [3000, 3000, 3000, 1000]
        assert device.delivered == 10_000 and device.acked == 10_000


async def test_a_disconnected_device_gets_nothing_then_resumes_where_it_was(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=5) as (feed, owner):
        device = await open_device(feed, owner, Join("start"))
        received: list[DeviceEvent] = []

        async def read() -> None:
            async for event in device:
                received.append(event)

        reader = asyncio.create_task(read())
        append(feed, 4)
        await asyncio.sleep(0.01)
        await device.disconnect()
        assert feed.connected == 0
        append(feed, 30)  # far past what the buffer retains
        await asyncio.sleep(0.01)
        assert offsets(received) == [0, 1, 2, 3], "nothing is delivered while disconnected"
        await feed.drain_writes()
        await device.reconnect()
        feed.mark_end("completed", 34)
        await asyncio.wait_for(reader, 1)
        assert offsets(received) == list(range(34))


async def test_seek_replays_from_the_new_position(tmp_path: Path) -> None:
    async with offline_feed(tmp_path) as (feed, owner):
        append(feed, 6)
        feed.mark_end("completed", 6)
        device = await open_device(feed, owner, Join("start"))
        assert offsets(await drain(device)) == list(range(6))
        await device.seek(Join.at(2))
        assert device.position == 2 and device.acked == 2
        assert offsets(await drain(device)) == [2, 3, 4, 5]


async def test_a_new_iteration_takes_over_from_an_abandoned_one(tmp_path: Path) -> None:
    async with offline_feed(tmp_path) as (feed, owner):
        append(feed, 5)
        device = await open_device(feed, owner, Join("start"))
        abandoned = aiter(device)
        assert offsets([await anext(abandoned)]) == [0, 1, 2, 3, 4]
        feed.mark_end("completed", 5)
        assert await drain(device) == [EndOfStream("completed", 5)]
        with pytest.raises(StopAsyncIteration):
            await anext(abandoned)


async def test_turn_joins_use_turn_started_offsets(tmp_path: Path) -> None:
    async with offline_feed(tmp_path) as (feed, _):
        append(feed, 3)
        turn = events.TurnStarted(turn=2, user_message="hi")
        raw = RawItem(3, events.TOPIC, JSON_ENCODING, events.encode(turn))
        feed.append([decode_raw(raw)], [raw])
        assert await feed.resolve_turn(2) == 3
        with pytest.raises(JoinError, match=r"turn 5 .* has not started"):
            await feed.resolve_turn(5)


async def test_devices_replaying_from_the_cache_share_each_block_read(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=10) as (feed, owner):
        append(feed, 5000)
        await feed.drain_writes()
        feed.mark_end("completed", 5000)
        reads: list[tuple[int, int]] = []
        original = feed.cache.read_records

        async def counting(key: int, start: int, end: int) -> list[events.Record]:
            reads.append((start, end))
            return await original(key, start, end)

        feed.cache.read_records = counting  # type: ignore[method-assign]
        devices = [await open_device(feed, owner, Join("start"), f"d{i}") for i in range(5)]
        results = await asyncio.gather(*(drain(d) for d in devices))
        assert all(offsets(r) == list(range(5000)) for r in results)
        assert sorted(reads) == [(0, 4096), (4096, 5000)], "each block is read once, whoever asks"


async def test_a_completed_session_replays_from_the_cache_alone(tmp_path: Path) -> None:
    async with offline_feed(tmp_path, retain=50) as (feed, _):
        append(feed, 200)
        feed.mark_end("completed", 200)
    cache = EventCache(tmp_path / "events.sqlite")
    stream = await cache.load("session")
    assert stream is not None and stream.end_status == "completed"
    replay = SessionFeed("session", client=None, cache=cache)
    replay.prepare_offline(stream)
    device = await open_device(replay, Owner(replay), Join("start"))
    received = await drain(device)
    assert offsets(received) == list(range(200))
    assert received[-1] == EndOfStream("completed", 200)
    await replay.close()
    await cache.close()


# --- any interleaving: contiguous, duplicate-free, gaps only where offsets are gone ---------------


@dataclass
class Watcher:
    device: Device
    log: list[tuple[int, list[DeviceEvent]]] = field(default_factory=list)  # (segment start, events)
    events: AsyncIterator[DeviceEvent] | None = None


def check_segment(start: int, received: list[DeviceEvent], gone: set[int], end: int | None) -> None:
    expected = start
    for index, event in enumerate(received):
        if isinstance(event, Delivery):
            for record in event.records:
                assert record.offset == expected, f"expected {expected}, got {record.offset}"
                assert record.offset not in gone, f"offset {record.offset} was truncated yet delivered"
                assert record.item.text == f"t{record.offset}"  # type: ignore[union-attr]
                expected += 1
            assert event.next_offset == expected
        elif isinstance(event, GapNotice):
            assert event.start == expected and event.end > event.start
            assert set(range(event.start, event.end)) <= gone, "a gap notice for offsets that exist"
            expected = event.end
        else:
            assert index == len(received) - 1, "nothing after end-of-stream"
            # The stream's real head, also for a device that joined beyond it (issue 13 #19).
            assert end is not None and event.next_offset == end
            assert expected >= end or expected == start, "end-of-stream before the device drained"


operation = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 6)),
    st.tuples(st.just("gap"), st.integers(1, 5)),
    st.tuples(st.just("join"), st.sampled_from(["start", "live", "offset"]), st.integers(0, 40)),
    st.tuples(st.just("read"), st.integers(0, 7), st.integers(1, 3)),
    st.tuples(st.just("drop"), st.integers(0, 7)),
    st.tuples(st.just("back"), st.integers(0, 7)),
    st.tuples(st.just("seek"), st.integers(0, 7), st.integers(0, 40)),
    st.tuples(st.just("flush")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=40), st.integers(2, 12))
async def test_any_interleaving_gives_each_device_its_exact_sequence(
    ops: list[tuple[object, ...]], retain: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        async with offline_feed(Path(directory), retain=retain) as (feed, owner):
            gone: set[int] = set()
            watchers: list[Watcher] = []

            async def step(w: Watcher) -> None:
                if not w.device.connected or feed.locate(w.device.position).kind == WAIT:
                    return
                if w.events is None:
                    w.events = aiter(w.device)
                w.log[-1][1].append(await anext(w.events))
                if isinstance(w.log[-1][1][-1], EndOfStream):
                    w.events = None

            for op in ops:
                kind = op[0]
                if kind == "append":
                    append(feed, int(op[1]))  # type: ignore[call-overload]
                elif kind == "gap":
                    start = feed.buffer.head
                    end = start + int(op[1])  # type: ignore[call-overload]
                    gone.update(range(start, end))
                    await feed.mark_gap(start, end)
                elif kind == "join":
                    mode, at = str(op[1]), int(op[2])  # type: ignore[call-overload]
                    join = Join.at(at) if mode == "offset" else Join(mode)  # type: ignore[arg-type]
                    device = await open_device(feed, owner, join, f"d{len(watchers)}")
                    watchers.append(Watcher(device, [(device.position, [])]))
                elif kind == "flush":
                    await feed.drain_writes()
                    assert len(feed.buffer) <= retain, "the buffer outgrew what it should retain"
                elif watchers:
                    w = watchers[int(op[1]) % len(watchers)]  # type: ignore[call-overload]
                    if kind == "read":
                        for _ in range(int(op[2])):  # type: ignore[call-overload]
                            await step(w)
                    elif kind == "drop":
                        await w.device.disconnect()
                    elif kind == "back":
                        await w.device.reconnect()
                    elif kind == "seek":
                        await w.device.seek(Join.at(int(op[2])))  # type: ignore[call-overload]
                        w.events = None
                        w.log.append((w.device.position, []))
            end = feed.buffer.head
            feed.mark_end("completed", end)
            for w in watchers:
                await w.device.reconnect()
                for _ in range(end + 10):
                    if w.log[-1][1] and isinstance(w.log[-1][1][-1], EndOfStream):
                        break
                    await step(w)
                for index, (start, received) in enumerate(w.log):
                    final = index == len(w.log) - 1
                    check_segment(start, received, gone, end if final else None)
                    if final:
                        assert isinstance(received[-1], EndOfStream), f"{w.device} never reached the end"
