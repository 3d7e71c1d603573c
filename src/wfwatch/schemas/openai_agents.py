"""The OpenAI Agents SDK's model stream (``temporalio.openai_agents``).

With ``ModelActivityParameters(streaming_topic=...)`` the model activity
publishes every native OpenAI Responses stream event (each with a ``type``
such as ``response.output_text.delta`` and a ``sequence_number``) to that
topic. Nothing else is published: tool results and the agent's name are not
in the stream.

How a retry shows: a retried model activity republishes from its first
event, so a ``response.created`` arriving while the previous response never
reached ``response.completed`` (or ``failed`` / ``incomplete``) is the next
attempt of the same model call. Its limit: an attempt that failed after
``response.completed`` was published cannot be told from a new model call.

Turns: a ``response.completed`` whose output holds no function call ends
the agent run; the next ``response.created`` opens the next turn. A handoff
is a ``transfer_to_<agent>`` function call; the model calls after it, until
the turn ends, go to a lane named after that agent.
"""

from __future__ import annotations

import re
from typing import Any, Final

from wfwatch import events
from wfwatch.events import Event, ItemHead
from wfwatch.schemas import text_of
from wfwatch.schemas._fold import Fold

SCHEMA: Final = "openai-agents"

_ANSWER: Final = frozenset({"response.output_text.delta", "response.refusal.delta"})
_REASONING: Final = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})
#: Which channel each text delta type streams into.
_DELTAS: Final[dict[str, events.Channel]] = {
    **{kind: "answer" for kind in _ANSWER},
    **{kind: "reasoning" for kind in _REASONING},
}
#: Known types that change nothing a pane shows (their content arrives in deltas or at completion).
_QUIET: Final = frozenset(
    {
        "response.in_progress",
        "response.queued",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
    }
)
_HANDOFF: Final = "transfer_to_"


def looks_like(data: Any) -> bool:
    """An OpenAI Responses stream event: a ``response.*`` type and a ``sequence_number``."""
    if not isinstance(data, dict) or "sequence_number" not in data:
        return False
    kind = data.get("type")
    return isinstance(kind, str) and (kind.startswith("response.") or kind == "error")


class OpenAIAgentsAdapter:
    schema = SCHEMA
    #: The field an item names its type by.
    type_field = "type"

    def __init__(self, lane: str, turns_before: int = 0) -> None:
        self._fold = Fold(lane, turns_before)
        self._pending_handoff: str | None = None

    def gap(self) -> None:
        self._fold.forget_call()

    def translate_head(self, offset: int, head: ItemHead) -> tuple[Event, ...] | None:
        kind = head.type
        if kind is None:
            return None
        channel = _DELTAS.get(kind)
        if channel is not None:  # most of a stream: checked first
            delta = head.delta
            if delta is None or type(delta) is str:
                return self._fold.delta(offset, text_of(delta), channel)
            return None  # an object where the text goes: the whole item shows it as JSON
        if kind in _QUIET:
            return ()
        return None

    def translate(self, offset: int, data: Any) -> tuple[Event, ...] | None:
        if not isinstance(data, dict):
            return None
        kind = data.get("type")
        if not isinstance(kind, str):
            return None  # a JSON array or object is not hashable: no set lookup
        channel = _DELTAS.get(kind)
        if channel is not None:  # most of a stream: checked first
            return self._fold.delta(offset, text_of(data.get("delta")), channel)
        fold = self._fold
        out: list[Event] = []
        if kind == "response.created":
            call = fold.call
            if call is not None and not call.closed:
                fold.retry_call(out)
            else:
                if self._pending_handoff is not None:
                    fold.finish_tools(out)
                    fold.enter_lane(self._pending_handoff, out)
                    self._pending_handoff = None
                fold.new_call(offset, out, name=_model_name(data))
            return tuple(out)
        if kind == "response.completed":
            self._completed(out, _obj(data.get("response")))
            return tuple(out)
        if kind in ("response.failed", "response.incomplete"):
            response = _obj(data.get("response"))
            reason = text_of(_obj(response.get("error")).get("message")) or text_of(
                _obj(response.get("incomplete_details")).get("reason")
            )
            fold.error(out, f"{kind}: {reason}" if reason else kind)
            fold.close_call(out, status="failed", reason=reason)
            return tuple(out)
        if kind == "error":
            fold.error(out, text_of(data.get("message")) or "error")
            return tuple(out)
        if kind in _QUIET:
            return ()
        return None

    def _completed(self, out: list[Event], response: dict[str, Any]) -> None:
        fold = self._fold
        if fold.call is None or fold.call.closed:
            return
        fold.close_call(out)
        calls = [item for item in _list(response.get("output")) if _obj(item).get("type") == "function_call"]
        for item in calls:
            name = text_of(item.get("name")) or "?"
            call_id = text_of(item.get("call_id")) or text_of(item.get("id"))
            fold.tool_call(out, call_id, name, text_of(item.get("arguments")))
            if name.startswith(_HANDOFF) and len(name) > len(_HANDOFF):
                self._pending_handoff = name[len(_HANDOFF) :]
                fold.tool_result(out, call_id, True, f"handed off to {self._pending_handoff}")
        if not calls:
            self._pending_handoff = None
            fold.end_turn(out)


def agent_lane(agent: str) -> str:
    """The lane of an agent: its name as the SDK spells it in ``transfer_to_<name>`` handoff tools."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", re.sub(r"\s", "_", agent)).lower()


def _model_name(data: dict[str, Any]) -> str:
    model = text_of(_obj(data.get("response")).get("model"))
    return f"model {model}" if model else "model"


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# --- the Agents SDK's run items, as apps publish them beside the model stream ---------

ITEMS_SCHEMA: Final = "openai-agents-items"
_ITEM_EVENTS: Final = frozenset({"run_item_stream_event", "agent_updated_stream_event", "raw_response_event"})


def looks_like_items(data: Any) -> bool:
    """An Agents SDK ``StreamEvent`` from ``RunResultStreaming.stream_events()``, published by the app."""
    if not isinstance(data, dict):
        return False
    kind = data.get("type")
    return isinstance(kind, str) and kind in _ITEM_EVENTS and "sequence_number" not in data


class OpenAIAgentsItemsAdapter:
    """What the model stream lacks: tool outputs, from the run items an app publishes.

    The Agents SDK's ``stream_events()`` run items name the agent that made
    them and carry tool outputs (``tool_output``, ``handoff_occured``). They
    add tool results to the calls the model stream announced; everything
    else in them (reasoning, messages) the model stream already showed, so it
    is not shown twice. The starting agent's items belong to the main lane,
    another agent's to the lane of its name (the lane a handoff opened).
    """

    schema = ITEMS_SCHEMA
    type_field = "type"
    #: Rides beside a model stream: never the session's own (main) topic.
    auxiliary = True

    def __init__(self, lane: str, turns_before: int = 0) -> None:
        self._starting_agent: str | None = None

    def gap(self) -> None:
        """Tool outputs name their call: nothing to forget across a gap."""

    def translate_head(self, offset: int, head: ItemHead) -> tuple[Event, ...] | None:
        """Every item may name the starting agent: read whole (the topic is small)."""
        return None

    def translate(self, offset: int, data: Any) -> tuple[Event, ...] | None:
        if not isinstance(data, dict):
            return None
        kind = data.get("type")
        if not isinstance(kind, str):
            return None
        agent = text_of(data.get("agent"))
        if self._starting_agent is None and agent:
            self._starting_agent = agent
        if kind != "run_item_stream_event":
            return () if kind in _ITEM_EVENTS else None
        if data.get("name") not in ("tool_output", "handoff_occured"):
            return ()
        raw = _obj(data.get("raw_item"))
        call_id = text_of(raw.get("call_id"))
        if not call_id:
            return ()
        lane = events.MAIN_LANE if not agent or agent == self._starting_agent else agent_lane(agent)
        ok = raw.get("status") not in ("failed", "incomplete")
        return (
            events.ToolResult(lane=lane, call_id=call_id, ok=ok, result=text_of(raw.get("output"))),
            events.StepFinished(
                lane=lane,
                step_id=f"{lane}:tool:{call_id}",
                status="completed" if ok else "failed",
                duration_ms=None,
            ),
        )
