"""The delivery hub on a real dev server: fan-out, joins, drops, restarts, truncation.

The truth every device is compared with is the session's stream as a plain
:class:`~wfwatch.stream.reader.StreamReader` reads it after the workflow
closed (``read_all``): same offsets, same items, nothing missing, nothing
repeated. The Update counts are checked in the workflow's own history.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker

from wfwatch import events
from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import Delivery, Device, DeviceEvent, EndOfStream, GapNotice, Hub, Join, JoinError, StreamNotFound
from wfwatch.hub.history import history_cost
from wfwatch.reducer import reduce
from wfwatch.stream.reader import read_all

FAST = ModelSpec(tokens_per_second=300, answer_words=120, reasoning_words=20)


async def start_session(client: Client, task_queue: str, **fields: object) -> WorkflowHandle[AgentSession, object]:
    fields.setdefault("idle_timeout", 0.5)
    fields.setdefault("model", FAST)
    spec = SessionInput(**fields)  # type: ignore[arg-type]
    return await client.start_workflow(AgentSession.run, spec, id=f"hub-{uuid.uuid4()}", task_queue=task_queue)


def make_hub(client: Client, root: Path, **options: object) -> Hub:
    return Hub(client, state_dir=root / "state", cache_dir=root / "cache", **options)  # type: ignore[arg-type]


async def collect(device: Device, timeout: float = 60) -> list[DeviceEvent]:
    async def run() -> list[DeviceEvent]:
        return [event async for event in device]

    return await asyncio.wait_for(run(), timeout)


def records_of(received: list[DeviceEvent]) -> list[events.Record]:
    return [r for e in received if isinstance(e, Delivery) for r in e.records]


async def truth(client: Client, workflow_id: str) -> list[events.Record]:
    records, gaps, end = await read_all(client, workflow_id, timeout=60)
    assert end is not None and gaps == []
    return records


def assert_exact(received: list[DeviceEvent], start: int, reference: list[events.Record]) -> None:
    """Contiguous from ``start`` to the end, identical to the reference, then end-of-stream."""
    got = records_of(received)
    assert [r.offset for r in got] == list(range(start, len(reference))), "gap or duplicate"
    assert [r.item for r in got] == [r.item for r in reference[start:]], "different items than the workflow holds"
    assert received[-1] == EndOfStream("completed", len(reference))
    assert not any(isinstance(e, GapNotice) for e in received)


# --- the tests ------------------------------------------------------------------------


async def test_fifty_devices_joining_at_random_times_and_modes_get_identical_sequences(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    rng = random.Random(20261122)
    handle = await start_session(client, task_queue, messages=["first", "second"], rollover_after_steps=2)
    while (await handle.query(AgentSession.info)).turn < 1:  # so "turn 1" always resolves
        await asyncio.sleep(0.02)
    async with make_hub(client, tmp_path) as hub:
        joined: list[tuple[str, int, asyncio.Task[list[DeviceEvent]]]] = []
        for index in range(50):
            await asyncio.sleep(rng.uniform(0, 0.06))
            mode = rng.choice(["start", "live", "offset", "turn", "resume"])
            head = hub.upstream_stats(handle.id).head
            join = {
                "start": Join("start"),
                "live": Join("live"),
                "offset": Join.at(rng.randint(0, head)),
                "turn": Join.at_turn(1),
                "resume": Join("resume"),  # a device never seen before starts at 0
            }[mode]
            device = await hub.open_device(handle.id, name=f"device {index}", join=join)
            joined.append((mode, device.position, asyncio.create_task(collect(device))))
        results = [(mode, start, await task) for mode, start, task in joined]
        stats = hub.upstream_stats(handle.id)
    reference = await truth(client, handle.id)
    assert reduce(reference).turns[-1].status == "completed"
    assert len({start for _, start, _ in results}) > 5, "joins should land at many different offsets"
    assert {mode for mode, _, _ in results} == {"start", "live", "offset", "turn", "resume"}
    for mode, start, received in results:
        if mode == "turn":
            assert isinstance(records_of(received)[0].item, events.TurnStarted)
        assert_exact(received, start, reference)
    info = await client.get_workflow_handle(handle.id).query(AgentSession.info)
    assert info.runs > 1, "the session continued as new while the hub read it"
    assert stats.max_in_flight <= 1


async def test_with_fifty_devices_the_hub_never_has_more_than_one_update_in_flight(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    handle = await start_session(client, task_queue, messages=["go"])
    async with make_hub(client, tmp_path, upstream_mode="update") as hub:
        devices = [await hub.open_device(handle.id, name=f"d{i}", join=Join("start")) for i in range(50)]
        results = await asyncio.gather(*(collect(d) for d in devices))
        stats = hub.upstream_stats(handle.id)
    reference = await truth(client, handle.id)
    for received in results:
        assert_exact(received, 0, reference)
    cost = await history_cost(client, handle.id)
    assert stats.max_in_flight == 1
    assert cost.max_concurrent_updates <= 1, "the workflow's history shows overlapping Updates"
    # One reader's polls, not fifty devices' worth. The hub counts attempts; the
    # history only accepted ones (a last poll may meet the workflow closing).
    assert 0 < cost.updates <= stats.updates <= cost.updates + 2
    assert cost.updates < len(reference)


async def test_a_device_disconnected_for_half_the_run_resumes_to_the_same_final_view(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    # ~9 s of tokens: still streaming across the drop below, however slowly the hub and devices open.
    model = ModelSpec(tokens_per_second=60, answer_words=120, reasoning_words=20)
    handle = await start_session(client, task_queue, messages=["go"], model=model)
    # A tiny buffer: the dropped device must be re-fed from the cache, not from memory.
    async with make_hub(client, tmp_path, retain=10) as hub:
        steady = await hub.open_device(handle.id, name="laptop", join=Join("start"))
        dropped = await hub.open_device(handle.id, name="phone", join=Join("start"))
        direct = await hub.open_device(handle.id, name="naive tab", join=Join("start"), direct=True)
        tasks = [asyncio.create_task(collect(d)) for d in (steady, dropped, direct)]
        await asyncio.sleep(0.5)
        await dropped.disconnect()
        await direct.disconnect()
        at_drop = (dropped.position, direct.position)
        table = {row.name: row for row in hub.devices(handle.id)}
        assert (table["phone"].connected, table["laptop"].connected, table["naive tab"].direct) == (False, True, True)
        assert table["phone"].join == "start" and table["phone"].position == at_drop[0]
        await asyncio.sleep(1.5)
        assert (dropped.position, direct.position) == at_drop, "a disconnected device must receive nothing"
        assert hub.upstream_stats(handle.id).head > at_drop[0] + 10, "the session moved on meanwhile"
        table = {row.name: row for row in hub.devices(handle.id)}
        assert table["phone"].lag == table["phone"].head - at_drop[0] > 0
        await dropped.reconnect()
        await direct.reconnect()
        steady_events, dropped_events, direct_events = await asyncio.gather(*tasks)
        stats = hub.upstream_stats(handle.id)
    reference = await truth(client, handle.id)
    for received in (steady_events, dropped_events, direct_events):
        assert_exact(received, 0, reference)
    assert reduce(records_of(dropped_events)) == reduce(records_of(steady_events)) == reduce(reference)
    assert stats.direct_updates > 0 and stats.direct_devices == 1


async def test_a_hub_restarted_mid_run_brings_devices_back_to_their_saved_positions(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    model = ModelSpec(tokens_per_second=150, answer_words=150, reasoning_words=20)
    handle = await start_session(client, task_queue, messages=["go"], model=model)
    received: dict[str, list[DeviceEvent]] = {"phone": [], "tab": []}

    async def consume(device: Device, stop_at: int | None) -> None:
        async for event in device:
            received[device.device_id].append(event)
            device.ack(device.position)  # processed: this is what resume comes back to
            if stop_at is not None and device.position >= stop_at:
                return

    hub = make_hub(client, tmp_path)
    phone = await hub.open_device(handle.id, name="phone", device_id="phone", join=Join("start"), auto_ack=False)
    tab = await hub.open_device(handle.id, name="tab", device_id="tab", join=Join.at(3), auto_ack=False)
    await asyncio.gather(consume(phone, 30), consume(tab, 20))
    saved = {"phone": phone.position, "tab": tab.position}
    cached_until = hub.upstream_stats(handle.id).head
    await hub.aclose()
    async with make_hub(client, tmp_path) as fresh:  # the table a restarted dashboard shows
        rows = fresh.devices()
    assert {row.device_id: (row.position, row.connected, row.open) for row in rows} == {
        "phone": (saved["phone"], False, False),
        "tab": (saved["tab"], False, False),
    }

    async with make_hub(client, tmp_path) as hub:
        phone = await hub.open_device(handle.id, name="phone", device_id="phone", join=Join("resume"))
        tab = await hub.open_device(handle.id, name="tab", device_id="tab", join=Join("resume"))
        assert {"phone": phone.position, "tab": tab.position} == saved
        await asyncio.gather(consume(phone, None), consume(tab, None))
        stats = hub.upstream_stats(handle.id)
    reference = await truth(client, handle.id)
    assert_exact(received["phone"], 0, reference)
    assert_exact(received["tab"], 3, reference)
    # The new hub did not read again what the old one had cached.
    assert stats.items == len(reference) - cached_until


async def test_a_truncated_offset_yields_an_explicit_gap(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    # Each continue-as-new keeps only ~2 KB of log: the oldest offsets are dropped.
    handle = await start_session(
        client, task_queue, messages=["one", "two"], rollover_after_steps=1, carry_log_bytes=2000
    )
    await handle.result()
    reference, gaps, end = await read_all(client, handle.id, timeout=60)
    assert end is not None and len(gaps) == 1 and gaps[0].start == 0
    base = gaps[0].end
    assert base > 10 and reference[0].offset == base
    async with make_hub(client, tmp_path) as hub:
        from_zero = await collect(await hub.open_device(handle.id, name="a", join=Join("start")))
        inside = await collect(await hub.open_device(handle.id, name="b", join=Join.at(5)))
    assert from_zero[0] == GapNotice(0, base)
    assert inside[0] == GapNotice(5, base)
    for received in (from_zero, inside):
        got = records_of(received)
        assert [r.offset for r in got] == list(range(base, end.next_offset))
        assert [r.item for r in got] == [r.item for r in reference]
        assert received[-1] == EndOfStream("completed", end.next_offset)
    # The gap is remembered: a new hub replays it from the cache, gap included.
    async with make_hub(client, tmp_path) as hub:
        replay = await collect(await hub.open_device(handle.id, name="c", join=Join("start")))
        assert replay[0] == GapNotice(0, base)
        assert records_of(replay) == records_of(from_zero)
        assert replay[-1] == from_zero[-1]
        assert hub.upstream_stats(handle.id).queries == 0


# --- more of the contract ---------------------------------------------------------------------------


async def test_a_completed_session_replays_from_the_cache_without_temporal(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    handle = await start_session(client, task_queue, messages=["first", "second"])
    async with make_hub(client, tmp_path) as hub:
        first = await collect(await hub.open_device(handle.id, name="a", join=Join("start")))
    reference = await truth(client, handle.id)
    assert_exact(first, 0, reference)
    async with make_hub(client, tmp_path) as hub:
        replay = await collect(await hub.open_device(handle.id, name="b", join=Join("start")))
        turn_two = await collect(await hub.open_device(handle.id, name="c", join=Join.at_turn(2)))
        stats = hub.upstream_stats(handle.id)
    assert records_of(replay) == records_of(first)
    assert replay[-1] == first[-1] == EndOfStream("completed", len(reference))
    opening = records_of(turn_two)[0].item
    assert isinstance(opening, events.TurnStarted) and opening.turn == 2
    assert (stats.updates, stats.queries, stats.backfill_queries) == (0, 0, 0)


async def test_query_upstream_mode_adds_nothing_to_the_history(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    handle = await start_session(client, task_queue, messages=["go"])
    async with make_hub(client, tmp_path, upstream_mode="query") as hub:
        devices = [await hub.open_device(handle.id, name=f"d{i}", join=Join("start")) for i in range(5)]
        results = await asyncio.gather(*(collect(d) for d in devices))
        stats = hub.upstream_stats(handle.id)
    reference = await truth(client, handle.id)
    for received in results:
        assert_exact(received, 0, reference)
    assert stats.updates == 0 and stats.queries > 0
    assert (await history_cost(client, handle.id)).updates == 0


async def test_the_upstream_reader_stops_after_the_grace_period_and_restarts(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    handle = await start_session(client, task_queue, messages=[], idle_timeout=30)
    async with make_hub(client, tmp_path, grace=0.2) as hub:
        device = await hub.open_device(handle.id, name="a", join=Join("start"))
        first = await anext(aiter(device))
        assert isinstance(first, Delivery)
        assert hub.upstream_stats(handle.id).running
        device.ack(first.next_offset)
        await device.close()
        await asyncio.sleep(0.6)
        assert handle.id not in hub.sessions(), "no device left: the reader and its feed are gone"
        await handle.execute_update(AgentSession.send_message, "hello")
        again = await hub.open_device(handle.id, name="a", device_id=device.device_id, join=Join("resume"))
        assert again.position == first.next_offset
        received: list[events.Record] = []
        async for event in again:
            assert isinstance(event, Delivery)
            received.extend(event.records)
            if any(isinstance(r.item, events.TurnFinished) for r in received):
                break
        assert received[0].offset == first.next_offset
        assert hub.upstream_stats(handle.id).running
        await handle.signal(AgentSession.close)


async def test_foreign_items_pass_through_as_generic_records(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    handle = await start_session(client, task_queue, idle_timeout=2)
    foreign = WorkflowStreamClient.create(client, handle.id)
    async with foreign:
        foreign.topic("metrics").publish({"cpu": 0.5})
        foreign.topic("blobs").publish(b"\x00\x01 raw")
    async with make_hub(client, tmp_path) as hub:
        received = records_of(await collect(await hub.open_device(handle.id, name="a", join=Join("start"))))
    unknown = [r.item for r in received if isinstance(r.item, events.UnknownItem)]
    assert [(u.topic, u.value()) for u in unknown] == [("metrics", {"cpu": 0.5}), ("blobs", b"\x00\x01 raw")]


async def test_unknown_sessions_and_turns_are_clear_errors(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    async with make_hub(client, tmp_path) as hub:
        with pytest.raises(StreamNotFound, match="no workflow 'no-such-session'"):
            await hub.open_device("no-such-session", name="a")
        assert hub.sessions() == []
        handle = await start_session(client, task_queue, messages=["one"], idle_timeout=5)
        with pytest.raises(JoinError, match="turn 7"):
            await hub.open_device(handle.id, name="b", join=Join.at_turn(7))
        first = await hub.open_device(handle.id, name="c", device_id="same")
        with pytest.raises(JoinError, match="already open"):
            await hub.open_device(handle.id, name="c", device_id="same")
        await first.close()
        await handle.signal(AgentSession.close)


async def test_hub_prunes_sessions_nobody_used_for_cache_max_age(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    from wfwatch.hub.cache import EventCache
    from wfwatch.hub.paths import cache_path

    stale = EventCache(cache_path(tmp_path / "cache"))
    await stale.reset("long-gone-session", "epoch")
    await stale.close()
    await asyncio.sleep(0.2)
    handle = await start_session(client, task_queue, messages=["hello"])
    async with make_hub(client, tmp_path, cache_max_age=0.1) as hub:
        device = await hub.open_device(handle.id, name="d", join=Join("start"))
        received = await collect(device)
        assert isinstance(received[-1], EndOfStream)
        await hub.cache.flush()
        kept = await hub.cache.workflow_ids()
    assert kept == [handle.id]  # the stale one went; the one being read stayed
