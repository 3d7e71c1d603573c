"""The demo session streams through a real dev server, and readers see it whole."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker

from wfwatch import events
from wfwatch.agents.model import scripted_texts
from wfwatch.agents.scenarios import tool_call_for
from wfwatch.agents.shared import ModelSpec, SessionInput, SessionResult
from wfwatch.agents.workflows import AgentSession
from wfwatch.reducer import reduce
from wfwatch.stream.publisher import EventPublisher
from wfwatch.stream.reader import Batch, End, StreamNotFound, StreamReader, StreamReadError, read_all


async def start_session(
    client: Client, task_queue: str, **fields: object
) -> WorkflowHandle[AgentSession, SessionResult]:
    fields.setdefault("idle_timeout", 0.5)
    spec = SessionInput(**fields)  # type: ignore[arg-type]
    return await client.start_workflow(AgentSession.run, spec, id=f"session-{uuid.uuid4()}", task_queue=task_queue)


def offsets_of(records: list[events.Record]) -> list[int]:
    return [r.offset for r in records]


async def test_reader_from_zero_sees_a_whole_turn_in_order(client: Client, task_queue: str, worker: Worker) -> None:
    model = ModelSpec(tokens_per_second=400, answer_words=40, reasoning_words=10)
    handle = await start_session(client, task_queue, messages=["what changed?"], model=model)
    records, gaps, end = await read_all(client, handle.id, timeout=60)
    assert end is not None and end.status == "completed"
    assert gaps == []
    assert offsets_of(records) == list(range(len(records)))
    kinds = [events.kind_of(r.item) for r in records]
    assert kinds[0] == "session_started"
    assert kinds[1] == "turn_started"
    assert kinds[-2:] == ["turn_finished", "session_finished"]
    view = reduce(records)
    _, answer = scripted_texts(model, "what changed?", "writer")
    assert view.lane("main") is not None
    assert [m.message_id for m in view.lanes[0].messages] == ["t1-plan", "t1-answer"]
    assert view.lanes[0].messages[1].answer == answer
    assert [s.name for s in view.steps] == ["plan", "tool", "answer"]
    assert all(s.status == "completed" for s in view.steps)
    assert view.tool_calls[0].ok is True
    # The scenario's tool call: JSON arguments in, its canned JSON result out.
    tool = tool_call_for("what changed?")
    assert (view.tool_calls[0].name, json.loads(view.tool_calls[0].arguments)) == (tool.name, tool.arguments)
    assert json.loads(view.tool_calls[0].result or "") == tool.result
    assert view.turns[0].start_offset == 1


async def test_second_reader_joining_mid_turn_from_zero_gets_identical_sequence(
    client: Client, task_queue: str, worker: Worker
) -> None:
    model = ModelSpec(tokens_per_second=100, answer_words=120, reasoning_words=10)
    handle = await start_session(client, task_queue, messages=["go"], model=model)
    first = asyncio.create_task(read_all(client, handle.id, timeout=60))
    # Join once the answer is streaming.
    reader = StreamReader(client, handle.id)
    for _ in range(200):
        if await reader.head() > 40:
            break
        await asyncio.sleep(0.05)
    info = await handle.query(AgentSession.info)
    assert info.in_turn, "the second reader must join while the turn is still running"
    second = await read_all(client, handle.id, timeout=60)
    first_records, _, _ = await first
    assert [(r.offset, r.item) for r in second[0]] == [(r.offset, r.item) for r in first_records]
    assert offsets_of(first_records) == list(range(len(first_records)))


async def test_continue_as_new_mid_turn_is_read_with_no_gap_and_no_duplicate(
    client: Client, task_queue: str, worker: Worker
) -> None:
    model = ModelSpec(tokens_per_second=300, answer_words=30, reasoning_words=5)
    handle = await start_session(client, task_queue, messages=["one", "two"], model=model, rollover_after_steps=1)
    reader = StreamReader(client, handle.id)
    records: list[events.Record] = []
    end: End | None = None
    async for result in reader:
        assert not isinstance(result, type(None))
        if isinstance(result, Batch):
            records.extend(result.records)
        elif isinstance(result, End):
            end = result
        else:
            pytest.fail(f"unexpected {result}")
    assert end is not None and end.status == "completed"
    assert offsets_of(records) == list(range(len(records)))
    view = reduce(records)
    assert [t.status for t in view.turns] == ["completed", "completed"]
    assert [m.message_id for m in view.lanes[0].messages] == ["t1-plan", "t1-answer", "t2-plan", "t2-answer"]
    info = await client.get_workflow_handle(handle.id).query(AgentSession.info)
    assert info.runs >= 5


async def test_a_close_received_just_before_a_rollover_still_closes_the_session(
    client: Client, task_queue: str, worker: Worker
) -> None:
    # Endless made-up turns with no pause and a rollover after every step: the close lands
    # mid-turn, in a run that then continues-as-new. The next run must still close.
    model = ModelSpec(tokens_per_second=200, answer_words=30, reasoning_words=5)
    handle = await start_session(
        client, task_queue, model=model, auto_turns=1_000_000, pause_between_turns=0.0, rollover_after_steps=1
    )
    session = client.get_workflow_handle(handle.id)
    for _ in range(200):
        info = await session.query(AgentSession.info)
        if info.runs >= 2 and info.in_turn:
            break
        await asyncio.sleep(0.05)
    await session.signal(AgentSession.close)
    result = await asyncio.wait_for(handle.result(), timeout=60)  # follows the runs
    assert isinstance(result, SessionResult) and result.status == "completed"
    assert result.runs >= info.runs


@pytest.mark.timeout(600)  # its own bounds (240 s + 120 s) come first, with their messages
async def test_fast_model_of_50k_tokens_never_wedges_the_session(
    client: Client, task_queue: str, worker: Worker
) -> None:
    model = ModelSpec(tokens_per_second=0, answer_words=50_000, reasoning_words=0)
    handle = await start_session(client, task_queue, messages=["flood"], model=model)
    result = await asyncio.wait_for(handle.result(), timeout=240)
    assert result.status == "completed"
    records, gaps, end = await read_all(client, handle.id, timeout=120)
    assert end is not None and gaps == []
    view = reduce(records)
    _, answer = scripted_texts(model, "flood", "writer")
    assert view.lanes[0].messages[-1].answer == answer
    assert 49_900 <= len(answer.split()) <= 50_000  # whole sentences, up to the count


async def test_foreign_payload_is_shown_as_unknown_not_a_crash(client: Client, task_queue: str, worker: Worker) -> None:
    from temporalio.contrib.workflow_streams import WorkflowStreamClient

    handle = await start_session(client, task_queue, idle_timeout=3)
    foreign = WorkflowStreamClient.create(client, handle.id)
    async with foreign:
        foreign.topic("other").publish({"hello": "world"})
        foreign.topic(events.TOPIC).publish({"kind": "from_the_future", "x": 1})
        foreign.topic(events.TOPIC).publish(b"\xff\x00 binary")
    records, _, end = await read_all(client, handle.id, timeout=30)
    assert end is not None
    kinds = [events.kind_of(r.item) for r in records]
    assert kinds.count("unknown") == 2
    assert kinds.count("invalid") == 1
    view = reduce(records)
    assert [o.kind for o in view.odd_items] == ["unknown", "unknown", "invalid"]


async def test_a_publisher_writing_for_an_earlier_workflow_under_the_id_is_refused(
    client: Client, task_queue: str, worker: Worker
) -> None:
    # What a zombie activity of a replaced session does: it publishes by workflow id, and
    # its publisher id names the epoch (first run id) of the workflow it was started for.
    handle = await start_session(client, task_queue, idle_timeout=3)
    description = await handle.describe()
    epoch = description.raw_info.first_run_id or description.run_id
    for publisher_epoch, text in [("an-earlier-run", "zombie"), (epoch, "ours"), (None, "sdk-style")]:
        async with EventPublisher.for_workflow(client, handle.id, epoch=publisher_epoch) as publisher:
            await publisher.publish(events.TokenDelta(message_id=text, text=text))
    info = await handle.query(AgentSession.info)
    records, _, end = await read_all(client, handle.id, timeout=30)
    assert end is not None
    texts = [r.item.text for r in records if isinstance(r.item, events.TokenDelta)]
    assert texts == ["ours", "sdk-style"]
    assert info.foreign_batches == 1


async def test_a_workflow_replaced_under_its_id_ends_the_read_instead_of_being_followed(
    client: Client, task_queue: str, worker: Worker
) -> None:
    # Update mode (the hub's live tail): a poll names the run that accepted it, so the check is exact.
    # A Query poll does not; there a replacement that gets past the reader's head within one poll
    # interval can still be read before the next describe notices it.
    model = ModelSpec(tokens_per_second=100, answer_words=300, reasoning_words=10)
    handle = await start_session(client, task_queue, messages=["go"], model=model, idle_timeout=5.0)
    old_run = (await handle.describe()).run_id
    reader = StreamReader(client, handle.id, mode="update")
    records: list[events.Record] = []
    ends: list[End] = []

    async def read() -> None:
        async for result in reader:
            if isinstance(result, Batch):
                records.extend(result.records)
            elif isinstance(result, End):
                ends.append(result)

    task = asyncio.create_task(read())
    async with asyncio.timeout(20):
        while len(records) < 10:
            await asyncio.sleep(0.02)
    # Another workflow takes the id (terminating this one) while the reader follows it.
    replacement = SessionInput(messages=["again"], model=ModelSpec(tokens_per_second=100, answer_words=200))
    await client.start_workflow(
        AgentSession.run,
        replacement,
        id=handle.id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )
    await asyncio.wait_for(task, 30)
    assert [e.status for e in ends] == ["replaced"]
    old = await records_of_run(client, handle.id, old_run)
    # Only the old workflow's records, in order: nothing of the new one spliced on.
    assert records == old[: len(records)]


async def records_of_run(client: Client, workflow_id: str, run_id: str) -> list[events.Record]:
    """Every record one (closed) run retains."""
    records: list[events.Record] = []
    async for result in StreamReader(client, workflow_id, run_id=run_id, mode="query"):
        if isinstance(result, Batch):
            records.extend(result.records)
    return records


async def test_unknown_workflow_is_a_clear_error(client: Client) -> None:
    reader = StreamReader(client, "no-such-session")
    with pytest.raises(StreamNotFound, match="no workflow 'no-such-session'"):
        async for _ in reader:
            pass


@pytest.mark.slow
async def test_head_query_without_a_worker_fails_in_bounded_time_with_a_reason(client: Client, task_queue: str) -> None:
    # No worker fixture: nobody polls this queue, so nobody can answer the query.
    handle = await start_session(client, task_queue, messages=["anyone?"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StreamReadError, match="no worker answered a query"):
        await StreamReader(client, handle.id).head()
    assert loop.time() - started < 20
    await handle.terminate()


async def test_catch_up_by_query_reads_a_long_backlog_without_updates(
    client: Client, task_queue: str, worker: Worker
) -> None:
    """Behind the head, polls return ~1 MB and say more is ready; Query reads those, Updates only the tail."""
    handle = await start_session(client, task_queue, messages=[], idle_timeout=60)
    stream = WorkflowStreamClient.create(client, handle.id, batch_interval=timedelta(milliseconds=20))
    async with stream:
        for n in range(3):
            stream.topic("bulk").publish({"n": n, "blob": "x" * 600_000})
            await stream.flush()
    head = await StreamReader(client, handle.id).head()

    async def read_to_head(reader: StreamReader) -> list[int]:
        offsets: list[int] = []
        async for result in reader:
            if isinstance(result, Batch):
                offsets.extend(offsets_of(result.records))
            if reader.offset >= head:
                return offsets
        raise AssertionError("stream ended before the head")

    by_query = StreamReader(client, handle.id, catch_up_by_query=True)
    by_update = StreamReader(client, handle.id)
    assert await read_to_head(by_query) == list(range(head))
    assert await read_to_head(by_update) == list(range(head))
    assert by_query.stats.updates == 0 and by_query.stats.queries >= 3, by_query.stats
    assert by_update.stats.updates >= 3 and by_update.stats.queries == 0, by_update.stats
    await handle.terminate()
