"""The order of the sessions screen's rows: sorted by a column, children under their parent.

Pure (no Textual): the screen asks for the order and moves rows to match.
A child workflow (a sub-agent) sorts with its siblings under its parent's
row, whatever the column; a child whose parent is not listed sorts as a
top-level row of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wfwatch.sessions import SessionRow

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _time(when: datetime | None) -> datetime:
    if when is None:
        return _EARLIEST
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


SORT_KEYS: dict[str, Callable[[SessionRow], Any]] = {
    "workflow id": lambda row: row.workflow_id.casefold(),
    "type": lambda row: row.workflow_type.casefold(),
    "status": lambda row: row.status,
    "started": lambda row: _time(row.start_time),
    "turn": lambda row: -1 if row.turn is None else row.turn,
    "head": lambda row: -1 if row.head is None else row.head.offset,
    "title": lambda row: row.title.casefold(),
}
#: Columns whose natural first order is descending (the newest, the furthest along first).
DESCENDING_FIRST = frozenset({"started", "turn", "head"})


@dataclass(frozen=True, slots=True)
class Placed:
    row: SessionRow
    #: 0 for a top-level row, 1 for a child of one, and so on.
    depth: int
    #: The last of its siblings (drawn ``└─`` rather than ``├─``).
    last: bool

    def glyph(self) -> str:
        if self.depth == 0:
            return ""
        return "   " * (self.depth - 1) + ("└─ " if self.last else "├─ ")


def ordered(rows: Sequence[SessionRow], column: str, *, descending: bool) -> list[Placed]:
    """``rows`` sorted by ``column``, each child right under its parent (depth first).

    Ties keep the newest first, then the id, so the order is stable across refreshes.
    """
    key = SORT_KEYS[column]
    listed = {row.workflow_id for row in rows}
    children: dict[str | None, list[SessionRow]] = {}
    for row in rows:
        parent = row.parent_id if row.parent_id in listed and row.parent_id != row.workflow_id else None
        children.setdefault(parent, []).append(row)

    def sort(group: list[SessionRow]) -> list[SessionRow]:
        group = sorted(group, key=lambda row: row.workflow_id)
        group.sort(key=lambda row: _time(row.start_time), reverse=True)
        return sorted(group, key=key, reverse=descending)  # stable: ties keep the order above

    out: list[Placed] = []
    seen: set[str] = set()

    def place(parent: str | None, depth: int) -> None:
        group = sort(children.get(parent, []))
        for index, row in enumerate(group):
            if row.workflow_id in seen:  # a cycle in parent ids: each row once
                continue
            seen.add(row.workflow_id)
            out.append(Placed(row, depth, index == len(group) - 1))
            place(row.workflow_id, depth + 1)

    place(None, 0)
    # Rows only reachable through a cycle of parents (never from Temporal, but be total).
    for row in sort([r for r in rows if r.workflow_id not in seen]):
        if row.workflow_id not in seen:
            seen.add(row.workflow_id)
            out.append(Placed(row, 0, True))
            place(row.workflow_id, 1)
    return out
