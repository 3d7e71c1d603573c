"""Real agent frameworks on the real dev server, watched through wfwatch.

Each test runs the PydanticAI or OpenAI Agents SDK session of
``wfwatch.agents.frameworks`` on an in-test worker with the framework's own
Temporal plugin: the framework's integration publishes into the workflow's
stream, nothing of its payloads is written here. The streams are read by
``StreamReader`` (``read_all``) and by hub devices, and folded by wfwatch's
reducer with its framework schemas. Expected texts come from the scripted
models' script, which both frameworks stream word by word.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from wfwatch import events
from wfwatch.agents.frameworks import EVENTS_TOPIC, FrameworkSessionInput, missing_framework, script
from wfwatch.hub import Delivery, Device, DeviceEvent, EndOfStream, GapNotice, Hub, Join
from wfwatch.reducer import Reducer, SessionView, reduce
from wfwatch.stream.reader import Batch, StreamReader, read_all

FIRST = "Where is my order A-1042?"
SECOND = "And what about order B-2077?"
FRAMEWORKS = ["pydantic_ai", "openai_agents"]
_EXTRA = {"pydantic_ai": "pydantic-ai", "openai_agents": "openai-agents"}

pytestmark = pytest.mark.timeout(300)


def session_module(framework: str) -> ModuleType:
    reason = missing_framework(_EXTRA[framework])
    if reason is not None:
        pytest.skip(reason)
    return importlib.import_module(f"wfwatch.agents.frameworks.{framework}_session")


@asynccontextmanager
async def framework_worker(client: Client, task_queue: str, framework: str) -> AsyncIterator[ModuleType]:
    module = session_module(framework)
    async with module.create_worker(client, task_queue):
        yield module


async def start(
    client: Client, module: ModuleType, task_queue: str, framework: str, **fields: Any
) -> WorkflowHandle[Any, Any]:
    fields.setdefault("prompts", [FIRST])
    fields.setdefault("delta_delay", 0.02)
    fields.setdefault("drain_timeout", 1.0)
    spec = FrameworkSessionInput(**fields)
    starter = module.plugin_client(client)
    workflow_id = f"fw-{framework}-{uuid.uuid4()}"
    handle: WorkflowHandle[Any, Any] = await starter.start_workflow(
        module.WORKFLOW_NAME, spec, id=workflow_id, task_queue=task_queue
    )
    return handle


def make_hub(client: Client, root: Path) -> Hub:
    return Hub(client, state_dir=root / "state", cache_dir=root / "cache")


async def collect(device: Device, timeout: float = 120) -> list[DeviceEvent]:
    async def run() -> list[DeviceEvent]:
        return [event async for event in device]

    return await asyncio.wait_for(run(), timeout)


def records_of(received: list[DeviceEvent]) -> list[events.Record]:
    assert not any(isinstance(e, GapNotice) for e in received), "a gap on a healthy stream"
    assert isinstance(received[-1], EndOfStream) and received[-1].status == "completed"
    return [r for e in received if isinstance(e, Delivery) for r in e.records]


async def stream_of(client: Client, workflow_id: str) -> list[events.Record]:
    records, gaps, end = await read_all(client, workflow_id, timeout=120)
    assert end is not None and end.status == "completed" and gaps == []
    return records


def on_topic(records: list[events.Record], topic: str) -> list[dict[str, Any]]:
    return [
        r.item.value()
        for r in records
        if isinstance(r.item, events.UnknownItem) and r.item.topic == topic and isinstance(r.item.value(), dict)
    ]


def answer_deltas(records: list[events.Record]) -> list[str]:
    """The answer-text deltas as the framework published them (either schema), attempts and all."""
    found = []
    for data in on_topic(records, EVENTS_TOPIC):
        delta = data.get("delta")
        if data.get("type") == "response.output_text.delta":
            found.append(str(delta))
        elif (
            data.get("event_kind") == "part_delta"
            and isinstance(delta, dict)
            and delta.get("part_delta_kind") == "text"
        ):
            found.append(str(delta.get("content_delta")))
    return found


def shape(view: SessionView) -> tuple[object, ...]:
    """What two devices that saw the same run must agree on (no timestamps: PydanticAI rebuilds them on replay)."""
    return (
        view.canonical_text(),
        [
            (lane.name, [(m.turn, m.attempt, m.answer, m.reasoning, m.superseded_attempts) for m in lane.messages])
            for lane in view.lanes
        ],
        [(t.lane, t.turn, t.name, t.arguments, t.result, t.ok) for t in view.tool_calls],
        [(t.turn, t.status, t.start_offset) for t in view.turns],
    )


def answers(view: SessionView) -> list[str]:
    return [m.answer for lane in view.lanes for m in lane.messages if m.answer]


def reasonings(view: SessionView) -> list[str]:
    return [m.reasoning for lane in view.lanes for m in lane.messages if m.reasoning]


async def model_attempts(client: Client, workflow_id: str) -> list[int]:
    """The attempt numbers of every started activity, from the workflow's history."""
    attempts = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attempts.append(event.activity_task_started_event_attributes.attempt)
    return attempts


# --- streamed text, reasoning, a tool call -------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_streamed_answer_and_reasoning_are_kept_apart_and_the_tool_call_shows(
    client: Client, task_queue: str, framework: str
) -> None:
    async with framework_worker(client, task_queue, framework) as module:
        handle = await start(client, module, task_queue, framework)
        outputs = await handle.result()
        records = await stream_of(client, handle.id)  # a closed workflow is read by Query: needs its worker
    assert outputs == [script.answer(FIRST)], "the framework's own result"
    view = reduce(records)
    assert dict(view.schemas)[EVENTS_TOPIC] == framework.replace("_", "-")
    assert answers(view) == [script.answer(FIRST)]
    assert reasonings(view) == [script.planning_reasoning(FIRST), script.answer_reasoning(FIRST)]
    assert view.text == script.answer(FIRST)
    [call] = view.tool_calls
    assert call.name == script.TOOL_NAME
    assert json.loads(call.arguments) == {"order_id": "A-1042"}
    assert [t.status for t in view.turns] == ["completed"]


async def test_pydantic_ai_tool_result_reaches_the_view(client: Client, task_queue: str) -> None:
    async with framework_worker(client, task_queue, "pydantic_ai") as module:
        handle = await start(client, module, task_queue, "pydantic_ai")
        await handle.result()
        [call] = reduce(await stream_of(client, handle.id)).tool_calls
    assert call.ok is True and call.result is not None
    assert json.loads(call.result) == script.order_record("A-1042")


async def test_openai_agents_tool_result_is_in_the_runner_items_topic(client: Client, task_queue: str) -> None:
    """The model stream has no tool results: the workflow forwards the Runner's items beside it."""
    async with framework_worker(client, task_queue, "openai_agents") as module:
        handle = await start(client, module, task_queue, "openai_agents")
        await handle.result()
        records = await stream_of(client, handle.id)
    outputs = [i for i in on_topic(records, module.ITEMS_TOPIC) if i.get("name") == "tool_output"]
    assert [json.loads(i["raw_item"]["output"]) for i in outputs] == [script.order_record("A-1042")]
    [call] = reduce(records).tool_calls
    assert outputs[0]["raw_item"]["call_id"] == call.call_id


async def test_openai_agents_tool_result_reaches_the_view(client: Client, task_queue: str) -> None:
    async with framework_worker(client, task_queue, "openai_agents") as module:
        handle = await start(client, module, task_queue, "openai_agents")
        await handle.result()
        [call] = reduce(await stream_of(client, handle.id)).tool_calls
    assert call.ok is True and call.result is not None
    assert json.loads(call.result) == script.order_record("A-1042")


async def test_openai_agents_handoff_shows_as_a_lane(client: Client, task_queue: str) -> None:
    async with framework_worker(client, task_queue, "openai_agents") as module:
        handle = await start(client, module, task_queue, "openai_agents", handoff=True)
        assert await handle.result() == [script.answer(FIRST)]
        view = reduce(await stream_of(client, handle.id))
    shipping = view.lane(module.HANDOFF_AGENT)
    assert shipping is not None and shipping.text == script.answer(FIRST)
    assert [t.name for t in view.tool_calls] == [f"transfer_to_{module.HANDOFF_AGENT}", script.TOOL_NAME]


# --- a mid-stream failure, retried ---------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_retried_mid_stream_failure_leaves_the_canonical_text_of_an_undisturbed_run(
    client: Client, task_queue: str, framework: str, tmp_path: Path
) -> None:
    async with framework_worker(client, task_queue, framework) as module:
        clean = await start(client, module, task_queue, framework)
        await clean.result()
        async with make_hub(client, tmp_path) as hub:
            retried = await start(client, module, task_queue, framework, fail_once=True)
            live = await hub.open_device(retried.id, name="live", join=Join("start"))
            live_received = asyncio.create_task(collect(live))
            assert await retried.result() == [script.answer(FIRST)]
            late = await hub.open_device(retried.id, name="late", join=Join("start"))
            late_received = await collect(late)
            live_records = records_of(await live_received)
            late_records = records_of(late_received)
        reference = reduce(await stream_of(client, clean.id))
    assert 2 in await model_attempts(client, retried.id), "Temporal retried the model activity"
    live_view, late_view = reduce(live_records), reduce(late_records)
    # The stream really holds the failed attempt: more answer deltas than one answer has.
    words = script.words(script.answer(FIRST))
    deltas = answer_deltas(live_records)
    assert len(deltas) > len(words) and "".join(deltas) != script.answer(FIRST)
    assert "".join(deltas).count("".join(words[1 : script.FAIL_AFTER_DELTAS])) == 2, "both attempts' deltas"
    for view in (live_view, late_view):
        assert view.canonical_text() == reference.canonical_text()
        assert view.canonical_text().encode() == reference.canonical_text().encode()
        assert answers(view) == [script.answer(FIRST)]
        [answered] = [m for lane in view.lanes for m in lane.messages if m.answer]
        assert answered.attempt == 2 and answered.superseded_attempts == (1,)
    assert shape(live_view) == shape(late_view)


# --- two prompts, two turns -----------------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_two_prompts_are_two_turns_and_join_turn_2_starts_there(
    client: Client, task_queue: str, framework: str, tmp_path: Path
) -> None:
    async with framework_worker(client, task_queue, framework) as module, make_hub(client, tmp_path) as hub:
        handle = await start(client, module, task_queue, framework, prompts=[FIRST, SECOND])
        watcher = await hub.open_device(handle.id, name="watcher", join=Join("start"))
        watched = asyncio.create_task(collect(watcher))
        assert await handle.result() == [script.answer(FIRST), script.answer(SECOND)]
        full = reduce(records_of(await watched))
        second = await hub.open_device(handle.id, name="turn 2", join=Join.at_turn(2))
        second_records = records_of(await collect(second))
    assert [(t.turn, t.status) for t in full.turns] == [(1, "completed"), (2, "completed")]
    assert answers(full) == [script.answer(FIRST), script.answer(SECOND)]
    assert [t.turn for t in full.tool_calls] == [1, 2]
    turn_2 = full.turns[1]
    assert second_records[0].offset == turn_2.start_offset
    joined = Reducer(turns_before=1)
    joined.feed(second_records)
    view = joined.view()
    assert [t.turn for t in view.turns] == [2]
    assert answers(view) == [script.answer(SECOND)]
    assert [(t.turn, t.name, t.arguments) for t in view.tool_calls] == [
        (2, script.TOOL_NAME, script.tool_arguments(SECOND))
    ]


# --- joining mid-run --------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_device_joining_mid_run_ends_identical_to_one_that_watched_from_zero(
    client: Client, task_queue: str, framework: str, tmp_path: Path
) -> None:
    async with framework_worker(client, task_queue, framework) as module, make_hub(client, tmp_path) as hub:
        handle = await start(client, module, task_queue, framework, prompts=[FIRST, SECOND], fail_once=True)
        early = await hub.open_device(handle.id, name="from zero", join=Join("start"))
        early_received = asyncio.create_task(collect(early))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while hub.upstream_stats(handle.id).head < 40:  # well into turn 1
            assert loop.time() < deadline, "the run never got going"
            await asyncio.sleep(0.05)
        head_at_join = hub.upstream_stats(handle.id).head
        middle = await hub.open_device(handle.id, name="mid-run", join=Join("start"))
        middle_received = asyncio.create_task(collect(middle))
        await handle.result()
        early_view = reduce(records_of(await early_received))
        middle_view = reduce(records_of(await middle_received))
        final = reduce(await stream_of(client, handle.id))
    assert head_at_join < final.next_offset, "the second device joined before the run ended"
    assert shape(middle_view) == shape(early_view)
    assert middle_view.canonical_text() == final.canonical_text()
    assert answers(early_view) == [script.answer(FIRST), script.answer(SECOND)]


# --- the demo's framework sessions -----------------------------------------------------------------


async def test_the_demo_framework_sessions_stream_a_retried_answer_and_are_listed_with_titles(client: Client) -> None:
    from wfwatch.agents.frameworks.demo import FRAMEWORK_SESSIONS, framework_sessions
    from wfwatch.sessions import list_sessions

    for name in _EXTRA.values():
        if missing_framework(name) is not None:
            pytest.skip(str(missing_framework(name)))
    async with framework_sessions(client) as started:
        assert started.skipped == []
        assert started.session_ids == ["demo-pydantic", "demo-openai"]
        try:
            for session_id in started.session_ids:
                reducer = Reducer()
                reader = StreamReader(client, session_id)

                async def first_answer(reducer: Reducer = reducer, reader: StreamReader = reader) -> None:
                    async for result in reader:
                        if isinstance(result, Batch):
                            reducer.feed(result.records)
                            if any(
                                m.finished and m.superseded_attempts
                                for lane in reducer.view().lanes
                                for m in lane.messages
                            ):
                                return

                await asyncio.wait_for(first_answer(), 120)
                assert script.answer(FIRST) in answers(reducer.view())
            rows = {row.workflow_id: row for row in await list_sessions(client)}
            for demo in FRAMEWORK_SESSIONS:
                assert rows[demo.session_id].title == demo.title
        finally:
            for session_id in started.session_ids:
                await client.get_workflow_handle(session_id).terminate("test over")
