"""The wfwatch event model: what an agent session publishes into its stream.

Events are small typed records that travel as JSON objects (one per Workflow
Streams item, on the topic :data:`TOPIC`). The schema is documented in
``docs/events.md`` so that other publishers can emit it.

This module imports nothing from Temporal or Textual: it is pure data plus a
codec, usable from workflows, activities, the hub, the TUI and scripts alike.

Decoding never raises into a viewer. An item that is not a wfwatch event
becomes :class:`UnknownItem` (valid JSON of another shape, or another topic)
or :class:`InvalidItem` (bytes that are not JSON at all), each keeping its
offset so a view can show exactly where it sits in the log.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Final, Literal

import msgspec

#: Version of the event schema this code writes. Readers accept any version:
#: unknown fields are ignored, unknown kinds become :class:`UnknownItem`.
SCHEMA_VERSION: Final = 1

#: The Workflow Streams topic wfwatch events travel on.
TOPIC: Final = "wfwatch"

#: The lane of the session's own agent; sub-agents get lanes of their own.
MAIN_LANE: Final = "main"

Channel = Literal["answer", "reasoning"]
Status = Literal["running", "completed", "failed", "cancelled"]

#: Ranges of the numeric fields, checked at decode (docs/events.md). A value
#: outside its range makes the item an :class:`UnknownItem` naming the field:
#: an ``attempt`` of ``10**400`` would otherwise supersede every real attempt
#: of its message, a negative ``index`` would put a sub-agent before ``main``.
MAX_VERSION: Final = 2**31 - 1
MAX_TURN: Final = 2**31 - 1
#: Retries of one LLM call; far more than any retry policy makes in practice.
MAX_ATTEMPT: Final = 10_000
#: Announced lanes sort before unannounced ones (the reducer gives those 1,000,000 + offset).
MAX_LANE_INDEX: Final = 999_999
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_VERSION)]
TurnNumber = Annotated[int, msgspec.Meta(ge=0, le=MAX_TURN)]
Attempt = Annotated[int, msgspec.Meta(ge=1, le=MAX_ATTEMPT)]
#: An error's attempt: 0 when the error belongs to no attempt.
ErrorAttempt = Annotated[int, msgspec.Meta(ge=0, le=MAX_ATTEMPT)]
LaneIndex = Annotated[int, msgspec.Meta(ge=0, le=MAX_LANE_INDEX)]
#: A finite number >= 0 (``ts`` seconds, ``duration_ms``): NaN and infinity fail the bounds.
NonNegative = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]


class _Event(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, gc=False):
    """Fields every event carries.

    ``ts`` is the publisher's wall clock (Unix seconds) at publish time; it is
    informational (latency measurement, display) and never used for ordering:
    the stream offset is the order.
    """

    v: Version = SCHEMA_VERSION
    ts: NonNegative = 0.0
    lane: str = MAIN_LANE
    turn: TurnNumber = 0


class SessionStarted(_Event, tag="session_started", frozen=True):
    session_id: str
    title: str = ""


class SessionFinished(_Event, tag="session_finished", frozen=True):
    status: Status = "completed"
    reason: str = ""


class TurnStarted(_Event, tag="turn_started", frozen=True):
    """A new turn begins; ``user_message`` is what the user asked."""

    user_message: str = ""


class TurnFinished(_Event, tag="turn_finished", frozen=True):
    status: Status = "completed"
    reason: str = ""


class StepStarted(_Event, tag="step_started", frozen=True):
    step_id: str
    name: str


class StepFinished(_Event, tag="step_finished", frozen=True):
    step_id: str
    status: Status = "completed"
    #: ``None`` when the publisher did not measure it (a framework's stream carries no times).
    duration_ms: NonNegative | None = 0.0
    reason: str = ""


class AttemptStarted(_Event, tag="attempt_started", frozen=True):
    """An LLM call (re)starts streaming message ``message_id``.

    The workflow assigns ``message_id`` and it is identical across retries;
    ``attempt`` counts from 1. Readers show only the highest attempt of a
    message; earlier attempts are superseded (kept in the raw view).
    """

    message_id: str
    attempt: Attempt = 1
    step_id: str = ""


class TokenDelta(_Event, tag="token", frozen=True):
    """A piece of streamed model output; ``channel`` keeps reasoning apart."""

    message_id: str
    text: str
    attempt: Attempt = 1
    channel: Channel = "answer"


class MessageFinished(_Event, tag="message_finished", frozen=True):
    message_id: str
    attempt: Attempt = 1


class ToolCall(_Event, tag="tool_call", frozen=True):
    call_id: str
    name: str
    arguments: str = ""


class ToolResult(_Event, tag="tool_result", frozen=True):
    call_id: str
    ok: bool = True
    result: str = ""


class SubagentSpawned(_Event, tag="subagent_spawned", frozen=True):
    """A child agent got lane ``lane``; ``index`` fixes lane order for everyone."""

    name: str
    workflow_id: str = ""
    index: LaneIndex = 0


class SubagentFinished(_Event, tag="subagent_finished", frozen=True):
    status: Status = "completed"
    reason: str = ""


class ErrorEvent(_Event, tag="error", frozen=True):
    message: str
    retryable: bool = False
    message_id: str = ""
    attempt: ErrorAttempt = 0


Event = (
    SessionStarted
    | SessionFinished
    | TurnStarted
    | TurnFinished
    | StepStarted
    | StepFinished
    | AttemptStarted
    | TokenDelta
    | MessageFinished
    | ToolCall
    | ToolResult
    | SubagentSpawned
    | SubagentFinished
    | ErrorEvent
)

EVENT_TYPES: Final[tuple[type[_Event], ...]] = (
    SessionStarted,
    SessionFinished,
    TurnStarted,
    TurnFinished,
    StepStarted,
    StepFinished,
    AttemptStarted,
    TokenDelta,
    MessageFinished,
    ToolCall,
    ToolResult,
    SubagentSpawned,
    SubagentFinished,
    ErrorEvent,
)


class TextPartDelta(msgspec.Struct, frozen=True, gc=False):
    """PydanticAI's ``part_delta.delta``: the fields its fold reads."""

    part_delta_kind: str | None = None
    content_delta: str | None = None


class ItemHead(msgspec.Struct, frozen=True, gc=False):
    """The few fields of a foreign JSON object that framework folds read on every item.

    Most of a framework's stream is text deltas. Decoding each one whole
    builds dicts (and lists) the cyclic collector then walks again and again;
    decoding only these fields into an untracked struct, and the rest of the
    object on demand (:meth:`UnknownItem.value`), is what keeps a framework's
    stream close to wfwatch's own in cost (``benchmarks/framework_reduce.py``).
    An object whose fields here have other JSON types is decoded whole instead.
    """

    #: The type field of the OpenAI Responses stream and the Agents SDK's run items.
    type: str | None = None
    #: PydanticAI's type field.
    event_kind: str | None = None
    #: Another publisher's own ``kind`` (only the wfwatch topic's kinds are wfwatch's).
    kind: str | None = None
    #: A text delta: a string (OpenAI) or an object (PydanticAI).
    delta: str | TextPartDelta | None = None


class UnknownItem(msgspec.Struct, frozen=True, gc=False):
    """A well-formed item that is not a wfwatch event we understand.

    Another publisher's item, another topic, an event kind from a newer
    schema, or a wfwatch event whose fields have the wrong types.
    ``data`` is the decoded JSON (or ``None`` when the payload is not JSON
    but was not meant to be: e.g. binary on a foreign topic). A JSON object
    on a foreign topic is kept as its bytes (``msgspec.Raw``) with its
    :class:`ItemHead` decoded: read the value with :meth:`value`.
    """

    topic: str
    data: Any = None
    kind: str = ""
    reason: str = ""
    head: ItemHead | None = None

    def value(self) -> Any:
        """The payload's JSON value, decoded now when it was kept as bytes.

        ``None`` for the one payload the head decode lets through that a whole
        decode refuses: a number beyond a float's range (``1e400``).
        """
        data = self.data
        if type(data) is msgspec.Raw:
            try:
                return _any_decoder.decode(data)
            except msgspec.DecodeError:
                return None
        return data

    def type_name(self) -> tuple[str, str] | None:
        """``(field, type)`` of the payload's first type-naming field, as :func:`type_field` finds it."""
        head = self.head
        if head is None:
            return type_field(self.data)
        for key, found in (("kind", head.kind), ("type", head.type), ("event_kind", head.event_kind)):
            if found is not None:
                return key, found
        return None


class InvalidItem(msgspec.Struct, frozen=True, gc=False):
    """An item on the wfwatch topic whose bytes are not JSON."""

    topic: str
    reason: str
    preview: str = ""


Decoded = Event | UnknownItem | InvalidItem


class Record(msgspec.Struct, frozen=True, gc=False):
    """One log position as a reader sees it: the offset and what sits there.

    ``derived`` holds the wfwatch events an item in another framework's
    schema stands for (see :mod:`wfwatch.schemas`); the item itself stays
    as it was read, for raw views.
    """

    offset: int
    item: Decoded
    derived: tuple[Event, ...] = ()
    #: The framework schema that knew the item (``derived``, possibly empty, is what it means).
    schema: str = ""


_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)
_any_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_head_decoder: msgspec.json.Decoder[ItemHead] = msgspec.json.Decoder(ItemHead)
_KINDS: Final = frozenset(t.__struct_config__.tag for t in EVENT_TYPES)

PREVIEW_CHARS: Final = 200


def encode(event: Event) -> bytes:
    """Encode one event as compact JSON bytes (the wire form)."""
    return _encoder.encode(event)


def to_dict(event: Event) -> dict[str, Any]:
    """The JSON object of an event, as the schema documents it."""
    result: dict[str, Any] = msgspec.to_builtins(event)
    return result


def decode(data: bytes | str, topic: str = TOPIC) -> Decoded:
    """Decode one item's bytes; never raises.

    Items on other topics are returned as :class:`UnknownItem` with their
    JSON decoded when possible, so generic streams still render something.
    """
    if topic == TOPIC:
        try:
            return _decoder.decode(data)
        except msgspec.ValidationError as err:
            return _unknown(data, topic, str(err))
        except (msgspec.DecodeError, RecursionError, UnicodeError) as err:
            return InvalidItem(topic=topic, reason=_reason(err), preview=_preview(data))
    raw = data.encode() if isinstance(data, str) else data
    try:
        if not raw.isascii():
            raw.decode()  # the head decoder skips other fields' strings without checking their UTF-8
        head = _head_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        # Not an object, a head field of another JSON type, or not JSON: decoded whole, as before.
        return _unknown(data, topic, _foreign_topic(topic))
    return UnknownItem(
        topic=topic,
        data=msgspec.Raw(raw),
        kind=head.kind or "",
        reason=_foreign_topic(topic),
        head=head,
    )


def decode_value(value: Any, topic: str = TOPIC) -> Decoded:
    """Decode an already-parsed JSON value (e.g. from a generic JSON reader)."""
    if isinstance(value, (bytes, str)):
        return decode(value, topic)
    if topic == TOPIC and isinstance(value, dict):
        try:
            event: Event = msgspec.convert(value, Event)
            return event
        except msgspec.ValidationError as err:
            return UnknownItem(topic=topic, data=value, kind=_kind_of(value), reason=str(err))
    reason = "not a wfwatch event" if topic == TOPIC else _foreign_topic(topic)
    return UnknownItem(topic=topic, data=value, kind=_kind_of(value), reason=reason)


def _unknown(data: bytes | str, topic: str, reason: str) -> UnknownItem | InvalidItem:
    try:
        value = _any_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError, UnicodeError) as err:
        if topic == TOPIC:
            return InvalidItem(topic=topic, reason=_reason(err), preview=_preview(data))
        return UnknownItem(topic=topic, data=None, reason=f"{reason} (and not JSON: {_reason(err)})")
    kind = _kind_of(value)
    # Only the wfwatch topic has event kinds: elsewhere a "kind" is the other publisher's own field.
    if topic == TOPIC and kind and kind not in _KINDS:
        reason = f"unknown event kind {kind!r}"
    return UnknownItem(topic=topic, data=value, kind=kind, reason=reason)


def _foreign_topic(topic: str) -> str:
    # Built once per topic: every item of a framework's stream passes here.
    reason = _FOREIGN_REASONS.get(topic)
    if reason is None:
        reason = f"topic {topic!r} is not {TOPIC!r}"
        if len(_FOREIGN_REASONS) < 1024:
            _FOREIGN_REASONS[topic] = reason
    return reason


_FOREIGN_REASONS: dict[str, str] = {}


def _reason(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "JSON nested too deeply"
    if isinstance(err, UnicodeError):
        return "text is not valid Unicode"
    return str(err)


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("kind")
        if isinstance(kind, str):
            return kind
    return ""


def _preview(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[:PREVIEW_CHARS].encode("utf-8", "replace").decode("utf-8")


def kind_of(item: Decoded) -> str:
    """A short name for any decoded item: the event kind, or unknown/invalid."""
    if isinstance(item, UnknownItem):
        return "unknown"
    if isinstance(item, InvalidItem):
        return "invalid"
    tag = type(item).__struct_config__.tag
    return str(tag)


#: Fields other publishers name an item's type by, in the order looked for.
TYPE_FIELDS: Final = ("kind", "type", "event_kind")


def type_field(value: Any) -> tuple[str, str] | None:
    """``(field, type)`` of the first type-naming field of a JSON object, if any."""
    if isinstance(value, dict):
        for key in TYPE_FIELDS:
            found = value.get(key)
            if isinstance(found, str):
                return key, found
    return None


def payload_preview(item: UnknownItem) -> str:
    """An unknown item's payload as one line, cut at ``PREVIEW_CHARS``.

    The field that names the item's type (``type``, ``event_kind``, ...)
    comes first, so a long event's kind is never the part that is cut off.
    """
    data = item.value()
    if data is None and type(item.data) is msgspec.Raw:
        data = bytes(item.data).decode()  # kept as bytes but beyond a whole decode: shown as it came
    named = type_field(data)
    if named is not None:
        key, kind = named
        data = {key: kind, **{k: v for k, v in data.items() if k != key}}
    try:
        shown = json.dumps(data, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        shown = repr(data)
    return shown[:PREVIEW_CHARS] + "…" if len(shown) > PREVIEW_CHARS else shown


def summarize(item: Decoded) -> str:
    """A one-line description of an item, for raw views and ``tail``.

    The result is plain text; callers that render it must still treat it
    as untrusted (see :mod:`wfwatch.text`).
    """
    if isinstance(item, InvalidItem):
        return f"invalid ({item.reason}): {item.preview!r}"
    if isinstance(item, UnknownItem):
        kind = f" {item.kind}" if item.kind else ""
        return f"unknown{kind} on {item.topic!r}: {payload_preview(item)}"
    fields = to_dict(item)
    for key in ("kind", "v", "ts"):
        fields.pop(key, None)
    parts = [f"{key}={value!r}" for key, value in fields.items()]
    return f"{kind_of(item)} " + " ".join(parts)
