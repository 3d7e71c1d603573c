"""Durable agent sessions on a real dev server: retries, a killed worker, sub-agents, turns.

Every device folds records through the one reducer, so the assertions compare
``SessionView.canonical_text()`` across devices that joined at different times
and against the scripted model's known output (``scripted_texts``).
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
import uuid
from collections.abc import Callable

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker
from worker_process import worker_processes

from wfwatch import events, steering
from wfwatch.agents.model import scripted_texts, tokenize
from wfwatch.agents.shared import ModelSpec, SessionInput, SubagentSpec
from wfwatch.agents.workflows import AgentSession
from wfwatch.reducer import Reducer, SessionView, reduce
from wfwatch.stream.publisher import EventPublisher
from wfwatch.stream.reader import Batch, End, Gap, StreamReader, read_all
from wfwatch.temporal.server import EmbeddedServer

# --- helpers ------------------------------------------------------------------


async def start_session(client: Client, task_queue: str, **fields: object) -> WorkflowHandle[AgentSession, object]:
    fields.setdefault("idle_timeout", 0.5)
    spec = SessionInput(**fields)  # type: ignore[arg-type]
    return await client.start_workflow(AgentSession.run, spec, id=f"session-{uuid.uuid4()}", task_queue=task_queue)


class Device:
    """A device tailing a session from ``from_offset``, folding records as they arrive."""

    def __init__(
        self,
        client: Client,
        workflow_id: str,
        from_offset: int = 0,
        on_batch: Callable[[SessionView], None] | None = None,
    ) -> None:
        self.records: list[events.Record] = []
        self.gaps: list[Gap] = []
        self.end: End | None = None
        self.reducer = Reducer()
        self._on_batch = on_batch
        self._reader = StreamReader(client, workflow_id, from_offset=from_offset)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for result in self._reader:
            if isinstance(result, Batch):
                self.records.extend(result.records)
                self.reducer.feed(result.records)
                if self._on_batch is not None:
                    self._on_batch(self.reducer.view())
            elif isinstance(result, Gap):
                self.gaps.append(result)
            else:
                self.end = result
                return

    async def wait_for(self, predicate: Callable[[events.Record], bool], timeout: float = 20) -> events.Record:
        """Wait until a record matching ``predicate`` has arrived; return it."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for record in self.records[seen:]:
                if predicate(record):
                    return record
            seen = len(self.records)
            if self._task.done():
                self._task.result()
                raise AssertionError("the stream ended before the awaited record arrived")
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching record within {timeout}s ({len(self.records)} records seen)")
            await asyncio.sleep(0.02)

    async def finish(self, timeout: float = 30) -> SessionView:
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        if not done:
            self._task.cancel()
            last = self.records[-1] if self.records else None
            raise AssertionError(f"the stream did not end within {timeout}s (last record: {last})")
        self._task.result()
        assert self.end is not None
        return self.reducer.view()


def is_kind(record: events.Record, kind: type, **fields: object) -> bool:
    return isinstance(record.item, kind) and all(getattr(record.item, k) == v for k, v in fields.items())


def tokens_of(records: list[events.Record], message_id: str, attempt: int | None = None) -> list[events.TokenDelta]:
    return [
        r.item
        for r in records
        if isinstance(r.item, events.TokenDelta)
        and r.item.message_id == message_id
        and (attempt is None or r.item.attempt == attempt)
    ]


def streamed(spec: ModelSpec, prompt: str, role: str) -> list[str]:
    """The scripted model's token sequence (reasoning, then answer)."""
    reasoning, answer = scripted_texts(spec, prompt, role)
    return tokenize(reasoning) + tokenize(answer)


def expected_main(spec: ModelSpec, prompt: str) -> str:
    """canonical_text() of a session with no sub-agents after one clean turn."""
    plan = scripted_texts(spec, prompt, "planner")[1]
    answer = scripted_texts(spec, prompt, "writer")[1]
    return f"[main]\n{plan}\n\n{answer}"


def assert_contiguous(records: list[events.Record]) -> None:
    assert [r.offset for r in records] == list(range(len(records)))


def prefix_checker(expected: dict[str, str]) -> Callable[[SessionView], None]:
    """At every moment each message's canonical answer is a prefix of the final one."""

    def check(view: SessionView) -> None:
        for lane in view.lanes:
            for message in lane.messages:
                if message.message_id in expected:
                    assert expected[message.message_id].startswith(message.answer), (message.message_id, message)

    return check


# --- 1. retry canonicalization ------------------------------------------------------


@pytest.mark.slow
async def test_retried_llm_call_is_canonical_for_live_late_and_mid_retry_devices(
    client: Client, task_queue: str, worker: Worker
) -> None:
    prompt = "why did the deploy fail?"
    fail_after = 25
    clean_model = ModelSpec(tokens_per_second=40, answer_words=50, reasoning_words=8)
    # At 20 tokens/s attempt 2 streams 1.25 s before failing: a device that lags less sees it mid-retry.
    faulty_model = ModelSpec(
        tokens_per_second=20, answer_words=50, reasoning_words=8, fail_after_tokens=fail_after, fail_on_attempts=[1, 2]
    )
    expected = {
        "t1-plan": scripted_texts(clean_model, prompt, "planner")[1],
        "t1-answer": scripted_texts(clean_model, prompt, "writer")[1],
    }
    clean = await start_session(client, task_queue, messages=[prompt], model=clean_model)
    faulty = await start_session(client, task_queue, messages=[prompt], model=faulty_model)
    live = Device(client, faulty.id, on_batch=prefix_checker(expected))
    clean_device = Device(client, clean.id)

    # A device joining from 0 while attempt 2 of the plan is streaming.
    await live.wait_for(lambda r: is_kind(r, events.ErrorEvent, message_id="t1-plan", attempt=1))
    await live.wait_for(lambda r: is_kind(r, events.AttemptStarted, message_id="t1-plan", attempt=2))
    assert not any(is_kind(r, events.ErrorEvent, message_id="t1-plan", attempt=2) for r in live.records)
    mid_retry = Device(client, faulty.id, on_batch=prefix_checker(expected))

    live_view = await live.finish()
    mid_view = await mid_retry.finish()
    clean_view = await clean_device.finish()
    late_records, late_gaps, late_end = await read_all(client, faulty.id, timeout=20)
    late_view = reduce(late_records)

    assert live.end is not None and live.end.status == "completed"
    assert late_end is not None and late_end.status == "completed"
    assert live.gaps == mid_retry.gaps == late_gaps == []
    assert_contiguous(late_records)
    assert [(r.offset, r.item) for r in live.records] == [(r.offset, r.item) for r in late_records]
    assert [(r.offset, r.item) for r in mid_retry.records] == [(r.offset, r.item) for r in late_records]

    truth = expected_main(clean_model, prompt)
    assert clean_view.canonical_text() == truth
    for view in (live_view, mid_view, late_view):
        assert view.canonical_text().encode() == clean_view.canonical_text().encode()
        assert view.status == "completed"
        assert [t.status for t in view.turns] == ["completed"]

    # The raw records keep the superseded attempts, each exactly the first N tokens.
    for message_id, role in (("t1-plan", "planner"), ("t1-answer", "writer")):
        full = streamed(clean_model, prompt, role)
        for attempt in (1, 2):
            partial = "".join(t.text for t in tokens_of(late_records, message_id, attempt))
            assert partial == "".join(full[:fail_after])
            error = next(
                r for r in late_records if is_kind(r, events.ErrorEvent, message_id=message_id, attempt=attempt)
            )
            assert error.item.retryable  # type: ignore[union-attr]
        assert "".join(t.text for t in tokens_of(late_records, message_id, 3)) == "".join(full)
        # Each attempt announces itself before its first token.
        for attempt in (1, 2, 3):
            announced = next(
                r.offset
                for r in late_records
                if is_kind(r, events.AttemptStarted, message_id=message_id, attempt=attempt)
            )
            first_token = next(
                r.offset for r in late_records if is_kind(r, events.TokenDelta, message_id=message_id, attempt=attempt)
            )
            assert announced < first_token
        message = next(m for m in late_view.lanes[0].messages if m.message_id == message_id)
        assert message.superseded_attempts == (1, 2)
        assert message.attempt == 3 and message.finished
        assert message.answer == expected[message_id]
        clean_message = next(m for m in clean_view.lanes[0].messages if m.message_id == message_id)
        assert clean_message.superseded_attempts == () and clean_message.attempt == 1
    assert len(late_view.errors) == 4


# --- 2. a SIGKILLed worker ---------------------------------------------------------


@pytest.mark.slow
async def test_worker_sigkilled_mid_answer_then_restarted(
    client: Client, task_queue: str, temporal_server: EmbeddedServer
) -> None:
    prompt = "summarize the incident"
    model = ModelSpec(tokens_per_second=30, answer_words=120, reasoning_words=4)
    expected = {
        "t1-plan": scripted_texts(model, prompt, "planner")[1],
        "t1-answer": scripted_texts(model, prompt, "writer")[1],
    }
    async with worker_processes(temporal_server.address, temporal_server.namespace, task_queue) as spawn:
        first = await spawn()
        handle = await start_session(client, task_queue, messages=[prompt], model=model)
        live = Device(client, handle.id, on_batch=prefix_checker(expected))
        # Mid-answer: the final answer has streamed a good part of its text.
        await live.wait_for(
            lambda r: (
                is_kind(r, events.TokenDelta, message_id="t1-answer", channel="answer")
                and sum(len(t.text) for t in tokens_of(live.records, "t1-answer")) > 60
            ),
            timeout=25,
        )
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        killed_at = time.monotonic()
        await spawn()
        view = await live.finish(timeout=40)
        recovered_in = time.monotonic() - killed_at
        assert await handle.result() is not None
        # A closed session is read by Query, which needs a worker: read before stopping it.
        records, gaps, end = await read_all(client, handle.id, timeout=20)
    assert end is not None and end.status == "completed" and gaps == [] and live.gaps == []
    assert_contiguous(records)
    assert [(r.offset, r.item) for r in live.records] == [(r.offset, r.item) for r in records]
    late_view = reduce(records)
    assert view.canonical_text() == late_view.canonical_text() == expected_main(model, prompt)

    answer = next(m for m in late_view.lanes[0].messages if m.message_id == "t1-answer")
    assert answer.superseded_attempts == (1,)
    assert answer.attempt == 2 and answer.finished
    killed_attempt = "".join(t.text for t in tokens_of(records, "t1-answer", 1))
    assert killed_attempt and "".join(streamed(model, prompt, "writer")).startswith(killed_attempt)
    assert not any(is_kind(r, events.MessageFinished, message_id="t1-answer", attempt=1) for r in records)
    # Recovery waits out the heartbeat timeout and the dead worker's sticky queue (10 s each), then
    # re-streams: ~25 s, bounded with room for a slow box.
    assert recovered_in < 60


# --- 3. sub-agents in lanes --------------------------------------------------------

SUBAGENT_LANES = ["researcher", "critic", "writer"]


def subagents(fail: str = "") -> list[SubagentSpec]:
    rates = {"researcher": 110.0, "critic": 70.0, "writer": 45.0}
    return [
        SubagentSpec(
            name=name, model=ModelSpec(tokens_per_second=rate, answer_words=45, reasoning_words=6), fail=name == fail
        )
        for name, rate in rates.items()
    ]


def assert_lanes_not_interleaved(records: list[events.Record]) -> None:
    """Within a lane, one message's tokens never interleave with another's."""
    by_lane: dict[str, list[tuple[str, int]]] = {}
    for r in records:
        if isinstance(r.item, events.TokenDelta):
            by_lane.setdefault(r.item.lane, []).append((r.item.message_id, r.item.attempt))
    for lane, runs in by_lane.items():
        collapsed = [key for i, key in enumerate(runs) if i == 0 or runs[i - 1] != key]
        assert len(collapsed) == len(set(collapsed)), f"lane {lane} interleaves messages: {collapsed}"


async def test_three_subagents_stream_into_their_own_lanes(client: Client, task_queue: str, worker: Worker) -> None:
    prompt = "review the migration plan"
    main_model = ModelSpec(tokens_per_second=400, answer_words=20, reasoning_words=4)
    specs = subagents()
    handle = await start_session(client, task_queue, messages=[prompt], model=main_model, subagents=specs)
    live = Device(client, handle.id)
    live_view = await live.finish()
    records, gaps, end = await read_all(client, handle.id, timeout=20)
    assert end is not None and end.status == "completed" and gaps == []
    assert_contiguous(records)
    late_view = reduce(records)

    # The sub-agents really ran concurrently: their tokens interleave in the log.
    token_lanes = [r.item.lane for r in records if isinstance(r.item, events.TokenDelta) and r.item.lane != "main"]
    switches = sum(1 for a, b in itertools.pairwise(token_lanes) if a != b)
    assert switches >= 4, token_lanes

    assert_lanes_not_interleaved(records)
    for spec in specs:
        lane_tokens = [r.item for r in records if isinstance(r.item, events.TokenDelta) and r.item.lane == spec.name]
        assert {t.message_id for t in lane_tokens} == {f"t1-{spec.name}"}
        assert {t.attempt for t in lane_tokens} == {1}
        assert "".join(t.text for t in lane_tokens) == "".join(streamed(spec.model, prompt, spec.name))

    for view in (live_view, late_view):
        assert [lane.name for lane in view.lanes] == ["main", *SUBAGENT_LANES]
        assert [lane.index for lane in view.lanes] == [0, 1, 2, 3]
        for spec in specs:
            lane = view.lane(spec.name)
            assert lane is not None
            assert lane.status == "completed"
            assert lane.workflow_id == f"{handle.id}-t1-{spec.name}"
            assert lane.text == scripted_texts(spec.model, prompt, spec.name)[1]
        main = view.lane("main")
        assert main is not None
        assert main.text == expected_main(main_model, prompt).removeprefix("[main]\n")
        assert [s.name for s in view.steps] == ["plan", "tool", "delegate", "answer"]
    assert live_view.canonical_text() == late_view.canonical_text()
    expected = expected_main(main_model, prompt) + "".join(
        f"\n[{s.name}]\n{scripted_texts(s.model, prompt, s.name)[1]}" for s in specs
    )
    assert late_view.canonical_text() == expected


async def test_failing_subagent_fails_only_its_own_lane(client: Client, task_queue: str, worker: Worker) -> None:
    prompt = "review the rollback plan"
    main_model = ModelSpec(tokens_per_second=400, answer_words=20, reasoning_words=4)
    specs = subagents(fail="critic")
    handle = await start_session(client, task_queue, messages=[prompt], model=main_model, subagents=specs)
    live = Device(client, handle.id)
    live_view = await live.finish()
    records, gaps, end = await read_all(client, handle.id, timeout=20)
    assert end is not None and end.status == "completed" and gaps == []
    late_view = reduce(records)
    assert_lanes_not_interleaved(records)

    for view in (live_view, late_view):
        assert [lane.name for lane in view.lanes] == ["main", *SUBAGENT_LANES]
        critic = view.lane("critic")
        assert critic is not None and critic.status == "failed"
        assert critic.reason
        message = critic.messages[0]
        assert message.superseded_attempts == (1,) and message.attempt == 2 and not message.finished
        for spec in specs:
            if spec.name != "critic":
                lane = view.lane(spec.name)
                assert lane is not None and lane.status == "completed"
                assert lane.text == scripted_texts(spec.model, prompt, spec.name)[1]
        assert [t.status for t in view.turns] == ["completed"]
        assert [(s.name, s.status) for s in view.steps] == [
            ("plan", "completed"),
            ("tool", "completed"),
            ("delegate", "completed"),
            ("answer", "completed"),
        ]
        assert [e.split(":")[0].split(" ")[1] for e in view.errors] == ["critic/t1-critic#1", "critic/t1-critic#2"]
    assert live_view.canonical_text() == late_view.canonical_text()
    errors = [r.item for r in records if isinstance(r.item, events.ErrorEvent)]
    assert {e.lane for e in errors} == {"critic"}
    child = await client.get_workflow_handle(f"{handle.id}-t1-critic").describe()
    assert child.status == WorkflowExecutionStatus.FAILED
    for name in ("researcher", "writer"):
        other = await client.get_workflow_handle(f"{handle.id}-t1-{name}").describe()
        assert other.status == WorkflowExecutionStatus.COMPLETED


# --- 4. cancelling a turn ------------------------------------------------------------


async def run_cancelled_delegate(
    client: Client, task_queue: str
) -> tuple[WorkflowHandle[AgentSession, object], list[events.Record], float]:
    """A session whose turn is cancelled while three slow sub-agents stream."""
    slow = [
        SubagentSpec(name=n, model=ModelSpec(tokens_per_second=8, answer_words=200, reasoning_words=2))
        for n in SUBAGENT_LANES
    ]
    handle = await start_session(
        client,
        task_queue,
        messages=["write the report"],
        model=ModelSpec(tokens_per_second=400, answer_words=10, reasoning_words=2),
        subagents=slow,
        idle_timeout=1.0,
    )
    live = Device(client, handle.id)
    for name in SUBAGENT_LANES:

        def answering(r: events.Record, name: str = name) -> bool:
            return is_kind(r, events.TokenDelta, lane=name, channel="answer")

        await live.wait_for(answering)
    await handle.signal(AgentSession.cancel_turn)
    cancelled_at = time.monotonic()
    await live.wait_for(lambda r: is_kind(r, events.TurnFinished, turn=1), timeout=20)
    took = time.monotonic() - cancelled_at
    await live.finish()
    records, _, end = await read_all(client, handle.id, timeout=20)
    assert end is not None and end.status == "completed"
    return handle, records, took


async def test_cancel_turn_cancels_the_subagents(client: Client, task_queue: str, worker: Worker) -> None:
    handle, records, took = await run_cancelled_delegate(client, task_queue)
    # Cancellation reaches an activity on its next heartbeat (the SDK throttles them to ~8 s), then
    # the children and the parent each take a workflow task: bounded, with room for a slow box.
    assert took < 30
    view = reduce(records)
    assert [(t.turn, t.status) for t in view.turns] == [(1, "cancelled")]
    assert [(s.name, s.status) for s in view.steps] == [
        ("plan", "completed"),
        ("tool", "completed"),
        ("delegate", "cancelled"),
    ]
    assert "t1-answer" not in {m.message_id for lane in view.lanes for m in lane.messages}
    for name in SUBAGENT_LANES:
        child = await client.get_workflow_handle(f"{handle.id}-t1-{name}").describe()
        assert child.status == WorkflowExecutionStatus.CANCELED, (name, child.status)


async def test_cancelled_subagent_lanes_stop_running(client: Client, task_queue: str, worker: Worker) -> None:
    _, records, _ = await run_cancelled_delegate(client, task_queue)
    view = reduce(records)
    assert [(lane.name, lane.status) for lane in view.lanes[1:]] == [(n, "cancelled") for n in SUBAGENT_LANES]


async def test_cancelled_subagents_stop_streaming_when_the_turn_ends(
    client: Client, task_queue: str, worker: Worker
) -> None:
    _, records, _ = await run_cancelled_delegate(client, task_queue)
    finished = next(r.offset for r in records if is_kind(r, events.TurnFinished, turn=1))
    late = [r for r in records if r.offset > finished and isinstance(r.item, events.TokenDelta)]
    assert late == [], f"{len(late)} sub-agent token records after the cancelled turn finished"


# --- 5. joining the current turn only ---------------------------------------------------


async def wait_idle_after(handle: WorkflowHandle[AgentSession, object], turn: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = await handle.query(AgentSession.info)
        if info.turn == turn and not info.in_turn:
            return
        assert time.monotonic() < deadline, info
        await asyncio.sleep(0.05)


async def test_device_joins_the_current_turn_only(client: Client, task_queue: str, worker: Worker) -> None:
    model = ModelSpec(tokens_per_second=400, answer_words=20, reasoning_words=4)
    handle = await start_session(client, task_queue, messages=["first"], model=model, idle_timeout=30)
    await wait_idle_after(handle, 1)
    before = await handle.query(AgentSession.info)
    sent = await handle.execute_update(AgentSession.send_message, "second")
    assert sent.turn == 2
    assert sent.head_offset == before.head_offset

    device = Device(client, handle.id, from_offset=sent.head_offset)
    await device.wait_for(lambda r: is_kind(r, events.TurnFinished, turn=2))
    info = await handle.query(AgentSession.info)
    assert info.turn_offsets[2] == sent.head_offset
    assert info.turn_offsets[1] < sent.head_offset
    await handle.signal(AgentSession.close)
    view = await device.finish()

    first = device.records[0]
    assert first.offset == sent.head_offset
    assert isinstance(first.item, events.TurnStarted)
    assert first.item.turn == 2 and first.item.user_message == "second"
    offsets = [r.offset for r in device.records]
    assert offsets == list(range(sent.head_offset, sent.head_offset + len(device.records)))
    assert all(
        getattr(r.item, "turn", None) == 2 for r in device.records if not isinstance(r.item, events.SessionFinished)
    ), [r for r in device.records if getattr(r.item, "turn", 2) != 2]
    assert [t.turn for t in view.turns] == [2]
    assert view.turns[0].start_offset == sent.head_offset
    assert [m.message_id for m in view.lanes[0].messages] == ["t2-plan", "t2-answer"]
    assert view.canonical_text() == expected_main(model, "second")
    assert view.status == "completed"


async def test_turn_offsets_locate_a_turn_queued_while_busy(client: Client, task_queue: str, worker: Worker) -> None:
    """``send_message`` during a turn returns the head then; ``turn_offsets`` has the exact start."""
    # Turn 1 streams ~6 s: the Update below lands while it is busy even on a slow box.
    model = ModelSpec(tokens_per_second=30, answer_words=40, reasoning_words=4)
    handle = await start_session(client, task_queue, messages=["first"], model=model, idle_timeout=1.0)
    live = Device(client, handle.id)
    await live.wait_for(lambda r: is_kind(r, events.TokenDelta, message_id="t1-plan"))
    sent = await handle.execute_update(AgentSession.send_message, "second")
    assert sent.turn == 2
    await live.wait_for(lambda r: is_kind(r, events.TurnStarted, turn=2))
    info = await handle.query(AgentSession.info)
    start = info.turn_offsets[2]
    assert start > sent.head_offset
    records, _, end = await read_all(client, handle.id, from_offset=start, timeout=30)
    assert end is not None
    assert isinstance(records[0].item, events.TurnStarted) and records[0].item.turn == 2
    assert records[0].offset == start
    assert all(getattr(r.item, "turn", 0) in (0, 2) for r in records)
    assert reduce(records).canonical_text() == expected_main(model, "second")
    await live.finish()


@pytest.mark.slow
async def test_scripted_hard_crash_fault_kills_the_worker_and_the_session_recovers(
    client: Client, task_queue: str, temporal_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's own crash fault (SIGKILL of its worker on attempt 1) recovers to canonical text."""
    prompt = "crash on purpose"
    model = ModelSpec(tokens_per_second=200, answer_words=40, reasoning_words=4, crash_after_tokens=12)
    clean = ModelSpec(tokens_per_second=200, answer_words=40, reasoning_words=4)
    monkeypatch.setenv("WFWATCH_ALLOW_CRASH", "1")
    crashes = 0
    async with worker_processes(temporal_server.address, temporal_server.namespace, task_queue) as spawn:
        current = await spawn()
        handle = await start_session(client, task_queue, messages=[prompt], model=model, llm_heartbeat_timeout=2.0)
        result_task = asyncio.ensure_future(handle.result())
        deadline = time.monotonic() + 90
        while not result_task.done():
            assert time.monotonic() < deadline, "session did not recover"
            try:
                code = await asyncio.wait_for(current.wait(), timeout=0.5)
            except TimeoutError:
                continue
            assert code == -signal.SIGKILL
            crashes += 1
            current = await spawn()
        await result_task
        records, gaps, end = await read_all(client, handle.id, timeout=20)
    assert crashes == 2  # attempt 1 of the plan and of the answer
    assert end is not None and gaps == []
    assert_contiguous(records)
    assert reduce(records).canonical_text() == expected_main(clean, prompt)


# --- continue-as-new stays under Temporal's payload warning limit ------------------------------

#: The SDK logs TMPRL1103 for a payload field over 512 KiB (the server's default hard limit is 2 MiB).
PAYLOAD_WARNING_BYTES = 512 * 1024
#: History events whose payloads the workflow itself writes (its commands), not its callers.
WRITTEN_BY_THE_WORKFLOW = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    EventType.EVENT_TYPE_MARKER_RECORDED,
}


async def runs_of(client: Client, workflow_id: str) -> list[list[HistoryEvent]]:
    """Every run's history, first to last, following the continue-as-new chain."""
    description = await client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = description.raw_info.first_run_id or description.run_id
    runs = []
    while run_id:
        history = [e async for e in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events()]
        runs.append(history)
        last = history[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


async def test_a_rollover_with_the_largest_events_stays_under_the_payload_warning_limit_and_says_what_it_dropped(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await start_session(
        client, task_queue, idle_timeout=60, rollover_after_steps=1, model=ModelSpec(tokens_per_second=0)
    )
    # The largest events a publisher lets through (~1 MB), then a 400 KB tool result and small ones:
    # carried whole, the log would make a continue-as-new input of ~2 MB (base64 in JSON).
    big = events.TokenDelta(message_id="huge", text="x" * 1_000_000, lane="main")
    large = events.ToolResult(call_id="large", result="y" * 400_000)
    # The session writes session_started at offset 0 in its first task; publish after it, so the offsets
    # below are what this test says they are (on a loaded machine the first Signal can win the race).
    reader = StreamReader(client, handle.id)
    deadline = time.monotonic() + 30
    while await reader.head() < 1:
        assert time.monotonic() < deadline, "the session never wrote session_started"
        await asyncio.sleep(0.05)
    async with EventPublisher.for_workflow(client, handle.id) as publisher:
        await publisher.publish(big)
        await publisher.publish(large)
        for n in range(20):
            await publisher.publish(events.TokenDelta(message_id=f"small-{n}", text=f"s{n} ", lane="main"))
    await handle.execute_update(AgentSession.send_message, "go")
    await handle.signal(AgentSession.close)
    await handle.result()

    runs = await runs_of(client, handle.id)
    assert len(runs) >= 3, f"expected rollovers, got {len(runs)} runs"
    carried = [run[-1].workflow_execution_continued_as_new_event_attributes.input.ByteSize() for run in runs[:-1]]
    print("continue-as-new input bytes per rollover:", carried)
    assert max(carried) < PAYLOAD_WARNING_BYTES, carried
    for run in runs:
        for event in run:
            if event.event_type in WRITTEN_BY_THE_WORKFLOW:
                attributes = getattr(event, event.WhichOneof("attributes") or "")
                assert attributes.ByteSize() < PAYLOAD_WARNING_BYTES, (EventType.Name(event.event_type), carried)

    # What was not carried is an explicit gap from offset 0, not a hole: every offset is a record or in the gap.
    records, gaps, end = await read_all(client, handle.id, timeout=60)
    assert end is not None and end.status == "completed"
    # Offsets 0 (session_started), 1 (the 1 MB token) and 2 (the 400 KB result) could not be carried;
    # the small items after them were (the newest that fit), and everything since.
    assert gaps == [Gap(0, 3)]
    assert [r.offset for r in records] == list(range(3, end.next_offset))
    assert [r.item for r in records[:20]] == [
        events.TokenDelta(message_id=f"small-{n}", text=f"s{n} ", lane="main") for n in range(20)
    ]
    assert isinstance(records[-1].item, events.SessionFinished)


async def test_the_message_queue_is_bounded_in_bytes_so_it_can_always_be_carried(
    client: Client, task_queue: str, worker: Worker
) -> None:
    # A long first turn: the messages sent meanwhile wait in the queue, which continue-as-new carries whole.
    slow = ModelSpec(tokens_per_second=5, answer_words=200, reasoning_words=0)
    handle = await start_session(client, task_queue, messages=["first"], idle_timeout=60, model=slow)
    await steering.send_message(client, handle.id, "a" * 100_000)
    with pytest.raises(steering.SteeringError, match="too much queued: 1 messages wait"):
        await steering.send_message(client, handle.id, "b" * 40_000)
    # Counted as JSON bytes: 30,000 characters of "é" are 180,000 bytes escaped.
    with pytest.raises(steering.SteeringError, match="too much queued"):
        await steering.send_message(client, handle.id, "é" * 30_000)
    assert (await handle.query(AgentSession.info)).pending == 1
    await handle.terminate("test over")


async def test_a_reader_catching_up_on_a_large_backlog_gets_poll_results_under_the_warning_limit(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await start_session(client, task_queue, idle_timeout=60, model=ModelSpec(tokens_per_second=0))
    # 1.2 MB of log: the SDK would answer a poll from 0 with ~1 MB in one Update result.
    results = [events.ToolResult(call_id=f"r{n}", result=f"{n}" * 150_000) for n in range(8)]
    async with EventPublisher.for_workflow(client, handle.id) as publisher:
        for result in results:
            await publisher.publish(result)
    device = Device(client, handle.id)
    await device.wait_for(lambda record: record.item == results[-1])
    await handle.signal(AgentSession.close)
    await device.finish()
    assert not device.gaps
    assert [r.offset for r in device.records] == list(range(len(device.records)))
    assert [r.item for r in device.records if isinstance(r.item, events.ToolResult)] == results

    polls = [
        event.workflow_execution_update_completed_event_attributes.ByteSize()
        for run in await runs_of(client, handle.id)
        for event in run
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
    ]
    print("poll Update result bytes, largest:", sorted(polls)[-3:])
    assert len([size for size in polls if size > 150_000]) >= 4, "the backlog came in several batches"
    assert max(polls) < PAYLOAD_WARNING_BYTES, sorted(polls)[-3:]
