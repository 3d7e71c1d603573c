"""The event model and its codec: round trips, and decode never raising."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfwatch import events
from wfwatch.events import (
    EVENT_TYPES,
    MAIN_LANE,
    PREVIEW_CHARS,
    SCHEMA_VERSION,
    TOPIC,
    AttemptStarted,
    ErrorEvent,
    InvalidItem,
    MessageFinished,
    Record,
    SessionFinished,
    SessionStarted,
    StepFinished,
    StepStarted,
    SubagentFinished,
    SubagentSpawned,
    TokenDelta,
    ToolCall,
    ToolResult,
    TurnFinished,
    TurnStarted,
    UnknownItem,
    decode,
    decode_value,
    encode,
    kind_of,
    summarize,
    to_dict,
)

# One hand-written instance per event type, every field away from its default.
SAMPLES: dict[Any, Any] = {
    SessionStarted: SessionStarted(session_id="s-1", title="Plan a trip", ts=1.5, turn=0),
    SessionFinished: SessionFinished(status="failed", reason="boom", ts=2.0),
    TurnStarted: TurnStarted(user_message="hello ✨", turn=3),
    TurnFinished: TurnFinished(status="cancelled", reason="user", turn=3),
    StepStarted: StepStarted(step_id="st-1", name="search", lane="sub-1", turn=1),
    StepFinished: StepFinished(step_id="st-1", status="failed", duration_ms=12.5, reason="timeout"),
    AttemptStarted: AttemptStarted(message_id="m-1", attempt=2, step_id="st-1"),
    TokenDelta: TokenDelta(message_id="m-1", text='Hi\n"there"', attempt=2, channel="reasoning"),
    MessageFinished: MessageFinished(message_id="m-1", attempt=3),
    ToolCall: ToolCall(call_id="c-1", name="grep", arguments='{"q": "x"}'),
    ToolResult: ToolResult(call_id="c-1", ok=False, result="not found"),
    SubagentSpawned: SubagentSpawned(name="researcher", workflow_id="wf-9", index=4, lane="sub-4"),
    SubagentFinished: SubagentFinished(status="failed", reason="crashed", lane="sub-4"),
    ErrorEvent: ErrorEvent(message="rate limited", retryable=True, message_id="m-1", attempt=1),
}


def test_samples_cover_every_event_type() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_round_trip_sample(event_type: Any) -> None:
    event = SAMPLES[event_type]
    wire = encode(event)
    assert isinstance(wire, bytes)
    assert decode(wire) == event
    assert decode(wire.decode()) == event  # str payloads decode too
    assert type(decode(wire)) is event_type
    # The wire form is the documented JSON object.
    obj = json.loads(wire)
    assert obj == to_dict(event)
    assert obj["kind"] == event_type.__struct_config__.tag
    assert obj["v"] == SCHEMA_VERSION
    assert decode_value(obj) == event


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_defaults_apply_when_fields_are_omitted(event_type: Any) -> None:
    info = mi.type_info(event_type)
    assert isinstance(info, mi.StructType)
    minimal = {"kind": event_type.__struct_config__.tag}
    minimal |= {f.name: "x" for f in info.fields if f.required}
    event: Any = decode(json.dumps(minimal))
    assert type(event) is event_type
    assert event.v == SCHEMA_VERSION
    assert event.ts == 0.0
    assert event.lane == MAIN_LANE
    assert event.turn == 0


# --- generated round trips -----------------------------------------------------

_floats = st.floats(allow_nan=False, allow_infinity=False)
_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _strategy_for(t: mi.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.StrType):
        return st.text()
    if isinstance(t, mi.IntType):  # within the field's documented range
        return st.integers(min_value=t.ge, max_value=t.le) if t.ge is not None or t.le is not None else _ints
    if isinstance(t, mi.FloatType):
        return st.floats(min_value=t.ge, max_value=t.le) if t.ge is not None or t.le is not None else _floats
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.UnionType):
        return st.one_of([_strategy_for(member) for member in t.types])
    raise AssertionError(f"no strategy for {t!r}; extend the test")


def _event_strategy(event_type: type) -> st.SearchStrategy[Any]:
    info = mi.type_info(event_type)
    assert isinstance(info, mi.StructType)
    return st.builds(event_type, **{f.name: _strategy_for(f.type) for f in info.fields})


any_event = st.one_of([_event_strategy(t) for t in EVENT_TYPES])


@settings(max_examples=200, deadline=None)
@given(any_event)
def test_round_trip_generated(event: Any) -> None:
    assert decode(encode(event)) == event
    assert decode_value(to_dict(event)) == event


# --- decode never raises ---------------------------------------------------------


def _is_decoded(item: object) -> bool:
    return isinstance(item, (UnknownItem, InvalidItem, *EVENT_TYPES))


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_decode_never_raises_on_bytes(data: bytes) -> None:
    item = decode(data)
    assert _is_decoded(item)
    assert isinstance(kind_of(item), str)
    assert isinstance(summarize(item), str)
    assert isinstance(decode(data, topic="other"), UnknownItem)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_decode_never_raises_on_text(data: str) -> None:
    item = decode(data)
    assert _is_decoded(item)
    assert isinstance(summarize(item), str)
    assert isinstance(decode(data, topic="other"), UnknownItem)


_json = st.recursive(
    st.none() | st.booleans() | _ints | _floats | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["kind", "message_id", "text", "attempt", "lane", "v", "x"]), _json))
def test_decode_never_raises_on_event_like_json(obj: dict[str, Any]) -> None:
    """JSON objects near the schema: every outcome is an event or UnknownItem."""
    item = decode(json.dumps(obj))
    assert isinstance(item, (UnknownItem, *EVENT_TYPES))
    if isinstance(item, UnknownItem):
        assert item.data == obj
        assert item.reason
    assert isinstance(summarize(item), str)
    assert isinstance(decode_value(obj), (UnknownItem, *EVENT_TYPES))


def test_not_json_is_invalid_item_with_preview() -> None:
    item = decode(b"\xff not json" + b"x" * 1000)
    assert isinstance(item, InvalidItem)
    assert item.topic == TOPIC
    assert item.reason
    assert len(item.preview) == PREVIEW_CHARS
    assert item.preview.startswith("\ufffd not json")


def test_empty_payload_is_invalid_item() -> None:
    assert isinstance(decode(b""), InvalidItem)


def test_unknown_kind() -> None:
    item = decode(b'{"kind": "telepathy", "v": 7, "mind": "read"}')
    assert isinstance(item, UnknownItem)
    assert item.kind == "telepathy"
    assert "telepathy" in item.reason
    assert item.data == {"kind": "telepathy", "v": 7, "mind": "read"}
    assert item.topic == TOPIC


def test_missing_kind_and_non_object_json() -> None:
    item = decode(b'{"message_id": "m", "text": "x"}')
    assert isinstance(item, UnknownItem)
    assert item.kind == ""
    assert "kind" in item.reason
    scalar = decode(b"42")
    assert isinstance(scalar, UnknownItem)
    assert scalar.data == 42
    assert isinstance(decode(b'["token"]'), UnknownItem)
    non_str_kind = decode(b'{"kind": 5}')
    assert isinstance(non_str_kind, UnknownItem)
    assert non_str_kind.kind == ""


def test_wrong_field_type_is_unknown_item() -> None:
    raw = {"kind": "token", "message_id": 17, "text": "x"}
    item = decode(json.dumps(raw))
    assert isinstance(item, UnknownItem)
    assert item.kind == "token"
    assert item.data == raw
    assert "message_id" in item.reason
    # A bad literal and a missing required field behave the same way.
    bad_channel = decode(b'{"kind": "token", "message_id": "m", "text": "x", "channel": "telepathy"}')
    assert isinstance(bad_channel, UnknownItem)
    assert "channel" in bad_channel.reason
    missing = decode(b'{"kind": "token", "message_id": "m"}')
    assert isinstance(missing, UnknownItem)
    assert "text" in missing.reason
    via_value = decode_value(raw)
    assert isinstance(via_value, UnknownItem)
    assert via_value.kind == "token"


def test_foreign_topic_is_unknown_item_with_decoded_json() -> None:
    wire = encode(TokenDelta(message_id="m", text="x"))
    item = decode(wire, topic="chat")
    assert isinstance(item, UnknownItem)
    assert item.topic == "chat"
    assert item.value() == json.loads(wire)
    assert item.kind == "token"
    assert "chat" in item.reason
    plain = decode(b'{"hello": [1, 2]}', topic="chat")
    assert isinstance(plain, UnknownItem)
    assert plain.value() == {"hello": [1, 2]}
    assert plain.kind == ""


def test_foreign_topic_binary_is_unknown_item_without_data() -> None:
    item = decode(b"\x00\x01\xff", topic="blobs")
    assert isinstance(item, UnknownItem)
    assert item.data is None
    assert item.topic == "blobs"
    assert "not JSON" in item.reason


def test_decode_value_foreign_topic_and_non_dict() -> None:
    obj = to_dict(TokenDelta(message_id="m", text="x"))
    item = decode_value(obj, topic="chat")
    assert isinstance(item, UnknownItem)
    assert item.kind == "token"
    assert item.data == obj
    listed = decode_value([1, 2])
    assert isinstance(listed, UnknownItem)
    assert listed.data == [1, 2]
    assert decode_value(encode(TokenDelta(message_id="m", text="x"))) == TokenDelta(message_id="m", text="x")


def test_big_event_and_long_token_round_trip() -> None:
    big = ToolResult(call_id="c", result="y" * 1_000_000)
    wire = encode(big)
    assert len(wire) > 1_000_000
    assert decode(wire) == big
    long_token = TokenDelta(message_id="m", text="é" * 10_000)
    assert decode(encode(long_token)) == long_token


def test_forward_compatible_extra_fields_and_newer_version() -> None:
    raw = {
        "kind": "token",
        "v": 2,
        "ts": 12.5,
        "lane": "sub-1",
        "turn": 4,
        "message_id": "m-1",
        "text": "hi",
        "attempt": 2,
        "channel": "answer",
        "importance": {"level": 9, "tags": ["a"]},
        "future_flag": True,
    }
    item = decode(json.dumps(raw))
    assert isinstance(item, TokenDelta)
    assert item.v == 2
    assert item.text == "hi"
    assert item.attempt == 2
    assert item.lane == "sub-1"
    assert item.turn == 4
    assert decode_value(raw) == item


def test_kind_of_all_categories() -> None:
    for event_type, event in SAMPLES.items():
        assert kind_of(event) == event_type.__struct_config__.tag
    assert kind_of(SAMPLES[TokenDelta]) == "token"
    assert kind_of(SAMPLES[ErrorEvent]) == "error"
    assert kind_of(decode(b'{"kind": "nope"}')) == "unknown"
    assert kind_of(decode(b"{")) == "invalid"


def test_summarize_event() -> None:
    line = summarize(TokenDelta(message_id="m-1", text="hi", lane="sub", turn=2, ts=99.0, v=3))
    assert line.startswith("token ")
    assert "message_id='m-1'" in line
    assert "text='hi'" in line
    assert "lane='sub'" in line
    assert "turn=2" in line
    # kind, v and ts are not repeated in the summary
    assert "kind=" not in line
    assert "v=" not in line
    assert "ts=" not in line
    assert "99.0" not in line
    for event in SAMPLES.values():
        assert summarize(event).startswith(kind_of(event))
        assert "\n" not in summarize(event)


def test_summarize_unknown() -> None:
    line = summarize(decode(b'{"kind": "nope", "x": 1}'))
    assert line.startswith("unknown nope on 'wfwatch': ")
    assert '"x": 1' in line
    foreign = summarize(decode(b'{"a": "b"}', topic="chat"))
    assert foreign == 'unknown on \'chat\': {"a": "b"}'
    long = summarize(decode(json.dumps({"kind": "nope", "pad": "z" * 5000})))
    assert long.endswith("…")
    assert len(long) < 400


def test_summarize_invalid() -> None:
    line = summarize(decode(b"not json at all"))
    assert line.startswith("invalid (")
    assert "'not json at all'" in line


def test_record_holds_offset_and_item() -> None:
    record = Record(7, decode(b"{"))
    assert record.offset == 7
    assert isinstance(record.item, InvalidItem)
    assert Record(7, SAMPLES[TokenDelta]) == Record(7, SAMPLES[TokenDelta])
    assert msgspec.structs.replace(record, offset=8).offset == 8


# --- decode() never raises, even on pathological input ----------------------


@pytest.mark.parametrize("topic", [TOPIC, "other"])
def test_deeply_nested_json_does_not_raise(topic: str) -> None:
    data = b"[" * 1000 + b"]" * 1000
    assert isinstance(decode(data, topic=topic), (UnknownItem, InvalidItem))


def test_str_with_lone_surrogate_does_not_raise() -> None:
    assert isinstance(decode('{"kind": "token", "text": "\ud800"}'), (UnknownItem, InvalidItem))


# --- numeric ranges (issue 13, item 5) ----------------------------------------------

_OUT_OF_RANGE = [
    ({"kind": "token", "message_id": "m", "text": "x", "attempt": 10**400}, "$.attempt"),
    ({"kind": "token", "message_id": "m", "text": "x", "attempt": -7}, "$.attempt"),
    ({"kind": "token", "message_id": "m", "text": "x", "attempt": 0}, "$.attempt"),
    ({"kind": "attempt_started", "message_id": "m", "attempt": 10_001}, "$.attempt"),
    ({"kind": "message_finished", "message_id": "m", "attempt": 2**63}, "$.attempt"),
    ({"kind": "error", "message": "x", "attempt": -1}, "$.attempt"),
    ({"kind": "turn_started", "turn": -1}, "$.turn"),
    ({"kind": "turn_started", "turn": 2**31}, "$.turn"),
    ({"kind": "subagent_spawned", "name": "x", "index": -1}, "$.index"),
    ({"kind": "subagent_spawned", "name": "x", "index": 1_000_000}, "$.index"),
    ({"kind": "session_finished", "v": -1}, "$.v"),
    ({"kind": "session_finished", "ts": -0.5}, "$.ts"),
    ({"kind": "step_finished", "step_id": "s", "duration_ms": -1}, "$.duration_ms"),
]


@pytest.mark.parametrize(("raw", "where"), _OUT_OF_RANGE)
def test_a_number_out_of_its_range_makes_an_unknown_item_that_names_the_field(raw: dict[str, Any], where: str) -> None:
    for item in (decode(json.dumps(raw)), decode_value(raw)):
        assert isinstance(item, UnknownItem), item
        assert item.kind == raw["kind"] and where in item.reason
        assert "Expected `" in item.reason  # says what was expected: `int` >= 1, <= 10000, ...


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_times_and_durations_must_be_finite(value: float) -> None:
    for raw in (
        {"kind": "session_finished", "ts": value},
        {"kind": "step_finished", "step_id": "s", "duration_ms": value},
    ):
        assert isinstance(decode_value(raw), UnknownItem)
    # JSON has no NaN or infinity; a number too big for a float is not a wfwatch event either.
    assert isinstance(decode(b'{"kind":"session_finished","ts":1e400}'), UnknownItem | InvalidItem)


def test_the_ends_of_each_range_are_accepted() -> None:
    from wfwatch.events import MAX_ATTEMPT, MAX_LANE_INDEX, MAX_TURN

    token = decode(
        json.dumps({"kind": "token", "message_id": "m", "text": "x", "attempt": MAX_ATTEMPT, "turn": MAX_TURN})
    )
    assert isinstance(token, TokenDelta) and (token.attempt, token.turn) == (10_000, 2**31 - 1)
    spawned = decode(json.dumps({"kind": "subagent_spawned", "name": "x", "index": MAX_LANE_INDEX}))
    assert isinstance(spawned, SubagentSpawned) and spawned.index == 999_999
    assert isinstance(decode(json.dumps({"kind": "error", "message": "x", "attempt": 0, "ts": 0})), ErrorEvent)


def test_a_huge_attempt_does_not_supersede_the_real_one() -> None:
    from wfwatch.reducer import reduce

    raws = [
        {"kind": "attempt_started", "message_id": "m", "attempt": 1},
        {"kind": "token", "message_id": "m", "text": "the real answer", "attempt": 1},
        {"kind": "token", "message_id": "m", "text": "forged", "attempt": 10**400},
        {"kind": "token", "message_id": "m", "text": "forged too", "attempt": -7},
        {"kind": "message_finished", "message_id": "m", "attempt": 1},
    ]
    view = reduce(Record(offset, decode(json.dumps(raw))) for offset, raw in enumerate(raws))
    assert view.lanes[0].text == "the real answer"
    [message] = view.lanes[0].messages
    assert message.attempt == 1 and message.superseded_attempts == ()
    assert [odd.offset for odd in view.odd_items] == [2, 3]


@pytest.mark.parametrize(
    "data",
    [b'{"kind": "received", "order": 7}', b'{"kind": "token", "message_id": "m", "text": "x"}', b'{"kind": 5}'],
)
def test_a_foreign_topic_item_with_a_kind_says_the_topic_is_not_wfwatch(data: bytes) -> None:
    item = decode(data, topic="orders")
    assert isinstance(item, UnknownItem)
    assert item.reason == "topic 'orders' is not 'wfwatch'"
    via_value = decode_value(json.loads(data), topic="orders")
    assert isinstance(via_value, UnknownItem)
    assert via_value.reason == "topic 'orders' is not 'wfwatch'"


def test_a_foreign_topic_item_that_is_not_json_names_the_topic_too() -> None:
    item = decode(b"\x00\x01\xff", topic="blobs")
    assert isinstance(item, UnknownItem)
    assert item.reason.startswith("topic 'blobs' is not 'wfwatch'") and "not JSON" in item.reason


def test_a_foreign_binary_wire_item_names_its_topic_too() -> None:
    import base64

    from temporalio.api.common.v1 import Payload

    from wfwatch.stream.reader import decode_wire_item

    payload = Payload(metadata={"encoding": b"binary/plain"}, data=b"\x01\x02")
    item = decode_wire_item("blobs", base64.b64encode(payload.SerializeToString()).decode())
    assert isinstance(item, UnknownItem)
    assert item.reason == "topic 'blobs' is not 'wfwatch' (binary/plain payload)"


# --- a foreign JSON object is kept as its bytes, with a typed head ------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_heads = st.fixed_dictionaries(
    {},
    optional={
        "type": st.text(max_size=30) | st.integers(),
        "event_kind": st.sampled_from(["part_delta", "part_start"]) | st.none(),
        "kind": st.text(max_size=8),
        "delta": st.text() | st.fixed_dictionaries({"content_delta": st.text(), "part_delta_kind": st.text()}),
    },
)


@settings(max_examples=300, deadline=None)
@given(head=_heads, rest=st.dictionaries(st.text(max_size=8), _json_values, max_size=5))
def test_a_foreign_object_read_from_its_head_is_the_object_decoded_whole(
    head: dict[str, Any], rest: dict[str, Any]
) -> None:
    obj = {**rest, **head}
    data = json.dumps(obj).encode()
    item = decode(data, topic="agent-events")
    assert isinstance(item, UnknownItem)
    assert item.value() == json.loads(data)
    assert item.kind == (obj["kind"] if isinstance(obj.get("kind"), str) else "")
    assert item.reason == "topic 'agent-events' is not 'wfwatch'"
    assert item.type_name() == events.type_field(obj)
    assert summarize(item) == summarize(decode_value(obj, topic="agent-events"))


def test_a_foreign_object_keeps_its_bytes_until_asked() -> None:
    data = b'{"type":"response.output_text.delta","delta":"hi","logprobs":[],"sequence_number":4}'
    item = decode(data, topic="agent-events")
    assert isinstance(item, UnknownItem) and isinstance(item.data, msgspec.Raw) and bytes(item.data) == data
    assert item.head == events.ItemHead(type="response.output_text.delta", delta="hi")
    assert item.value() == {"type": "response.output_text.delta", "delta": "hi", "logprobs": [], "sequence_number": 4}
    # A head field of another JSON type: the object is decoded whole, as every other item is.
    odd = decode(b'{"type": ["a"], "delta": 1}', topic="agent-events")
    assert isinstance(odd, UnknownItem) and odd.head is None and odd.data == {"type": ["a"], "delta": 1}


def test_bytes_that_are_not_utf8_in_a_field_the_head_skips_are_not_json() -> None:
    """The head decoder does not check the UTF-8 of strings it skips: the bytes must not be kept as JSON."""
    item = decode(b'{"type": "x", "note": "\xff\xfe"}', topic="agent-events")
    assert isinstance(item, UnknownItem) and item.data is None and item.head is None
    assert "not JSON" in item.reason and "Unicode" in item.reason


def test_a_number_beyond_a_float_in_a_skipped_field_is_shown_as_it_came() -> None:
    item = decode(b'{"type": "x", "big": 1e400}', topic="agent-events")
    assert isinstance(item, UnknownItem)
    assert item.value() is None  # what a whole decode gives such a payload: nothing, never a crash
    assert "1e400" in summarize(item)
