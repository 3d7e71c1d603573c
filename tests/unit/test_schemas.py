"""Framework streams (wfwatch.schemas) folded into the reducer's view.

The payloads are recorded from the real frameworks running on a real dev
server (scripts/record_framework_streams.py): PydanticAI through
``TemporalDurability``, the OpenAI Agents SDK through ``OpenAIAgentsPlugin``,
each with a scripted offline model, one variant of each with a model
activity that fails mid-stream and is retried by Temporal.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfwatch import events
from wfwatch.reducer import Reducer, SessionView, reduce
from wfwatch.schemas import Translator, detect
from wfwatch.tui.widgets.raw_log import render_records

RECORDINGS = Path(__file__).parent / "recordings"
FRAMEWORKS = ("pydantic_ai", "openai_agents")


def wire(data: Any) -> bytes:
    """A payload as Temporal's JSON converter writes it: compact, keys sorted."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def load(name: str, *, whole: bool = False) -> list[events.Record]:
    """A recording's records as a device decodes them from the payload bytes.

    ``whole``: with each item's JSON already decoded into ``data`` (no
    :class:`~wfwatch.events.ItemHead`), the path every other fold reads.
    """
    records = []
    for line in (RECORDINGS / f"{name}.jsonl").read_text().splitlines():
        row = json.loads(line)
        topic, data = row["topic"], row["data"]
        payload = wire(data)
        item = events.UnknownItem(topic=topic, data=json.loads(payload)) if whole else events.decode(payload, topic)
        records.append(events.Record(row["offset"], item))
    return records


def main_messages(view: SessionView) -> list[Any]:
    lane = view.lane(events.MAIN_LANE)
    assert lane is not None
    return list(lane.messages)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_clean_run_shows_reasoning_answer_and_tool_apart(framework: str) -> None:
    view = reduce(load(f"{framework}_clean"))
    assert dict(view.schemas)["agent-events"] == framework.replace("_", "-")
    assert view.odd_items == ()
    first, second = main_messages(view)
    assert first.reasoning.startswith("The customer asks about order A-1042") and first.answer == ""
    assert second.reasoning == "The lookup says shipped with DHL, 2 items. Answer briefly."
    assert second.answer.startswith("Your order A-1042 has shipped with DHL.")
    assert second.answer.endswith("let me know if anything else comes up.")
    (tool,) = view.tool_calls
    assert tool.name == "lookup_order" and json.loads(tool.arguments) == {"order_id": "A-1042"}
    assert tool.result is not None and json.loads(tool.result)["carrier"] == "DHL" and tool.ok
    assert [(step.name.split()[0], step.status) for step in view.steps] == [
        ("model", "completed"),
        ("lookup_order", "completed"),
        ("model", "completed"),
    ]
    assert [(turn.turn, turn.status) for turn in view.turns] == [(1, "completed")]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_retried_model_call_shows_only_the_attempt_that_completed(framework: str) -> None:
    clean, retried = reduce(load(f"{framework}_clean")), reduce(load(f"{framework}_retry"))
    assert retried.canonical_text() == clean.canonical_text()
    assert [(m.reasoning, m.answer) for m in main_messages(retried)] == [
        (m.reasoning, m.answer) for m in main_messages(clean)
    ]
    answer = main_messages(retried)[-1]
    assert answer.attempt == 2 and answer.superseded_attempts == (1,)
    # The stream really holds the failed attempt's deltas: the raw view keeps them, struck through.
    assert retried.record_count > clean.record_count
    raw = render_records(load(f"{framework}_retry"), retried)
    assert raw.plain.count("(superseded)") == 0  # records as read carry no derived events yet
    applied = Reducer().feed(load(f"{framework}_retry"))
    lines = render_records(applied, retried).plain.splitlines()
    superseded = [line for line in lines if line.endswith("(superseded)")]
    assert len(superseded) >= 5 and all("#1" in line and "#2" not in line for line in superseded)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_two_prompts_are_two_turns_and_a_device_joining_at_turn_two_sees_the_same_turn(framework: str) -> None:
    records = load(f"{framework}_two_turns")
    view = reduce(records)
    assert [(t.turn, t.status) for t in view.turns] == [(1, "completed"), (2, "completed")]
    second_start = view.turns[1].start_offset
    assert main_messages(view)[-1].answer.startswith("Your order B-2077")

    late = Reducer(turns_before=1)
    late.feed(r for r in records if r.offset >= second_start)
    late_view = late.view()
    assert [t.turn for t in late_view.turns] == [2]
    turn_two = [(m.message_id, m.reasoning, m.answer) for m in main_messages(view) if m.turn == 2]
    assert [(m.message_id, m.reasoning, m.answer) for m in main_messages(late_view)] == turn_two


def test_an_openai_handoff_opens_the_agents_lane() -> None:
    view = reduce(load("openai_agents_handoff"))
    assert [lane.name for lane in view.lanes] == ["main", "shipping"]
    shipping = view.lane("shipping")
    assert shipping is not None and shipping.status == "completed"
    assert shipping.text.startswith("Your order A-1042")
    names = {tool.name: tool for tool in view.tool_calls}
    assert names["transfer_to_shipping"].lane == "main"
    assert names["lookup_order"].lane == "shipping" and names["lookup_order"].result


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from([f"{f}_{v}" for f in FRAMEWORKS for v in ("clean", "retry", "two_turns")]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_split_of_a_framework_stream_gives_the_view_of_one_feed(name: str, cuts: list[int]) -> None:
    records = load(name)
    whole = reduce(records)
    split = Reducer()
    bounds = [0, *sorted(c for c in cuts if c < len(records)), len(records)]
    for start, end in itertools.pairwise(bounds):
        split.feed(records[start:end])
    # Re-delivering an earlier slice (an at-least-once transport) changes nothing either.
    split.feed(records[: len(records) // 2])
    assert split.view() == whole


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_items_rebuilt_with_other_timestamps_give_the_same_view(framework: str) -> None:
    """Items published from workflow code are rebuilt on replay: two reads can differ byte for byte."""

    def retimed(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ("2030-01-01T00:00:00Z" if "timestamp" in k or k == "created_at" else retimed(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [retimed(v) for v in value]
        return value

    records = load(f"{framework}_two_turns")
    again = [
        events.Record(r.offset, events.UnknownItem(topic=r.item.topic, data=retimed(copy.deepcopy(r.item.value()))))
        for r in records
        if isinstance(r.item, events.UnknownItem)
    ]
    assert again != records or framework == "openai_agents"
    assert reduce(again) == reduce(records)


def test_an_unknown_event_type_in_a_known_schema_is_counted_and_shown_not_dropped() -> None:
    records = load("pydantic_ai_clean")
    odd = events.Record(len(records), events.UnknownItem(topic="agent-events", data={"event_kind": "teleport", "x": 1}))
    reducer = Reducer()
    applied = reducer.feed([*records, odd])
    view = reducer.view()
    assert reducer.translator.unknown_types == {("pydantic-ai", "teleport"): 1}
    (item,) = view.odd_items
    assert item.offset == len(records) and "teleport" in item.detail and "pydantic-ai" in item.detail
    assert view.canonical_text() == reduce(records).canonical_text()
    assert "teleport" in render_records(applied[-1:], view).plain


@pytest.mark.parametrize("whole", [False, True], ids=["as read", "decoded whole"])
def test_bad_input_on_a_framework_topic_is_a_clear_row_and_literal_text(whole: bool) -> None:
    records = load("pydantic_ai_clean", whole=whole)
    head = len(records)
    hostile_args = '{"q": "[red]x[/red] \x1b]0;pwned\x07 \x1b[2J \u202e"}'

    def item(data: Any) -> events.Decoded:
        payload = wire(data)
        if whole:
            return events.UnknownItem(topic="agent-events", data=json.loads(payload))
        return events.decode(payload, "agent-events")

    extra = [
        # Bytes that are not JSON on the topic (a truncated payload).
        events.Record(head, events.decode(b'{"event_kind": "part_delta", "ind', "agent-events")),
        events.Record(head + 1, item(["not", "an", "object"])),
        events.Record(
            head + 2,
            item(
                {
                    "event_kind": "function_tool_call",
                    "part": {"tool_name": "[b]t", "args": hostile_args, "tool_call_id": "c9"},
                },
            ),
        ),
        events.Record(
            head + 3,
            item(
                {
                    "event_kind": "function_tool_result",
                    "result": {
                        "tool_name": "t",
                        "content": "x" * 1_000_000,
                        "tool_call_id": "c9",
                        "part_kind": "tool-return",
                    },
                },
            ),
        ),
        events.Record(head + 4, item({"event_kind": "part_delta", "index": "zero", "delta": 7})),
        # Markup and escapes in a streamed delta, and one whose text is not a string.
        events.Record(head + 5, item({"event_kind": "part_start", "index": 0, "part": {"part_kind": "text"}})),
        events.Record(
            head + 6,
            item(
                {
                    "event_kind": "part_delta",
                    "index": 0,
                    "delta": {"part_delta_kind": "text", "content_delta": hostile_args},
                }
            ),
        ),
        events.Record(
            head + 7,
            item({"event_kind": "part_delta", "index": 0, "delta": {"part_delta_kind": "text", "content_delta": [1]}}),
        ),
    ]
    reducer = Reducer()
    applied = reducer.feed([*records, *extra])
    view = reducer.view()
    assert [o.offset for o in view.odd_items] == [head, head + 1]
    assert "not JSON" in view.odd_items[0].detail
    hostile = {tool.call_id: tool for tool in view.tool_calls}["c9"]
    assert hostile.name == "[b]t" and hostile.arguments == hostile_args and len(hostile.result or "") == 1_000_000
    shown = render_records(applied, view).plain
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown and "[red]x[/red]" in shown
    assert main_messages(view)[-1].answer == hostile_args + "[1]"  # literal text; a non-string delta as its JSON


ALL_RECORDINGS = sorted(path.stem for path in RECORDINGS.glob("*.jsonl"))


@pytest.mark.parametrize("name", ALL_RECORDINGS)
def test_a_fold_from_the_head_alone_equals_one_from_the_whole_object(name: str) -> None:
    """Devices fold most items from their typed head; every item read whole must give the same view and rows."""
    read, whole = load(name), load(name, whole=True)
    for as_read, decoded in zip(read, whole, strict=True):
        assert isinstance(as_read.item, events.UnknownItem) and isinstance(decoded.item, events.UnknownItem)
        assert as_read.item.head is not None and as_read.item.value() == decoded.item.value()
    fast, slow = Reducer(), Reducer()
    applied_fast, applied_slow = fast.feed(read), slow.feed(whole)
    assert fast.view() == slow.view()
    assert [(r.derived, r.schema) for r in applied_fast] == [(r.derived, r.schema) for r in applied_slow]
    assert render_records(applied_fast, fast.view()).plain == render_records(applied_slow, slow.view()).plain


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_framework_stream_leaves_nothing_for_the_cyclic_collector(framework: str) -> None:
    """Decoded deltas are untracked structs and bytes: no dict or list for the collector to walk again and again.

    (Decoding every item whole tracked ~1.4 objects an item and made the collector a
    tenth of a framework stream's cost; ``benchmarks/framework_reduce.py``.)
    """
    import gc

    records = load(f"{framework}_two_turns")
    deltas = [r for r in records if (r.item.head.type or r.item.head.event_kind or "").endswith("delta")]  # type: ignore[union-attr]
    assert len(deltas) > len(records) // 2
    for record in deltas:
        item = record.item
        assert isinstance(item, events.UnknownItem) and item.head is not None
        assert not any(gc.is_tracked(obj) for obj in (record, item, item.data, item.head, item.head.delta))


def test_other_streams_stay_generic() -> None:
    for data in ({"kind": "received", "n": 1}, {"type": "order.paid"}, {"event_kind": "mine"}, [1, 2], "text"):
        assert detect(data) is None
        record = events.Record(0, events.UnknownItem(topic="orders", data=data))
        translated, known = Translator().translate(record)
        assert not known and translated == record
    view = reduce([events.Record(0, events.UnknownItem(topic="orders", data={"kind": "received"}))])
    assert view.lanes == () and len(view.odd_items) == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_framework_steps_have_no_made_up_duration(framework: str) -> None:
    """The streams carry no times: a finished step says nothing about its length, not '0.0s'."""
    from wfwatch.tui.widgets.timeline import render_timeline

    view = reduce(load(f"{framework}_clean"))
    assert view.steps and all(step.duration_ms is None and step.status == "completed" for step in view.steps)
    assert "0.0s" not in render_timeline(view).plain
    # A wfwatch session's own steps keep their measured durations.
    native = reduce([events.Record(0, events.StepFinished(step_id="t1-plan", turn=1, duration_ms=2100.0))])
    assert "2.1s" in render_timeline(native).plain


@pytest.mark.parametrize("kind", [["response.created"], {"a": 1}, 7, None])
def test_a_type_field_that_is_not_a_string_is_an_unknown_item_not_a_crash(kind: Any) -> None:
    # A generic stream's objects reach detection; a framework topic's reach its schema's fold.
    for data in ({"type": kind}, {"event_kind": kind}, {"type": kind, "sequence_number": 1}):
        assert detect(data) is None
        assert reduce([events.Record(0, events.UnknownItem(topic="orders", data=data))]).lanes == ()
    for framework, field in (("pydantic_ai", "event_kind"), ("openai_agents", "type")):
        records = load(f"{framework}_clean")
        odd = events.Record(
            len(records), events.UnknownItem(topic="agent-events", data={field: kind, "sequence_number": 9})
        )
        view = reduce([*records, odd])
        assert [o.offset for o in view.odd_items] == [len(records)]
        assert view.canonical_text() == reduce(records).canonical_text()
    items = [r for r in load("openai_agents_clean") if r.item.topic == "agent-items"]  # type: ignore[union-attr]
    odd = events.Record(items[-1].offset + 1, events.UnknownItem(topic="agent-items", data={"type": kind}))
    assert [o.offset for o in reduce([*items, odd]).odd_items] == [odd.offset]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_gap_does_not_splice_a_call_onto_what_follows(framework: str) -> None:
    """A gap that swallowed a call's end and the next call's start: what follows is a new message, not attempt 2."""
    records = load(f"{framework}_clean")
    view = reduce(records)
    first, second = main_messages(view)[:2]
    starts = sorted({int(m.message_id.rsplit("@", 1)[1]) for m in (first, second)})
    hole = (starts[1] - 6, starts[1] + 2)  # the first call's last items and the second call's start
    reducer = Reducer()
    reducer.feed(r for r in records if r.offset < hole[0])
    reducer.gap(*hole)
    reducer.feed(r for r in records if r.offset >= hole[1])
    after = main_messages(reducer.view())
    assert len(after) == 2 and all(m.attempt == 1 and m.superseded_attempts == () for m in after)
    assert after[0].reasoning == first.reasoning  # what came before the gap is kept
    assert second.answer.endswith(after[-1].answer) and after[-1].answer
