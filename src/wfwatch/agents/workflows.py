"""The demo agent: a multi-turn session workflow hosting a Workflow Stream.

A session waits for user messages; each becomes a turn of steps
(plan → tool → [delegate to sub-agents] → answer). LLM steps stream tokens
from activities into the session's stream; the workflow itself publishes the
lifecycle (turns, steps, tool calls, sub-agents).

Between steps the session continues-as-new before Temporal's limits are near
(history length, or the server's own suggestion), carrying the stream state
and the turn in progress, so a long session never wedges at a limit. The
input carried over stays under ``MAX_CARRY_PAYLOAD_BYTES`` serialized (under
Temporal's payload warning limit): the log gets the room the rest leaves,
older offsets are truncated and readers get an explicit gap for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.workflow_streams import (
    PollInput,
    PollResult,
    PublishInput,
    WorkflowStream,
    WorkflowStreamState,
)
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    import msgspec

    from wfwatch import contract, events
    from wfwatch.agents import scenarios
    from wfwatch.agents.activities import run_tool, stream_llm
    from wfwatch.agents.shared import (
        MAX_CARRIED_TRANSCRIPT_BYTES,
        MAX_CARRIED_TURNS,
        MAX_CARRY_PAYLOAD_BYTES,
        MAX_PENDING_BYTES,
        MAX_POLL_RESULT_BYTES,
        CarriedState,
        LlmInput,
        LlmOutput,
        SendResult,
        SessionInfo,
        SessionInput,
        SessionResult,
        SubagentInput,
        SubagentResult,
        ToolInput,
    )
    from wfwatch.stream.publisher import PUBLISH_SIGNAL, claimed_epoch, event_payload
    from wfwatch.stream.reader import OFFSET_QUERY, POLL

# Markers and handler names every reader and steerer relies on: see wfwatch.contract.
SESSION_ATTR = contract.SESSION_ATTR
TURN_ATTR = contract.TURN_ATTR
MEMO_TITLE = contract.MEMO_TITLE
MEMO_TURN = contract.MEMO_TURN

LLM_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_attempts=5)
STEPS = ("plan", "tool", "delegate", "answer")

#: The pool a long-running session makes up its turns from (see ``auto_prompt``).
AUTO_PROMPTS = scenarios.AUTO_PROMPTS


T = TypeVar("T")

#: The error type the SDK's poll validator rejects with while pollers are detached (readers retry on it).
STREAM_DRAINING = "StreamDraining"


class _TurnCancelled(Exception):
    pass


@workflow.defn
class AgentSession:
    @workflow.init
    def __init__(self, input: SessionInput) -> None:
        self.stream = WorkflowStream(prior_state=input.stream_state)
        self.topic = self.stream.topic(events.TOPIC)
        self.input = input
        self.state = input.carried or CarriedState(pending=list(input.messages))
        self.steps_this_run = 0
        # Put a guard in front of the stream's publish handler. Signals that
        # arrived with this activation still reach the guard: the SDK looks a
        # handler up when the signal's task runs, after __init__ returns.
        self._accept_publish = workflow.get_signal_handler(PUBLISH_SIGNAL)
        workflow.set_signal_handler(PUBLISH_SIGNAL, self._on_publish)
        # And one in front of its poll Update, whose result the session writes
        # into history: the SDK returns up to 1 MB; we cut it to stay well
        # under Temporal's payload warning limit.
        self._sdk_poll = workflow.get_update_handler(POLL)
        self._detaching = False
        workflow.set_update_handler(POLL, self._on_poll, validator=self._validate_poll)
        # The head is offered only as the stream's offset Query: call its handler
        # (public workflow API and a wire name) rather than the SDK's private method.
        self._stream_offset = workflow.get_query_handler(OFFSET_QUERY)

    def _on_publish(self, batch: PublishInput) -> None:
        """Refuse batches written for an earlier workflow under this id.

        Publish Signals address the workflow id, not the run: when a session is
        replaced (terminated and started again under its id), the old one's
        activities keep publishing until they notice, and their tokens would be
        spliced into the new session's log. Continue-as-new keeps the first run
        id, so the session's own publishers pass across rollovers.
        """
        claimed = claimed_epoch(batch.publisher_id)
        if claimed is not None and claimed != workflow.info().first_execution_run_id:
            self.state.foreign_batches += 1
            workflow.logger.warning(
                "dropped %d published items from publisher %s: it writes for an earlier workflow under this id",
                len(batch.items),
                batch.publisher_id,
            )
            return
        assert self._accept_publish is not None
        self._accept_publish(batch)

    async def _on_poll(self, request: PollInput) -> PollResult:
        """The SDK's long-poll, its result cut to ``MAX_POLL_RESULT_BYTES``; the reader polls again at once."""
        assert self._sdk_poll is not None
        result: PollResult = await self._sdk_poll(request)
        return _cap_poll_result(result, MAX_POLL_RESULT_BYTES)

    def _validate_poll(self, request: PollInput) -> None:
        # The SDK's own validator, which a replaced handler loses: no new polls
        # once pollers are detached; readers retry this error type on the next run.
        if self._detaching:
            raise ApplicationError("Workflow pollers are detached for continue-as-new", type=STREAM_DRAINING)

    def _detach_pollers(self) -> None:
        self._detaching = True
        self.stream.detach_pollers()

    # --- messages from outside ---------------------------------------------

    @workflow.update
    async def send_message(self, text: str) -> SendResult:
        """Queue a user message; subscribe from ``head_offset`` to see its turn."""
        await asyncio.sleep(0)  # let publish Signals in this activation land first
        self.state.pending.append(text)
        queued_turn = self.state.turn + len(self.state.pending)
        return SendResult(turn=queued_turn, head_offset=self.head)

    @send_message.validator
    def _validate_send(self, text: str) -> None:
        if self.state.closing:
            raise ApplicationError("session is closing", type="SessionClosing")
        if not text.strip():
            raise ApplicationError("empty message", type="EmptyMessage")
        if len(text) > 100_000:
            raise ApplicationError("message longer than 100,000 characters", type="MessageTooLong")
        # Waiting messages are carried across continue-as-new whole: bound them so the carried input stays small.
        waiting = sum(_encoded_size(m) for m in self.state.pending)
        if waiting + _encoded_size(text) > MAX_PENDING_BYTES:
            raise ApplicationError(
                f"too much queued: {len(self.state.pending)} messages wait for a turn "
                f"({waiting:,} bytes; the queue holds {MAX_PENDING_BYTES:,}); send again after the next turn starts",
                type="QueueFull",
            )

    @workflow.signal
    def cancel_turn(self) -> None:
        """Cancel the running turn (its activities and sub-agents)."""
        if self.state.in_turn:
            self.state.cancel_requested = True

    @workflow.signal
    def close(self) -> None:
        """Finish the session after the running turn."""
        self.state.closing = True

    @workflow.query
    def info(self) -> SessionInfo:
        return SessionInfo(
            session_id=workflow.info().workflow_id,
            title=self.input.title,
            turn=self.state.turn,
            in_turn=self.state.in_turn,
            head_offset=self.head,
            turn_offsets=dict(self.state.turn_offsets),
            pending=len(self.state.pending),
            runs=self.state.runs,
            foreign_batches=self.state.foreign_batches,
        )

    @property
    def head(self) -> int:
        """The offset the next item will get."""
        assert self._stream_offset is not None
        return int(self._stream_offset())

    # --- the session --------------------------------------------------------

    @workflow.run
    async def run(self, input: SessionInput) -> SessionResult:
        wf = workflow.info()
        if input.carried is None:
            workflow.upsert_memo({MEMO_TITLE: input.title})
            if input.search_attributes:
                workflow.upsert_search_attributes([SESSION_ATTR.value_set(input.title)])
            self._publish(events.SessionStarted(session_id=wf.workflow_id, title=input.title))
        while True:
            if not self.state.in_turn and not await self._next_message():
                break
            with contextlib.suppress(_TurnCancelled):
                await self._run_turn()
            if self._should_rollover():
                await self._rollover()
        self._publish(events.SessionFinished(status="completed"))
        # Release waiting readers with the final batch (they then see the run
        # closed and drain by Query) instead of leaving Updates unfinished.
        self._detach_pollers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SessionResult(turns=self.state.turn, status="completed", runs=self.state.runs)

    async def _next_message(self) -> bool:
        """Wait for the next user message (or make one up); False means finish."""
        state = self.state
        if not state.pending and state.auto_turns_done < self.input.auto_turns:
            if state.turn > 0 and self.input.pause_between_turns > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: bool(state.pending) or state.closing, timeout=self.input.pause_between_turns
                    )
            if not state.pending and not state.closing:
                state.pending.append(scenarios.auto_prompt(workflow.info().workflow_id, state.auto_turns_done))
                state.auto_turns_done += 1
        timeout = timedelta(seconds=self.input.idle_timeout) if self.input.idle_timeout > 0 else None
        if not state.pending:
            if self.input.auto_turns and state.auto_turns_done >= self.input.auto_turns and not timeout:
                return False
            try:
                await workflow.wait_condition(lambda: bool(state.pending) or state.closing, timeout=timeout)
            except TimeoutError:
                return False
        if not state.pending:
            return False
        state.user_message = state.pending.pop(0)
        state.turn += 1
        state.in_turn = True
        state.step_index = 0
        state.turn_offsets[state.turn] = self.head
        self.state.cancel_requested = False
        workflow.upsert_memo({MEMO_TURN: state.turn})
        if self.input.search_attributes:
            workflow.upsert_search_attributes([TURN_ATTR.value_set(state.turn)])
        self._publish(events.TurnStarted(turn=state.turn, user_message=state.user_message))
        return True

    async def _run_turn(self) -> None:
        state = self.state
        steps = [s for s in STEPS if s != "delegate" or self.input.subagents]
        while state.step_index < len(steps):
            name = steps[state.step_index]
            step_id = f"t{state.turn}-{name}"
            started = workflow.now()
            self._publish(events.StepStarted(turn=state.turn, step_id=step_id, name=name))
            status: events.Status = "completed"
            reason = ""
            try:
                await self._step(name, step_id)
            except _TurnCancelled:
                status, reason = "cancelled", "cancelled by user"
            except (ActivityError, ChildWorkflowError, ApplicationError) as err:
                status, reason = "failed", str(err.cause or err) if hasattr(err, "cause") else str(err)
            duration = (workflow.now() - started).total_seconds() * 1000
            self._publish(
                events.StepFinished(
                    turn=state.turn, step_id=step_id, status=status, duration_ms=duration, reason=reason
                )
            )
            if status != "completed":
                self._finish_turn(status, reason)
                if status == "cancelled":
                    raise _TurnCancelled()
                return
            state.step_index += 1
            self.steps_this_run += 1
            if state.step_index < len(steps) and self._should_rollover():
                await self._rollover()
        self._finish_turn("completed", "")

    def _finish_turn(self, status: str, reason: str) -> None:
        self._publish(events.TurnFinished(turn=self.state.turn, status=status, reason=reason))  # type: ignore[arg-type]
        self.state.transcript.append(self.state.user_message)
        self.state.in_turn = False
        self.state.step_index = 0

    async def _step(self, name: str, step_id: str) -> None:
        turn = self.state.turn
        prompt = self.state.user_message
        if name == "plan":
            await self._guarded(self._llm(f"t{turn}-plan", "main", step_id, prompt, "planner"))
        elif name == "tool":
            call_id = f"t{turn}-call-1"
            tool = scenarios.tool_call_for(prompt)
            name, arguments = tool.name, tool.arguments_json
            self._publish(events.ToolCall(turn=turn, call_id=call_id, name=name, arguments=arguments))
            try:
                result = await self._guarded(
                    workflow.execute_activity(
                        run_tool,
                        ToolInput(name=name, arguments=arguments),
                        start_to_close_timeout=timedelta(seconds=30),
                    )
                )
            except ActivityError as err:
                self._publish(events.ToolResult(turn=turn, call_id=call_id, ok=False, result=str(err.cause or err)))
                raise
            self._publish(events.ToolResult(turn=turn, call_id=call_id, ok=True, result=result))
        elif name == "delegate":
            await self._delegate(step_id, prompt)
        elif name == "answer":
            await self._guarded(self._llm(f"t{turn}-answer", "main", step_id, prompt, "writer"))

    def _llm(self, message_id: str, lane: str, step_id: str, prompt: str, role: str) -> asyncio.Future[LlmOutput]:
        return workflow.start_activity(
            stream_llm,
            LlmInput(
                stream_workflow_id=workflow.info().workflow_id,
                message_id=message_id,
                lane=lane,
                turn=self.state.turn,
                step_id=step_id,
                prompt=prompt,
                role=role,
                model=self.input.model,
                linger=self.input.publish_linger,
                stream_epoch=workflow.info().first_execution_run_id,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=self.input.llm_heartbeat_timeout),
            retry_policy=LLM_RETRY,
            # Report the call cancelled only once it has stopped publishing.
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    async def _delegate(self, step_id: str, prompt: str) -> None:
        """Run every sub-agent concurrently as a child workflow, each in its lane."""
        turn = self.state.turn
        wf_id = workflow.info().workflow_id
        handles = []
        for index, spec in enumerate(self.input.subagents, start=1):
            lane = spec.name
            child_id = f"{wf_id}-t{turn}-{lane}"
            self._publish(
                events.SubagentSpawned(turn=turn, lane=lane, name=spec.name, workflow_id=child_id, index=index)
            )
            handle = await workflow.start_child_workflow(
                Subagent.run,
                SubagentInput(
                    stream_workflow_id=wf_id,
                    lane=lane,
                    turn=turn,
                    task=prompt,
                    spec=spec,
                    linger=self.input.publish_linger,
                    heartbeat_timeout=self.input.llm_heartbeat_timeout,
                    stream_epoch=workflow.info().first_execution_run_id,
                ),
                id=child_id,
            )
            handles.append((lane, handle))
        gathered = asyncio.gather(*(h for _, h in handles), return_exceptions=True)
        try:
            results = await self._guarded(gathered)
        except _TurnCancelled:
            for lane, _ in handles:
                self._publish(
                    events.SubagentFinished(turn=turn, lane=lane, status="cancelled", reason="turn cancelled")
                )
            raise
        for (lane, _), result in zip(handles, results, strict=True):
            if isinstance(result, BaseException):
                reason = str(getattr(result, "cause", None) or result)
                self._publish(events.SubagentFinished(turn=turn, lane=lane, status="failed", reason=reason))
            else:
                self._publish(events.SubagentFinished(turn=turn, lane=lane, status="completed"))

    async def _guarded(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the user cancels the turn first."""
        future = asyncio.ensure_future(awaitable)
        await workflow.wait_condition(lambda: future.done() or self.state.cancel_requested)
        if future.done():
            return future.result()
        future.cancel()
        with contextlib.suppress(asyncio.CancelledError, ActivityError, ChildWorkflowError):
            await future
        raise _TurnCancelled()

    # --- continue-as-new ----------------------------------------------------

    def _should_rollover(self) -> bool:
        info = workflow.info()
        if self.input.rollover_after_steps and self.steps_this_run >= self.input.rollover_after_steps:
            return True
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.input.rollover_history_events
        )

    async def _rollover(self) -> None:
        self.state.runs += 1
        # The SDK's stream.continue_as_new(build) recipe, spelled out: it cannot
        # set the memo and search attributes, and the new run does not inherit
        # the ones upserted here, so the session list would lose its title.
        self._detach_pollers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        next_input = self._carry_over()
        search_attributes = None
        if self.input.search_attributes:
            search_attributes = TypedSearchAttributes(
                [SearchAttributePair(SESSION_ATTR, self.input.title), SearchAttributePair(TURN_ATTR, self.state.turn)]
            )
        workflow.continue_as_new(
            args=[next_input],
            memo={MEMO_TITLE: self.input.title, MEMO_TURN: self.state.turn},
            search_attributes=search_attributes,
        )

    def _carry_over(self) -> SessionInput:
        """The next run's input, under ``MAX_CARRY_PAYLOAD_BYTES`` serialized whatever the log holds.

        The log keeps its newest items that fit (and at most
        ``carry_log_bytes``); the rest is truncated, so a reader asking for
        those offsets gets an explicit gap. Measured with the workflow's own
        payload converter, so the bound is the payload Temporal is sent.
        """
        carried = self.state
        carried.transcript = _newest_within(carried.transcript, MAX_CARRIED_TRANSCRIPT_BYTES)
        if len(carried.turn_offsets) > MAX_CARRIED_TURNS:
            carried.turn_offsets = dict(sorted(carried.turn_offsets.items())[-MAX_CARRIED_TURNS:])
        state = self.stream.get_state()
        rest = _payload_size(_replace_input(self.input, dataclasses.replace(state, log=[]), carried))
        budget = min(self.input.carry_log_bytes, MAX_CARRY_PAYLOAD_BYTES - rest)
        before = state.base_offset
        state = self._truncate(state, _oldest_over(state.log, budget))
        next_input = _replace_input(self.input, state, carried)
        # The per-item sizes are estimates: trim by the measured excess until it fits.
        while (excess := _payload_size(next_input) - MAX_CARRY_PAYLOAD_BYTES) > 0 and state.log:
            state = self._truncate(state, _oldest_covering(state.log, excess))
            next_input = _replace_input(self.input, state, carried)
        if state.base_offset > before:
            workflow.logger.info(
                "continue-as-new carries offsets %d..%d; %d..%d are truncated (readers get a gap)",
                state.base_offset,
                state.base_offset + len(state.log),
                before,
                state.base_offset,
            )
        return next_input

    def _truncate(self, state: WorkflowStreamState, count: int) -> WorkflowStreamState:
        if count <= 0:
            return state
        self.stream.truncate(state.base_offset + count)
        return self.stream.get_state()

    def _publish(self, event: events.Event) -> None:
        if not event.ts:
            event = msgspec.structs.replace(event, ts=workflow.now().timestamp())
        self.topic.publish(event_payload(event))


def _encoded_size(text: str) -> int:
    """Bytes ``text`` takes in a JSON payload (the default converter escapes non-ASCII)."""
    return len(json.dumps(text))


def _payload_size(value: SessionInput) -> int:
    return workflow.payload_converter().to_payloads([value])[0].ByteSize()


def _item_size(item: Any) -> int:
    """An upper estimate of a log item's JSON in the payload: its base64 data, topic and keys."""
    return len(item.data) + _encoded_size(item.topic) + 32


def _oldest_over(log: list[Any], budget: int) -> int:
    """How many of the oldest items to drop so the newest ones fit ``budget`` bytes."""
    size = 0
    kept = 0
    for item in reversed(log):
        size += _item_size(item)
        if size > budget:
            break
        kept += 1
    return len(log) - kept


def _oldest_covering(log: list[Any], excess: int) -> int:
    """How many of the oldest items weigh at least ``excess`` bytes (at least one)."""
    size = 0
    for count, item in enumerate(log, start=1):
        size += _item_size(item)
        if size >= excess:
            return count
    return len(log)


def _cap_poll_result(result: PollResult, budget: int) -> PollResult:
    """The first items of ``result`` that fit ``budget`` (at least one), with ``more_ready`` if any were cut."""
    size = 0
    for index, item in enumerate(result.items):
        size += _item_size(item)
        if size > budget and index > 0:
            return PollResult(items=result.items[:index], next_offset=item.offset, more_ready=True)
    return result


def _newest_within(texts: list[str], budget: int) -> list[str]:
    size = 0
    for index in range(len(texts) - 1, -1, -1):
        size += _encoded_size(texts[index]) + 1
        if size > budget:
            return texts[index + 1 :]
    return texts


def _replace_input(input: SessionInput, stream_state: WorkflowStreamState, carried: CarriedState) -> SessionInput:
    return SessionInput(
        title=input.title,
        model=input.model,
        messages=[],
        auto_turns=input.auto_turns,
        pause_between_turns=input.pause_between_turns,
        idle_timeout=input.idle_timeout,
        subagents=input.subagents,
        rollover_history_events=input.rollover_history_events,
        rollover_after_steps=input.rollover_after_steps,
        carry_log_bytes=input.carry_log_bytes,
        publish_linger=input.publish_linger,
        search_attributes=input.search_attributes,
        llm_heartbeat_timeout=input.llm_heartbeat_timeout,
        stream_state=stream_state,
        carried=carried,
    )


@workflow.defn
class Subagent:
    """A child agent: streams its work into the parent session's lane."""

    @workflow.run
    async def run(self, input: SubagentInput) -> SubagentResult:
        spec = input.spec
        model = spec.model
        if spec.fail:
            model = type(model)(**{**model.__dict__, "fail_after_tokens": 3, "fail_on_attempts": [1, 2]})
        output = await workflow.execute_activity(
            stream_llm,
            LlmInput(
                stream_workflow_id=input.stream_workflow_id,
                message_id=f"t{input.turn}-{input.lane}",
                lane=input.lane,
                turn=input.turn,
                step_id=f"t{input.turn}-delegate",
                prompt=input.task,
                role=input.lane,
                model=model,
                linger=input.linger,
                stream_epoch=input.stream_epoch,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=input.heartbeat_timeout),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), maximum_attempts=2 if spec.fail else 5
            ),
        )
        return SubagentResult(lane=input.lane, text=output.text)
