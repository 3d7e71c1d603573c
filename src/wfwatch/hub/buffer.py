"""The retained buffer: one offset-indexed window of a session's newest records.

Every device of a session reads slices of this one buffer from its own
cursor, so fan-out costs a list slice per device and wake-up, never a copy
of the stream per device. It keeps what connected devices still have to
read plus a ``warm`` window of the newest records (a device that reconnects
after a blip, or joins live, is served from memory); older history is read
from the local cache, as Centrifugo keeps a short history in memory and
leaves the rest to its recovery path. ``retain`` bounds the records kept
for a lagging device. Nothing is evicted before the local cache holds it
(the caller says up to where via ``safe_until``), so a slow device falling
below the buffer is re-fed from the cache instead of losing data.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfwatch.events import Record

# Evicted slots are compacted away once they outnumber the live ones, so
# eviction is amortised O(1) per record while slicing stays a plain list slice.
_COMPACT_MIN = 4096


class RetainedBuffer:
    """Contiguous records ``[base, head)``; append at ``head``, evict at ``base``."""

    __slots__ = ("_dead", "_first", "_items", "retain", "warm")

    def __init__(self, start: int = 0, *, retain: int = 200_000, warm: int | None = None) -> None:
        if start < 0:
            raise ValueError(f"buffer start must be >= 0, got {start}")
        if retain < 1:
            raise ValueError(f"retain must be >= 1, got {retain}")
        self.retain = retain
        #: Newest records kept even when every device has read them (``None``: up to ``retain``).
        self.warm = retain if warm is None else max(0, min(warm, retain))
        self._items: list[Record] = []
        self._first = start  # offset of self._items[0]
        self._dead = 0  # evicted slots at the front of self._items

    @property
    def base(self) -> int:
        """The oldest offset still held."""
        return self._first + self._dead

    @property
    def head(self) -> int:
        """The offset the next appended record must have."""
        return self._first + len(self._items)

    def __len__(self) -> int:
        return len(self._items) - self._dead

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, int) and self.base <= offset < self.head

    def append(self, records: Sequence[Record]) -> None:
        """Append records that continue exactly at :attr:`head`.

        Raises ``ValueError`` on a hole or an overlap: the buffer's whole
        point is that index arithmetic gives the record at an offset.
        """
        if not records:
            return
        head = self.head
        first = records[0].offset
        last = records[-1].offset
        if first != head or last != head + len(records) - 1:
            raise ValueError(
                f"records {first}..{last} ({len(records)} of them) do not continue the buffer at offset {head}"
            )
        self._items.extend(records)

    def read(self, offset: int, limit: int) -> list[Record]:
        """Up to ``limit`` records from ``offset`` (empty at or past the head)."""
        if offset < self.base:
            raise IndexError(f"offset {offset} was evicted (buffer holds {self.base}..{self.head - 1})")
        index = offset - self._first
        return self._items[index : index + limit]

    def trim(self, safe_until: int, needed_from: int | None = None) -> int:
        """Evict what is no longer needed, but nothing at or above ``safe_until``.

        Records below ``needed_from`` (the lowest position of a connected
        device; ``None``: any may still be needed) and older than the warm
        window go; so do the oldest beyond ``retain`` whatever a device
        still needs. Returns how many were evicted.
        """
        base, head = self.base, self.head
        target = base + max(0, len(self) - self.retain)
        if needed_from is not None:
            target = max(target, min(needed_from, head - self.warm))
        new_base = min(target, safe_until, head)
        evicted = new_base - self.base
        if evicted <= 0:
            return 0
        # Drop references now so evicted records can be freed before compaction.
        start = self._dead
        self._items[start : start + evicted] = [None] * evicted  # type: ignore[list-item]
        self._dead += evicted
        if self._dead >= _COMPACT_MIN and self._dead * 2 >= len(self._items):
            del self._items[: self._dead]
            self._first += self._dead
            self._dead = 0
        return evicted

    def rebase(self, offset: int) -> None:
        """Drop everything and continue at ``offset`` (after a gap, or before the first read)."""
        if offset < self.head and len(self):
            raise ValueError(f"cannot rebase to {offset}: the buffer already holds up to {self.head - 1}")
        self._items = []
        self._first = offset
        self._dead = 0
