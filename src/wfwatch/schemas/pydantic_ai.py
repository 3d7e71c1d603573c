"""PydanticAI's ``AgentStreamEvent`` stream (``pydantic_ai.durable_exec.temporal``).

``TemporalDurability(event_stream_topic=...)`` publishes pydantic-serialized
events discriminated by ``event_kind``. The model activity publishes
``part_start`` / ``part_delta`` / ``part_end`` / ``final_result`` (these are
republished when Temporal retries the activity); workflow code publishes
``function_tool_call``, ``function_tool_result`` and the terminal
``agent_run_result`` exactly once.

How a retry shows: no attempt number, publisher id or timestamp is in the
events. Part indices grow within one model response, so a ``part_start``
whose index is not past every part the call already opened, before the
workflow acted on the call (a tool call, a tool result, the run's result),
is the activity starting over: the next attempt of the same message. The
limit: an attempt that failed after its last part ended, retried into a
response whose first part has a higher index, cannot be told apart; in
practice every response starts at index 0.

Turns: each agent run ends with ``agent_run_result``; the next event opens
the next turn.
"""

from __future__ import annotations

from typing import Any, Final

from wfwatch.events import Channel, Event, ItemHead, TextPartDelta
from wfwatch.schemas import text_of
from wfwatch.schemas._fold import Fold

SCHEMA: Final = "pydantic-ai"

_MODEL_EVENTS: Final = frozenset({"part_start", "part_delta", "part_end", "final_result"})
_TOOL_CALLS: Final = frozenset({"function_tool_call", "output_tool_call"})
_TOOL_RESULTS: Final = frozenset({"function_tool_result", "output_tool_result"})
#: Known kinds that change nothing a pane shows.
_QUIET: Final = frozenset(
    {
        "enqueued_messages",
        "tool_availability_delta",
        "capability_load_delta",
        "model_settings_delta",
        "deferred_tool_requests",
        "builtin_tool_call",
        "builtin_tool_result",
    }
)
KINDS: Final = _MODEL_EVENTS | _TOOL_CALLS | _TOOL_RESULTS | _QUIET | {"agent_run_result"}
_DRAIN_NOTE: Final = (
    "run result published; PydanticAI keeps the workflow running until a subscriber acknowledges it "
    "(AgentEventStream drain_timeout, 30 s by default); wfwatch only watches and does not acknowledge"
)
#: Model events that change nothing a pane shows (a part's end; the output is final): decided by their kind.
_ENDS: Final = frozenset({"part_end", "final_result"})
#: Part kinds whose text is streamed: answer text and reasoning.
_CHANNEL: Final[dict[str, Channel]] = {"text": "answer", "thinking": "reasoning"}


def looks_like(data: Any) -> bool:
    """A PydanticAI event: an object whose ``event_kind`` is one of the kinds it publishes."""
    if not isinstance(data, dict):
        return False
    kind = data.get("event_kind")
    return isinstance(kind, str) and kind in KINDS  # a JSON array or object is not hashable


class PydanticAIAdapter:
    schema = SCHEMA
    #: The field an item names its type by.
    type_field = "event_kind"

    def __init__(self, lane: str, turns_before: int = 0) -> None:
        self._fold = Fold(lane, turns_before)

    def gap(self) -> None:
        self._fold.forget_call()

    def translate_head(self, offset: int, head: ItemHead) -> tuple[Event, ...] | None:
        kind = head.event_kind
        if kind == "part_delta":  # most of a stream: checked first
            delta = head.delta
            if type(delta) is not TextPartDelta:
                return self._fold.delta(offset, "", None)
            channel = _CHANNEL.get(delta.part_delta_kind) if delta.part_delta_kind is not None else None
            return self._fold.delta(offset, text_of(delta.content_delta) if channel is not None else "", channel)
        if kind in _QUIET or kind in _ENDS:
            return ()
        return None

    def translate(self, offset: int, data: Any) -> tuple[Event, ...] | None:
        if not isinstance(data, dict):
            return None
        kind = data.get("event_kind")
        if not isinstance(kind, str):
            return None
        if kind == "part_delta":  # most of a stream: checked first
            delta = data.get("delta")
            if not isinstance(delta, dict):
                return self._fold.delta(offset, "", None)
            part_kind = delta.get("part_delta_kind")
            channel = _CHANNEL.get(part_kind) if isinstance(part_kind, str) else None
            text = text_of(delta.get("content_delta")) if channel is not None else ""
            return self._fold.delta(offset, text, channel)
        fold = self._fold
        out: list[Event] = []
        if kind == "part_start":
            index = data.get("index")
            index = index if isinstance(index, int) and not isinstance(index, bool) else 0
            call = fold.call
            if call is None or call.closed:
                call = fold.new_call(offset, out)
            elif call.opened_parts and index <= max(call.opened_parts):
                call = fold.retry_call(out)
            call.opened_parts.add(index)
            part = _obj(data.get("part"))
            channel = _CHANNEL.get(str(part.get("part_kind")))
            if channel is not None:
                fold.token(out, text_of(part.get("content")), channel)
            return tuple(out)
        if kind in _ENDS:
            return ()
        if kind in _TOOL_CALLS:
            fold.close_call(out)
            part = _obj(data.get("part"))
            fold.tool_call(
                out, text_of(part.get("tool_call_id")), text_of(part.get("tool_name")) or "?", text_of(part.get("args"))
            )
            return tuple(out)
        if kind in _TOOL_RESULTS:
            fold.close_call(out)
            part = _obj(data.get("result")) or _obj(data.get("part"))
            content = data.get("content") if data.get("content") is not None else part.get("content")
            ok = part.get("part_kind", "tool-return") == "tool-return"
            fold.tool_result(out, text_of(part.get("tool_call_id")), ok, text_of(content))
            return tuple(out)
        if kind == "agent_run_result":
            # The workflow stays open until a subscriber signals it consumed this event (or
            # drain_timeout passes): say so, rather than look finished while it is Running.
            fold.end_turn(out, reason=_DRAIN_NOTE if data.get("drain_token") else "")
            return tuple(out)
        if kind in _QUIET:
            return ()
        return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
