"""The reducer: split-invariance, re-delivery, the canonical retry model."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wfwatch.events import (
    MAIN_LANE,
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
)
from wfwatch.reducer import (
    MessageView,
    OddItem,
    Reducer,
    SessionView,
    StepView,
    ToolCallView,
    TurnView,
    reduce,
)


def records_from(items: Sequence[Any], start: int = 0) -> list[Record]:
    return [Record(start + i, item) for i, item in enumerate(items)]


def view_of(records: Sequence[Record]) -> SessionView:
    reducer = Reducer()
    reducer.feed(records)
    return reducer.view()


# --- a strategy for realistic event sequences -----------------------------------

LANES = [MAIN_LANE, "sub-1", "sub-2"]
MESSAGE_IDS = ["m1", "m2", "m3", "m4"]
STEP_IDS = ["s1", "s2", "s3"]
CALL_IDS = ["c1", "c2", "c3"]
STATUSES = ["running", "completed", "failed", "cancelled"]

lanes = st.sampled_from(LANES)
turns = st.integers(min_value=0, max_value=3)
attempts = st.integers(min_value=1, max_value=3)
short_text = st.text(max_size=6)
common: dict[str, Any] = {"lane": lanes, "turn": turns, "ts": st.floats(0, 1e9)}

items = st.one_of(
    st.builds(
        TokenDelta,
        message_id=st.sampled_from(MESSAGE_IDS),
        text=short_text,
        attempt=attempts,
        channel=st.sampled_from(["answer", "reasoning"]),
        **common,
    ),
    st.builds(TokenDelta, message_id=st.sampled_from(MESSAGE_IDS), text=short_text, attempt=attempts, **common),
    st.builds(AttemptStarted, message_id=st.sampled_from(MESSAGE_IDS), attempt=attempts, **common),
    st.builds(MessageFinished, message_id=st.sampled_from(MESSAGE_IDS), attempt=attempts, **common),
    st.builds(StepStarted, step_id=st.sampled_from(STEP_IDS), name=short_text, **common),
    st.builds(
        StepFinished,
        step_id=st.sampled_from(STEP_IDS),
        status=st.sampled_from(STATUSES),
        duration_ms=st.floats(0, 1e6),
        reason=short_text,
        **common,
    ),
    st.builds(ToolCall, call_id=st.sampled_from(CALL_IDS), name=short_text, arguments=short_text, **common),
    st.builds(ToolResult, call_id=st.sampled_from(CALL_IDS), ok=st.booleans(), result=short_text, **common),
    st.builds(TurnStarted, user_message=short_text, **common),
    st.builds(TurnFinished, status=st.sampled_from(STATUSES), reason=short_text, **common),
    st.builds(SubagentSpawned, name=short_text, workflow_id=short_text, index=st.integers(0, 5), **common),
    st.builds(SubagentFinished, status=st.sampled_from(STATUSES), reason=short_text, **common),
    st.builds(SessionStarted, session_id=short_text, title=short_text, **common),
    st.builds(SessionFinished, status=st.sampled_from(STATUSES), reason=short_text, **common),
    st.builds(ErrorEvent, message=short_text, message_id=st.sampled_from(["", *MESSAGE_IDS]), attempt=attempts),
    st.builds(UnknownItem, topic=st.sampled_from(["wfwatch", "other"]), data=st.none(), kind=short_text),
    st.builds(InvalidItem, topic=st.just("wfwatch"), reason=short_text, preview=short_text),
)

record_lists = st.lists(items, max_size=80).map(records_from)


def chunks(records: list[Record], cuts: list[int]) -> list[list[Record]]:
    bounds = [0, *sorted(cuts), len(records)]
    return [records[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_split_feeds_give_the_same_view(data: st.DataObject) -> None:
    records = data.draw(record_lists)
    cuts = data.draw(st.lists(st.integers(0, len(records)), max_size=10))
    whole = view_of(records)
    reducer = Reducer()
    for part in chunks(records, cuts):
        reducer.feed(part)
        assert reducer.next_offset == (part[-1].offset + 1 if part else reducer.next_offset)
        reducer.view()  # a device looks between feeds: what it was shown must not go stale
    assert reducer.view() == whole
    assert reduce(records) == whole
    assert whole.record_count == len(records)
    assert whole.next_offset == len(records)
    assert whole.first_offset == (0 if records else None)
    assert whole.token_count == sum(isinstance(r.item, TokenDelta) for r in records)
    # Taking views along the way changes nothing either.
    stepwise = Reducer()
    for part in chunks(records, cuts):
        stepwise.feed(part)
        stepwise.view()
    assert stepwise.view() == whole


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_refeeding_an_applied_prefix_changes_nothing(data: st.DataObject) -> None:
    records = data.draw(record_lists)
    applied = data.draw(st.integers(0, len(records)))
    resume_from = data.draw(st.integers(0, applied))
    whole = view_of(records)
    reducer = Reducer()
    reducer.feed(records[:applied])
    before = reducer.view()
    reducer.feed(records[resume_from:applied])  # pure re-delivery
    assert reducer.view() == before
    reducer.feed(records[resume_from:])  # a resumed device overlapping what it had
    assert reducer.view() == whole
    reducer.feed(records)  # everything again
    assert reducer.view() == whole


@settings(max_examples=100, deadline=None)
@given(record_lists, st.integers(0, 10_000))
def test_offsets_need_not_start_at_zero(records: list[Record], start: int) -> None:
    shifted = records_from([r.item for r in records], start)
    view = view_of(shifted)
    assert view.first_offset == (start if records else None)
    assert view.next_offset == (start + len(records) if records else 0)
    assert view.canonical_text() == view_of(records).canonical_text()


# --- the canonical retry model -------------------------------------------------


@dataclass(frozen=True)
class PlannedMessage:
    message_id: str
    lane: str
    turn: int
    final_answer: list[str]
    final_reasoning: list[str]
    earlier: list[list[str]]  # tokens streamed by each superseded attempt

    @property
    def attempts(self) -> int:
        return len(self.earlier) + 1

    def events(self) -> list[Any]:
        base: dict[str, Any] = {"message_id": self.message_id, "lane": self.lane, "turn": self.turn}
        out: list[Any] = []
        for number, tokens in enumerate(self.earlier, start=1):
            out.append(AttemptStarted(attempt=number, **base))
            out += [TokenDelta(text=t, attempt=number, **base) for t in tokens]
        final = self.attempts
        out.append(AttemptStarted(attempt=final, **base))
        out += [TokenDelta(text=t, attempt=final, channel="reasoning", **base) for t in self.final_reasoning]
        out += [TokenDelta(text=t, attempt=final, **base) for t in self.final_answer]
        out.append(MessageFinished(attempt=final, **base))
        return out


tokens = st.lists(st.text(min_size=1, max_size=5), max_size=6)


@st.composite
def planned_message(draw: st.DrawFn, message_id: str) -> PlannedMessage:
    final = draw(tokens)
    earlier_count = draw(st.integers(0, 2))
    earlier = []
    for _ in range(earlier_count):
        # A failed attempt streams a prefix of something: often the final text.
        source = draw(st.one_of(st.just(final), tokens))
        earlier.append(source[: draw(st.integers(0, len(source)))])
    return PlannedMessage(
        message_id=message_id,
        lane=draw(lanes),
        turn=draw(turns),
        final_answer=final,
        final_reasoning=draw(tokens),
        earlier=earlier,
    )


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[PlannedMessage], list[Any]]:
    count = draw(st.integers(1, 6))
    messages = [draw(planned_message(f"msg-{i}")) for i in range(count)]
    rng: random.Random = draw(st.randoms(use_true_random=False))
    queues = [m.events() for m in messages]
    positions = [0] * count
    merged: list[Any] = []
    while any(p < len(q) for p, q in zip(positions, queues, strict=True)):
        live = [i for i in range(count) if positions[i] < len(queues[i])]
        pick = rng.choice(live)
        merged.append(queues[pick][positions[pick]])
        positions[pick] += 1
    return messages, merged


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_highest_attempt_wins(conversation: tuple[list[PlannedMessage], list[Any]]) -> None:
    messages, merged = conversation
    view = view_of(records_from(merged))
    by_id = {m.message_id: m for lane in view.lanes for m in lane.messages}
    assert set(by_id) == {m.message_id for m in messages}
    for planned in messages:
        shown = by_id[planned.message_id]
        assert shown.lane == planned.lane
        assert shown.turn == planned.turn
        assert shown.attempt == planned.attempts
        assert shown.answer == "".join(planned.final_answer)
        assert shown.reasoning == "".join(planned.final_reasoning)
        assert shown.finished
        assert shown.superseded_attempts == tuple(range(1, planned.attempts))

    # The model, computed independently: messages in order of first appearance,
    # lanes with main first then by first appearance, non-empty answers joined.
    first_seen: dict[str, int] = {}
    for offset, event in enumerate(merged):
        first_seen.setdefault(event.message_id, offset)
    ordered = sorted(messages, key=lambda m: first_seen[m.message_id])
    lane_order: list[str] = []
    for m in ordered:
        if m.lane not in lane_order:
            lane_order.append(m.lane)
    if MAIN_LANE in lane_order:
        lane_order.remove(MAIN_LANE)
        lane_order.insert(0, MAIN_LANE)
    assert [lane.name for lane in view.lanes] == lane_order
    for lane in view.lanes:
        expected = [m for m in ordered if m.lane == lane.name]
        assert [m.message_id for m in lane.messages] == [m.message_id for m in expected]
        finals = ["".join(m.final_answer) for m in expected]
        assert lane.text == "\n\n".join(t for t in finals if t)
    main = [m for m in ordered if m.lane == MAIN_LANE]
    assert view.text == "\n\n".join(t for t in ("".join(m.final_answer) for m in main) if t)


def test_a_retry_in_progress_shows_the_new_attempt_only() -> None:
    events = [
        AttemptStarted(message_id="m", attempt=1),
        TokenDelta(message_id="m", text="The answer is 4", attempt=1),
        ErrorEvent(message="connection reset", retryable=True, message_id="m", attempt=1),
        AttemptStarted(message_id="m", attempt=2),
        TokenDelta(message_id="m", text="The ans", attempt=2),
    ]
    view = view_of(records_from(events))
    (message,) = view.lanes[0].messages
    assert message == MessageView(
        message_id="m",
        lane=MAIN_LANE,
        turn=0,
        attempt=2,
        answer="The ans",
        reasoning="",
        finished=False,
        superseded_attempts=(1,),
        tokens=1,
    )
    assert view.text == "The ans"
    assert view.retries == 1
    assert view.errors == ("@2 main/m#1: connection reset",)
    # A late token from the superseded attempt does not leak into the view.
    late = view_of(records_from([*events, TokenDelta(message_id="m", text="!!", attempt=1)]))
    assert late.text == "The ans"
    assert late.token_count == 3


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.text(min_size=1, max_size=4)), max_size=40))
def test_interleaved_lanes_never_mix(stream: list[tuple[bool, str]]) -> None:
    events = [
        TokenDelta(message_id="left-m" if left else "right-m", lane="left" if left else "right", text=text)
        for left, text in stream
    ]
    view = view_of(records_from(events))
    for name, is_left in (("left", True), ("right", False)):
        expected = "".join(text for left, text in stream if left == is_left)
        lane = view.lane(name)
        if expected:
            assert lane is not None
            assert lane.text == expected
            assert [m.message_id for m in lane.messages] == [f"{name}-m"]
        else:
            assert lane is None
    assert view.text == ""  # nothing on main


# --- explicit examples -----------------------------------------------------------


def test_step_duration_and_status() -> None:
    view = view_of(
        records_from(
            [
                StepStarted(step_id="s1", name="plan", lane="sub-1", turn=2, ts=100.0),
                StepStarted(step_id="s2", name="search", ts=101.0),
                StepFinished(step_id="s1", status="completed", duration_ms=1234.5),
                StepFinished(step_id="s2", status="failed", duration_ms=10.0, reason="timeout"),
                StepStarted(step_id="s3", name="write"),
            ]
        )
    )
    assert view.steps == (
        StepView("s1", "sub-1", 2, "plan", "completed", 0, 100.0, 1234.5, ""),
        StepView("s2", MAIN_LANE, 0, "search", "failed", 1, 101.0, 10.0, "timeout"),
        StepView("s3", MAIN_LANE, 0, "write", "running", 4, 0.0, None, ""),
    )


def test_step_finished_without_start() -> None:
    view = view_of(records_from([StepFinished(step_id="s9", status="completed", duration_ms=5.0)], start=40))
    assert view.steps == (StepView("s9", MAIN_LANE, 0, "s9", "completed", 40, 0.0, 5.0, ""),)


def test_tool_call_then_result() -> None:
    view = view_of(
        records_from(
            [
                ToolCall(call_id="c1", name="grep", arguments='{"q": "x"}', lane="sub-1", turn=1),
                ToolCall(call_id="c2", name="ls"),
                ToolResult(call_id="c1", ok=False, result="no match"),
            ]
        )
    )
    assert view.tool_calls == (
        ToolCallView("c1", "sub-1", 1, "grep", '{"q": "x"}', "no match", False, offset=0),
        ToolCallView("c2", MAIN_LANE, 0, "ls", "", None, None, offset=1),
    )
    assert view.lane("sub-1").tools == (view.tool_calls[0],)  # type: ignore[union-attr]
    assert [lane.name for lane in view.lanes] == [MAIN_LANE, "sub-1"]


def test_tool_result_without_call() -> None:
    view = view_of(records_from([ToolResult(call_id="c7", result="ok")]))
    assert view.tool_calls == (ToolCallView("c7", MAIN_LANE, 0, "?", "", "ok", True),)
    assert view.lanes[0].tools == view.tool_calls


def test_tool_calls_stand_between_the_messages_they_came_between_with_their_duration() -> None:
    view = view_of(
        records_from(
            [
                TokenDelta(message_id="m1", text="let me look", ts=100.0),
                ToolCall(call_id="c1", name="lookup_order", arguments='{"order_id":"A-1042"}', ts=100.5),
                ToolResult(call_id="c1", result='{"status":"shipped"}', ts=100.62),
                TokenDelta(message_id="m2", text="it shipped", ts=101.0),
            ]
        )
    )
    (call,) = view.lanes[0].tools
    assert (call.offset, call.after) == (1, 1)  # after m1, before m2
    assert call.duration_ms is not None and abs(call.duration_ms - 120) < 1e-6
    assert ToolCallView("c", MAIN_LANE, 0, "x", "").duration_ms is None  # no times: no duration


def test_step_times_tokens_and_ttft() -> None:
    view = view_of(
        records_from(
            [
                StepStarted(step_id="t1-plan", name="plan", turn=1, ts=1000.0),
                AttemptStarted(message_id="t1-plan", step_id="t1-plan", turn=1, ts=1000.1),
                *[TokenDelta(message_id="t1-plan", text=f" w{i}", turn=1, ts=1000.4 + i * 0.1) for i in range(11)],
                StepFinished(step_id="t1-plan", turn=1, duration_ms=1600, ts=1001.6),
                StepStarted(step_id="t1-answer", name="answer", turn=1),  # a framework's step: no times
                TokenDelta(message_id="t1-answer", text="x", turn=1),
            ]
        )
    )
    plan, answer = view.steps
    assert plan.tokens == 11 and plan.ttft_ms is not None and abs(plan.ttft_ms - 400) < 1e-6
    assert plan.tokens_per_second is not None and abs(plan.tokens_per_second - 10) < 1e-6
    assert answer.tokens == 1 and answer.ttft_ms is None and answer.tokens_per_second is None
    lane = view.lanes[0]
    assert lane.tokens == 12 and lane.tokens_per_second is not None
    assert view.first_ts == 1000.0
    assert view.token_rate is not None and abs(view.token_rate - 10) < 1e-6
    assert view.lanes[0].messages[0].started_ts == 1000.1


def test_turns() -> None:
    view = view_of(
        records_from(
            [
                SessionStarted(session_id="s-1", title="demo"),
                TurnStarted(turn=1, user_message="hi"),
                TokenDelta(message_id="m1", text="hello", turn=1),
                TurnFinished(turn=1),
                TurnStarted(turn=2, user_message="more"),
                TurnFinished(turn=2, status="failed", reason="boom"),
                TurnFinished(turn=3, status="cancelled"),
                SessionFinished(status="failed", reason="boom"),
            ],
            start=10,
        )
    )
    assert view.turns == (
        TurnView(1, "hi", "completed", 11, ""),
        TurnView(2, "more", "failed", 14, "boom"),
        TurnView(3, "", "cancelled", 16, ""),
    )
    assert view.session_id == "s-1"
    assert view.title == "demo"
    assert view.status == "failed"
    assert view.text == "hello"


def test_lane_order_follows_spawn_index_not_appearance() -> None:
    view = view_of(
        records_from(
            [
                TokenDelta(message_id="w1", lane="writer", text="draft"),  # seen first, spawned later
                TokenDelta(message_id="u1", lane="unannounced", text="?"),
                SubagentSpawned(name="critic", lane="critic", index=3, workflow_id="wf-c"),
                SubagentSpawned(name="researcher", lane="researcher", index=1),
                TokenDelta(message_id="m1", text="main text"),
                SubagentSpawned(name="writer", lane="writer", index=2),
                TokenDelta(message_id="l1", lane="late", text="!"),
                SubagentFinished(lane="critic", status="failed", reason="crash"),
            ]
        )
    )
    assert [lane.name for lane in view.lanes] == [
        MAIN_LANE,
        "researcher",
        "writer",
        "critic",
        "unannounced",
        "late",
    ]
    critic = view.lane("critic")
    assert critic is not None
    assert (critic.index, critic.status, critic.reason, critic.workflow_id) == (3, "failed", "crash", "wf-c")
    assert view.canonical_text() == (
        "[main]\nmain text\n[researcher]\n\n[writer]\ndraft\n[critic]\n\n[unannounced]\n?\n[late]\n!"
    )


def test_odd_items_keep_their_offsets() -> None:
    unknown = decode(b'{"kind": "telepathy"}')
    invalid = decode(b"{{{")
    foreign = decode(b"[1]", topic="other")
    assert isinstance(unknown, UnknownItem)
    assert isinstance(invalid, InvalidItem)
    assert isinstance(foreign, UnknownItem)
    view = view_of(
        [
            Record(3, TokenDelta(message_id="m", text="a")),
            Record(4, unknown),
            Record(9, invalid),
            Record(12, foreign),
            Record(13, UnknownItem(topic="wfwatch", kind="nope")),
            Record(14, TokenDelta(message_id="m", text="b")),
        ]
    )
    assert view.odd_items == (
        OddItem(4, "unknown", unknown.reason),
        OddItem(9, "invalid", invalid.reason),
        OddItem(12, "unknown", foreign.reason),
        OddItem(13, "unknown", "nope"),
    )
    assert view.text == "ab"
    assert view.record_count == 6
    assert view.next_offset == 15


def test_device_that_starts_mid_stream() -> None:
    # The device missed offsets 0..499 (AttemptStarted, the spawn, the turn start).
    records = records_from(
        [
            TokenDelta(message_id="m1", text="…continued", attempt=2, turn=1),
            TokenDelta(message_id="r1", lane="sub-1", text="found it"),
            MessageFinished(message_id="m1", attempt=2, turn=1),
            TurnFinished(turn=1),
        ],
        start=500,
    )
    reducer = Reducer()
    reducer.feed(records)
    view = reducer.view()
    assert view.first_offset == 500
    assert view.next_offset == 504
    assert reducer.next_offset == 504
    assert view.record_count == 4
    assert view.text == "…continued"
    (message,) = view.lanes[0].messages
    assert (message.attempt, message.finished, message.superseded_attempts) == (2, True, ())
    assert view.turns == (TurnView(1, "", "completed", 503, ""),)
    assert [lane.name for lane in view.lanes] == [MAIN_LANE, "sub-1"]
    # Older records arriving afterwards are below the applied offset: ignored.
    reducer.feed([Record(499, TokenDelta(message_id="m1", text="stale", attempt=2))])
    reducer.feed(records)
    assert reducer.view() == view


def test_empty_view() -> None:
    view = Reducer().view()
    assert view.first_offset is None
    assert view.next_offset == 0
    assert view.record_count == 0
    assert view.lanes == ()
    assert view.text == ""
    assert view.canonical_text() == ""
    assert view.status == "running"
    assert view.lane(MAIN_LANE) is None


def test_duplicate_offset_within_one_feed_is_ignored() -> None:
    token = TokenDelta(message_id="m", text="x")
    view = view_of([Record(0, token), Record(0, token), Record(1, token), Record(1, token)])
    assert view.text == "xx"
    assert view.record_count == 2
    assert view.token_count == 2


# --- gaps: a hole in what a device received is part of its sequence ----------------


def _with_gaps(records: list[Record], holes: list[tuple[int, int]]) -> list[Record | tuple[int, int]]:
    """``records`` with offsets removed and a gap op where each hole was (what a device gets)."""
    ops: list[Record | tuple[int, int]] = []
    holes = sorted(holes)
    for record in records:
        hole = next(((a, b) for a, b in holes if a <= record.offset < b), None)
        if hole is None:
            ops.append(record)
        elif record.offset == hole[0]:
            ops.append(hole)
    return ops


def _fold(reducer: Reducer, ops: Sequence[Record | tuple[int, int]]) -> None:
    for op in ops:
        if isinstance(op, Record):
            reducer.apply(op)
        else:
            reducer.gap(*op)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_gaps_are_marked_in_place_and_split_feeds_still_agree(data: st.DataObject) -> None:
    records = data.draw(record_lists)
    starts = data.draw(st.lists(st.integers(0, max(0, len(records) - 1)), max_size=3, unique=True))
    holes: list[tuple[int, int]] = []
    for start in sorted(starts):
        if holes and start < holes[-1][1]:
            continue
        holes.append((start, start + data.draw(st.integers(1, 5))))
    ops = _with_gaps(records, holes)
    whole = Reducer()
    _fold(whole, ops)
    cuts = data.draw(st.lists(st.integers(0, len(ops)), max_size=6))
    split = Reducer()
    bounds = [0, *sorted(cuts), len(ops)]
    for a, b in itertools.pairwise(bounds):
        _fold(split, ops[a:b])
        split.view()
    assert split.view() == whole.view()
    _fold(split, ops)  # everything again, gaps included: re-delivery changes nothing
    assert split.view() == whole.view()


def test_a_gap_is_marked_after_the_messages_before_it_in_every_lane() -> None:
    reducer = Reducer()
    reducer.feed(
        records_from(
            [
                TokenDelta(message_id="m1", text="before", lane=MAIN_LANE),
                TokenDelta(message_id="s1", text="sub before", lane="sub-1"),
            ]
        )
    )
    reducer.gap(2, 40)
    reducer.feed([Record(40, TokenDelta(message_id="m2", text="after", lane=MAIN_LANE))])
    reducer.feed([Record(12, TokenDelta(message_id="m3", text="lost and late", lane=MAIN_LANE))])  # inside the gap
    view = reducer.view()
    main, sub = view.lane(MAIN_LANE), view.lane("sub-1")
    assert main is not None and sub is not None
    assert [(g.start, g.end, g.after) for g in main.gaps] == [(2, 40, 1)]
    assert [m.message_id for m in main.messages] == ["m1", "m2"]
    assert [(g.start, g.end, g.after) for g in sub.gaps] == [(2, 40, 1)]
    assert view.next_offset == 41
    assert main.records == 2 and sub.records == 1
