"""The sessions list's order: by a column, each child workflow right under its parent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wfwatch.sessions import SessionRow
from wfwatch.tui.session_order import ordered

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def row(workflow_id: str, minute: int, parent: str | None = None, turn: int | None = None) -> SessionRow:
    return SessionRow(workflow_id, "r", "T", "running", T0 + timedelta(minutes=minute), "", turn, parent_id=parent)


ROWS = [
    row("b", 1),
    row("b-kid-1", 2, parent="b"),
    row("a", 3),
    row("b-kid-2", 4, parent="b"),
    row("b-kid-2-grandkid", 5, parent="b-kid-2"),
    row("orphan", 6, parent="gone"),  # its parent is not listed: a top-level row
    row("c", 0, turn=9),
]


def shown(column: str, descending: bool) -> list[str]:
    return [place.glyph() + place.row.workflow_id for place in ordered(ROWS, column, descending=descending)]


def test_newest_first_with_children_under_their_parent() -> None:
    assert shown("started", True) == [
        "orphan", "a", "b", "├─ b-kid-2", "   └─ b-kid-2-grandkid", "└─ b-kid-1", "c",
    ]  # fmt: skip


def test_any_column_either_way_keeps_the_tree() -> None:
    assert shown("workflow id", True) == [
        "orphan", "c", "b", "├─ b-kid-2", "   └─ b-kid-2-grandkid", "└─ b-kid-1", "a",
    ]  # fmt: skip
    assert shown("workflow id", False) == [
        "a", "b", "├─ b-kid-1", "└─ b-kid-2", "   └─ b-kid-2-grandkid", "c", "orphan",
    ]  # fmt: skip
    # Equal keys (no turn): newest first among them.
    assert shown("turn", True)[0] == "c" and shown("turn", True)[1:3] == ["orphan", "a"]


def test_a_cycle_of_parents_still_lists_every_row_once() -> None:
    rows = [row("x", 1, parent="y"), row("y", 2, parent="x"), row("z", 3)]
    assert sorted(place.row.workflow_id for place in ordered(rows, "started", descending=True)) == ["x", "y", "z"]
