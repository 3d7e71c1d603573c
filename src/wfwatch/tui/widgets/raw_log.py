"""The raw view: every record with its offset, superseded attempts marked."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from wfwatch import events
from wfwatch.reducer import SessionView
from wfwatch.text import sanitize

#: Records drawn in the raw view (the newest); the pane keeps more in memory.
SHOWN = 200
RAW_TITLE = "raw events (superseded attempts struck through)"
#: A Workflow Stream that carries no wfwatch events is shown item by item.
GENERIC_TITLE = "not a wfwatch session: every item with its offset and topic"


def _superseded(record: events.Record, latest: dict[str, int]) -> bool:
    item = record.item
    attempt = getattr(item, "attempt", None)
    message_id = getattr(item, "message_id", None)
    return bool(message_id) and attempt is not None and attempt < latest.get(str(message_id), 0)


def render_records(records: Sequence[events.Record], view: SessionView, *, generic: bool = False) -> Text:
    """The newest records, one a line; ``generic`` shows foreign items as ``topic  payload``."""
    latest = {m.message_id: m.attempt for lane in view.lanes for m in lane.messages}
    text = Text()
    for record in records[-SHOWN:]:
        superseded = _superseded(record, latest)
        item = record.item
        text.append(f"{record.offset:>7} ", style="dim")
        if generic and isinstance(item, events.UnknownItem) and item.topic:
            text.append(sanitize(item.topic), style="bold")
            text.append("  " + sanitize(events.payload_preview(item)) + "\n")
            continue
        style = (
            "strike dim" if superseded else ("red" if isinstance(item, events.InvalidItem | events.ErrorEvent) else "")
        )
        text.append(sanitize(_line(item)), style=style)
        if superseded:
            text.append("  (superseded)", style="italic yellow")
        text.append("\n")
    return text


def _line(item: events.Decoded) -> str:
    """Tokens compactly (``token t1-answer#2 answer ' keep'``), other events in full."""
    if isinstance(item, events.TokenDelta):
        return f"token {item.lane}/{item.message_id}#{item.attempt} {item.channel} {item.text!r}"
    return events.summarize(item)


def first_superseded_line(records: Sequence[events.Record], view: SessionView) -> int | None:
    """The line of the first superseded record shown, to scroll a reader to it."""
    latest = {m.message_id: m.attempt for lane in view.lanes for m in lane.messages}
    for line, record in enumerate(records[-SHOWN:]):
        if _superseded(record, latest):
            return line
    return None


class RawLog(VerticalScroll):
    """The last records of a device, re-rendered on the pane's flush timer."""

    DEFAULT_CSS = """
    RawLog { border: round $panel; }
    RawLog > Static { min-height: 100%; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._body = Static("", markup=False)

    def compose(self) -> ComposeResult:
        yield self._body

    def on_mount(self) -> None:
        self.border_title = RAW_TITLE
        self.anchor()  # follow new records until the user scrolls up (see LaneColumn)

    def show(self, records: Sequence[events.Record], view: SessionView, *, generic: bool = False) -> None:
        """Draw the newest records; ``generic`` titles it for a stream that is not a wfwatch session."""
        self.border_title = GENERIC_TITLE if generic else RAW_TITLE
        self._body.update(render_records(records, view, generic=generic))
