"""What both framework folds share: turns, model calls as messages, attempts, tool steps.

A framework's model call becomes one wfwatch message (and one ``model`` step
on the timeline); a retried call becomes a further attempt of the same
message, so the reducer's canonical view shows only the attempt that
completed. The schema modules decide *when* a call starts, is retried or
ends; this class turns those decisions into events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wfwatch import events
from wfwatch.events import Event


@dataclass(slots=True)
class ModelCall:
    """The model call in progress: its message id and attempt, and what its stream opened."""

    message_id: str
    attempt: int = 1
    #: Set once the framework showed the call's outcome (it completed, or the workflow acted on it).
    closed: bool = False
    opened_parts: set[int] = field(default_factory=set)


class Fold:
    """Turn and model-call bookkeeping for one topic, emitting wfwatch events."""

    def __init__(self, lane: str, turns_before: int = 0) -> None:
        self.home_lane = lane
        self.lane = lane
        #: Only the session's own agent opens and closes turns; a delegate's topic runs inside one.
        self.owns_turns = lane == events.MAIN_LANE
        self.turn = turns_before
        self.turn_open = False
        self.call: ModelCall | None = None
        self.open_tools: dict[str, str] = {}
        #: Lanes control passed to, in order (their index orders them the same on every device).
        self.lanes_seen: list[str] = []

    def forget_call(self) -> None:
        """A gap swallowed the rest of the running call (or its retry's start): do not splice across it."""
        self.call = None
        self.open_tools.clear()

    def begin_turn(self, out: list[Event]) -> None:
        if not self.turn_open:
            self.turn += 1
            self.turn_open = True
            if self.owns_turns:
                out.append(events.TurnStarted(lane=events.MAIN_LANE, turn=self.turn))

    def enter_lane(self, lane: str, out: list[Event]) -> None:
        """Control passed to another agent (a handoff): its model calls go to a lane of its own."""
        if lane == self.lane:
            return
        self.leave_lane(out)
        self.lane = lane
        if lane not in self.lanes_seen:
            self.lanes_seen.append(lane)
        out.append(events.SubagentSpawned(lane=lane, turn=self.turn, name=lane, index=self.lanes_seen.index(lane) + 1))

    def leave_lane(self, out: list[Event], status: events.Status = "completed") -> None:
        if self.lane != self.home_lane:
            out.append(events.SubagentFinished(lane=self.lane, turn=self.turn, status=status))
            self.lane = self.home_lane

    def end_turn(self, out: list[Event], status: events.Status = "completed", reason: str = "") -> None:
        self.close_call(out)
        self.finish_tools(out)
        self.leave_lane(out, status)
        if self.turn_open:
            if self.owns_turns:
                out.append(events.TurnFinished(lane=events.MAIN_LANE, turn=self.turn, status=status, reason=reason))
            self.turn_open = False

    def new_call(self, offset: int, out: list[Event], name: str = "model") -> ModelCall:
        """A model call starts: a new message and a ``model`` step."""
        self.begin_turn(out)
        self.close_call(out)
        self.finish_tools(out)
        message_id = f"{self.lane}@{offset}"
        self.call = ModelCall(message_id)
        out.append(events.StepStarted(lane=self.lane, turn=self.turn, step_id=message_id, name=name))
        out.append(events.AttemptStarted(lane=self.lane, turn=self.turn, message_id=message_id, step_id=message_id))
        return self.call

    def retry_call(self, out: list[Event]) -> ModelCall:
        """The running call starts over: Temporal retried its activity."""
        assert self.call is not None
        call = self.call
        call.attempt += 1
        call.opened_parts.clear()
        out.append(
            events.AttemptStarted(
                lane=self.lane,
                turn=self.turn,
                message_id=call.message_id,
                attempt=call.attempt,
                step_id=call.message_id,
            )
        )
        return call

    def token(self, out: list[Event], text: str, channel: events.Channel = "answer") -> None:
        if not text or self.call is None:
            return
        out.append(
            events.TokenDelta(
                lane=self.lane,
                turn=self.turn,
                message_id=self.call.message_id,
                attempt=self.call.attempt,
                text=text,
                channel=channel,
            )
        )

    def delta(self, offset: int, text: str, channel: events.Channel | None) -> tuple[Event, ...]:
        """A streamed piece of the running call (``channel`` ``None``: not text a pane shows).

        Most items of a stream are deltas: this is :meth:`new_call` (only when
        joined mid-response) plus :meth:`token`, without building a list per item.
        """
        call = self.call
        if call is None or call.closed:  # joined mid-response: the call's start is not ours
            out: list[Event] = []
            self.new_call(offset, out)
            if channel is not None:
                self.token(out, text, channel)
            return tuple(out)
        if not text or channel is None:
            return ()
        return (
            events.TokenDelta(
                lane=self.lane,
                turn=self.turn,
                message_id=call.message_id,
                attempt=call.attempt,
                text=text,
                channel=channel,
            ),
        )

    def close_call(self, out: list[Event], status: events.Status = "completed", reason: str = "") -> None:
        call = self.call
        if call is None or call.closed:
            return
        call.closed = True
        out.append(
            events.MessageFinished(lane=self.lane, turn=self.turn, message_id=call.message_id, attempt=call.attempt)
        )
        out.append(
            events.StepFinished(
                lane=self.lane, turn=self.turn, step_id=call.message_id, status=status, reason=reason, duration_ms=None
            )
        )

    def tool_call(self, out: list[Event], call_id: str, name: str, arguments: str) -> None:
        self.begin_turn(out)
        step_id = f"{self.lane}:tool:{call_id}"
        out.append(events.ToolCall(lane=self.lane, turn=self.turn, call_id=call_id, name=name, arguments=arguments))
        out.append(events.StepStarted(lane=self.lane, turn=self.turn, step_id=step_id, name=name))
        self.open_tools[call_id] = step_id

    def tool_result(self, out: list[Event], call_id: str, ok: bool, result: str) -> None:
        out.append(events.ToolResult(lane=self.lane, turn=self.turn, call_id=call_id, ok=ok, result=result))
        step_id = self.open_tools.pop(call_id, None)
        if step_id is not None:
            out.append(
                events.StepFinished(
                    lane=self.lane,
                    turn=self.turn,
                    step_id=step_id,
                    status="completed" if ok else "failed",
                    duration_ms=None,
                )
            )

    def finish_tools(self, out: list[Event]) -> None:
        """Tool steps whose results the stream never carries end when the run moves on."""
        for step_id in self.open_tools.values():
            out.append(events.StepFinished(lane=self.lane, turn=self.turn, step_id=step_id, duration_ms=None))
        self.open_tools.clear()

    def error(self, out: list[Event], message: str) -> None:
        call = self.call
        out.append(
            events.ErrorEvent(
                lane=self.lane,
                turn=self.turn,
                message=message,
                message_id=call.message_id if call else "",
                attempt=call.attempt if call else 0,
            )
        )
