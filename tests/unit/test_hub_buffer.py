"""The retained buffer and offset range sets, checked against trivial models."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfwatch import events
from wfwatch.hub.buffer import RetainedBuffer
from wfwatch.hub.spans import SpanSet


def records(start: int, count: int) -> list[events.Record]:
    return [events.Record(o, events.TokenDelta(message_id="m", text=f"t{o}")) for o in range(start, start + count)]


# --- SpanSet ------------------------------------------------------------------------

span = st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.lists(st.tuples(st.booleans(), span), max_size=25), st.integers(0, 90))
def test_span_set_matches_a_set_of_offsets(operations: list[tuple[bool, tuple[int, int]]], probe: int) -> None:
    spans = SpanSet()
    model: set[int] = set()
    for add, (start, end) in operations:
        if add:
            spans.add(start, end)
            model.update(range(start, end))
        else:
            spans.remove(start, end)
            model.difference_update(range(start, end))
    ranges = list(spans)
    # Sorted, disjoint, non-touching, non-empty: the canonical form.
    for (s1, e1), (s2, _) in itertools.pairwise(ranges):
        assert s1 < e1 < s2
    assert {o for s, e in ranges for o in range(s, e)} == model
    assert spans.total() == len(model)
    found = spans.find(probe)
    if probe in model:
        assert found is not None and found[0] <= probe < found[1]
        assert found[0] - 1 not in model and found[1] not in model
    else:
        assert found is None
        later = [o for o in model if o > probe]
        expected = min(later) if later else None
        assert spans.next_start(probe) == expected


def test_touching_ranges_merge() -> None:
    spans = SpanSet([(0, 5), (10, 20)])
    spans.add(5, 10)
    assert list(spans) == [(0, 20)]
    assert spans.end == 20


# --- RetainedBuffer -----------------------------------------------------------------------


def test_buffer_reads_by_offset_and_refuses_holes() -> None:
    buffer = RetainedBuffer(100, retain=10)
    buffer.append(records(100, 5))
    assert (buffer.base, buffer.head, len(buffer)) == (100, 105, 5)
    assert [r.offset for r in buffer.read(102, 2)] == [102, 103]
    assert buffer.read(105, 10) == []
    with pytest.raises(ValueError, match="do not continue the buffer at offset 105"):
        buffer.append(records(106, 1))
    with pytest.raises(ValueError, match="do not continue"):
        buffer.append(records(104, 2))


def test_buffer_evicts_only_what_is_safe() -> None:
    buffer = RetainedBuffer(0, retain=10)
    buffer.append(records(0, 25))
    # Only offsets below 8 are in the cache yet: the buffer may not drop more.
    assert buffer.trim(safe_until=8) == 8
    assert buffer.base == 8
    assert buffer.trim(safe_until=100) == 7
    assert (buffer.base, buffer.head) == (15, 25)
    with pytest.raises(IndexError, match="offset 3 was evicted"):
        buffer.read(3, 1)


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 200)), max_size=40), st.integers(1, 64))
def test_buffer_window_is_always_the_newest_retained_records(steps: list[tuple[int, int]], retain: int) -> None:
    buffer = RetainedBuffer(7, retain=retain)
    head = 7
    for count, lag in steps:
        buffer.append(records(head, count))
        head += count
        buffer.trim(safe_until=max(0, head - lag))
        assert buffer.head == head
        assert buffer.base <= head
        # Never more than `retain` records unless eviction was unsafe.
        assert len(buffer) <= retain or buffer.base >= head - lag
        got = buffer.read(buffer.base, len(buffer))
        assert [r.offset for r in got] == list(range(buffer.base, head))


def test_rebase_after_a_gap() -> None:
    buffer = RetainedBuffer(0, retain=10)
    buffer.append(records(0, 3))
    with pytest.raises(ValueError, match="cannot rebase"):
        buffer.rebase(1)
    buffer.rebase(50)
    assert (buffer.base, buffer.head, len(buffer)) == (50, 50, 0)
    buffer.append(records(50, 2))
    assert buffer.read(50, 5)[-1].offset == 51
