"""Sets of half-open offset ranges: what the cache holds, what is known gone.

The hub reads a stream in pieces (the live tail from one offset, older
ranges on demand), so "which offsets do we have" is a small set of ranges
rather than one number. :class:`SpanSet` keeps them sorted, disjoint and
merged; it stays tiny in practice (one range per separate catch-up).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator


class SpanSet:
    """Sorted, disjoint, merged ranges ``[start, end)`` of offsets."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in spans:
            self.add(start, end)

    def add(self, start: int, end: int) -> None:
        """Add ``[start, end)``, merging with neighbours it touches or overlaps."""
        if end <= start:
            return
        # First span whose end reaches start, last span whose start is <= end.
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def remove(self, start: int, end: int) -> None:
        """Take ``[start, end)`` out, splitting a range that straddles it."""
        if end <= start:
            return
        kept = [(s, e) for s, e in self if e <= start or s >= end]
        pieces = [(s, min(e, start)) for s, e in self if s < start < e] + [
            (max(s, end), e) for s, e in self if s < end < e
        ]
        self._starts = []
        self._ends = []
        for s, e in kept + pieces:
            self.add(s, e)

    def find(self, offset: int) -> tuple[int, int] | None:
        """The range containing ``offset``, or ``None``."""
        index = bisect.bisect_right(self._starts, offset) - 1
        if index >= 0 and offset < self._ends[index]:
            return self._starts[index], self._ends[index]
        return None

    def next_start(self, offset: int) -> int | None:
        """The start of the first range beginning after ``offset``, or ``None``."""
        index = bisect.bisect_right(self._starts, offset)
        return self._starts[index] if index < len(self._starts) else None

    @property
    def end(self) -> int:
        """The end of the last range (0 when empty)."""
        return self._ends[-1] if self._ends else 0

    def total(self) -> int:
        """How many offsets the ranges cover."""
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=True))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __repr__(self) -> str:
        inner = ", ".join(f"[{s}, {e})" for s, e in self)
        return f"SpanSet({inner})"
