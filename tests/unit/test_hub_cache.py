"""The event cache, the position store and the raw item codec (sqlite in tmp_path, no Temporal)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from pathlib import Path

from temporalio.api.common.v1 import Payload

from wfwatch import events
from wfwatch.hub.cache import CacheWrite, EventCache
from wfwatch.hub.codec import JSON_ENCODING, RawItem, decode_item, decode_raw, raw_from_wire
from wfwatch.hub.positions import PositionStore, SavedPosition


def wire(data: bytes, encoding: bytes = b"json/plain") -> str:
    return base64.b64encode(Payload(metadata={"encoding": encoding}, data=data).SerializeToString()).decode()


def raw_event(offset: int, event: events.Event) -> RawItem:
    return RawItem(offset, events.TOPIC, JSON_ENCODING, events.encode(event))


# --- codec ----------------------------------------------------------------------------------


def test_wire_items_round_trip_to_records() -> None:
    event = events.TokenDelta(message_id="m", text="hello")
    item = raw_from_wire(7, events.TOPIC, wire(events.encode(event)))
    assert item == RawItem(7, events.TOPIC, "json/plain", events.encode(event))
    assert decode_raw(item) == events.Record(7, event)


def test_foreign_items_pass_through_as_generic() -> None:
    as_json = decode_item("metrics", "json/plain", b'{"cpu": 0.5}')
    assert isinstance(as_json, events.UnknownItem) and as_json.value() == {"cpu": 0.5}
    # Not JSON at all: the bytes themselves are kept, not lost.
    as_bytes = decode_item("blobs", "json/plain", b"\xff\x00raw")
    assert isinstance(as_bytes, events.UnknownItem) and as_bytes.data == b"\xff\x00raw"
    binary = decode_item("blobs", "binary/plain", b"\x01\x02")
    assert isinstance(binary, events.UnknownItem) and binary.data == b"\x01\x02"
    assert binary.reason == "topic 'blobs' is not 'wfwatch' (binary/plain payload)"
    # JSON null stays null.
    null = decode_item("other", "json/plain", b"null")
    assert isinstance(null, events.UnknownItem) and null.data is None


def test_garbage_on_the_wire_becomes_an_invalid_item_not_an_exception() -> None:
    item = raw_from_wire(3, events.TOPIC, "!!! not base64 !!!")
    record = decode_raw(item)
    assert isinstance(record.item, events.InvalidItem)
    assert record.item.reason == "not a Temporal payload"
    wrong_encoding = decode_item(events.TOPIC, "binary/protobuf", b"\x08\x01")
    assert isinstance(wrong_encoding, events.InvalidItem)


# --- cache ------------------------------------------------------------------------------------


async def test_heads_are_final_for_ended_streams_and_a_lower_bound_otherwise(tmp_path: Path) -> None:
    cache = EventCache(tmp_path / "events.sqlite")
    ended = await cache.reset("ended", "e1")
    await cache.write(ended.key, CacheWrite(items=[raw_event(0, events.TurnStarted())], covered=(0, 12)))
    await cache.set_end(ended.key, "completed", 12)
    running = await cache.reset("running", "e2")
    await cache.write(running.key, CacheWrite(items=[raw_event(3, events.TurnStarted())], covered=(3, 4)))
    await cache.write(running.key, CacheWrite(gaps=[(0, 3)], covered=(4, 9)))
    await cache.reset("empty", "e3")  # known stream, nothing cached yet: no head to claim
    many = [f"missing-{n}" for n in range(1200)]  # more ids than one sqlite statement may bind
    heads = await cache.heads(["ended", "running", "empty", *many])
    assert heads == {"ended": (12, True), "running": (9, False)}
    await cache.close()


async def test_cache_keeps_items_spans_turns_and_end_across_reopen(tmp_path: Path) -> None:
    cache = EventCache(tmp_path / "events.sqlite")
    stream = await cache.reset("session-a", "epoch-1")
    first = [raw_event(o, events.TokenDelta(message_id="m", text=f"t{o}")) for o in range(0, 5)]
    await cache.write(stream.key, CacheWrite(items=first, covered=(0, 5), turns={1: 0}, runs={"run-1": 0}))
    later = [raw_event(o, events.TokenDelta(message_id="m", text=f"t{o}")) for o in range(5, 9)]
    await cache.write(stream.key, CacheWrite(items=later, covered=(5, 9), gaps=[(20, 30)]))
    await cache.set_end(stream.key, "completed", 40)
    await cache.close()

    reopened = EventCache(tmp_path / "events.sqlite")
    loaded = await reopened.load("session-a")
    assert loaded is not None
    assert loaded.epoch == "epoch-1"
    assert list(loaded.items) == [(0, 9)]  # adjacent writes merged into one range
    assert list(loaded.gaps) == [(20, 30)]
    assert loaded.turns == {1: 0}
    assert loaded.runs == {"run-1": 0}
    assert (loaded.end_status, loaded.end_offset) == ("completed", 40)
    records = await reopened.read_records(loaded.key, 3, 7)
    assert [(r.offset, r.item.text) for r in records] == [(o, f"t{o}") for o in range(3, 7)]  # type: ignore[union-attr]
    assert await reopened.load("session-b") is None
    await reopened.close()


async def test_a_new_epoch_drops_the_old_streams_items(tmp_path: Path) -> None:
    cache = EventCache(tmp_path / "events.sqlite")
    stream = await cache.reset("session-a", "epoch-1")
    await cache.write(
        stream.key, CacheWrite(items=[raw_event(0, events.SessionStarted(session_id="a"))], covered=(0, 1))
    )
    await cache.set_end(stream.key, "completed", 1)
    replaced = await cache.reset("session-a", "epoch-2")
    assert replaced.key == stream.key
    loaded = await cache.load("session-a")
    assert loaded is not None and loaded.epoch == "epoch-2"
    assert (loaded.end_status, list(loaded.items)) == (None, [])
    assert await cache.read(stream.key, 0, 10) == []
    await cache.close()


async def test_prune_drops_unused_streams_but_keeps_open_and_recently_touched_ones(tmp_path: Path) -> None:
    cache = EventCache(tmp_path / "events.sqlite")
    keys = {}
    for name in ("old", "old-but-open", "touched"):
        stream = await cache.reset(name, "epoch")
        keys[name] = stream.key
        await cache.write(stream.key, CacheWrite(items=[raw_event(0, events.SessionStarted(session_id=name))]))
    await asyncio.sleep(0.05)
    await cache.touch(keys["touched"])
    dropped = await cache.prune(older_than=0.04, keep={"old-but-open"})
    assert dropped == ["old"]
    assert await cache.load("old") is None and await cache.read(keys["old"], 0, 10) == []
    assert await cache.load("old-but-open") is not None and await cache.load("touched") is not None
    assert len(await cache.read(keys["touched"], 0, 10)) == 1
    assert await cache.prune(older_than=3600) == []
    await cache.close()


# --- positions -------------------------------------------------------------------------------------


def test_positions_survive_reopening(tmp_path: Path) -> None:
    store = PositionStore(tmp_path / "state" / "devices.sqlite")
    saved = SavedPosition("phone", "Phone", "session-a", "epoch-1", "start", 120, False, 1000.0)
    store.save([saved])
    store.save([SavedPosition("tab", "Tab", "session-b", "epoch-9", "live", 7, True, 1001.0)])
    store.close()
    reopened = PositionStore(tmp_path / "state" / "devices.sqlite")
    assert reopened.get("phone") == saved
    assert [p.device_id for p in reopened.all("session-b")] == ["tab"]
    reopened.forget("phone")
    assert reopened.get("phone") is None
    reopened.close()


def test_the_hub_never_imports_textual() -> None:
    code = "import sys, wfwatch.hub, wfwatch.hub.history; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
