"""The raw view: every record with its offset, superseded attempts marked.

Built on Textual's line API like the lanes: it draws only the rows in view,
so every record the pane retains is reachable by scrolling (a completed
stream read from offset 0 included), not just the newest screenful. A gap
is a row of its own that says which offsets are gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from wfwatch import events
from wfwatch.reducer import SessionView
from wfwatch.text import one_line
from wfwatch.tui.timefmt import TimeFormat, stamp

RAW_TITLE = "raw events (superseded attempts struck through)"
#: A Workflow Stream that carries no wfwatch events is shown item by item.
GENERIC_TITLE = "not a wfwatch session: every item with its offset and topic"

_DIM = Style(dim=True)
_GAP = Style(color="red", italic=True)


@dataclass(frozen=True, slots=True)
class GapRow:
    """Offsets ``start..end-1`` are gone: the device was told so, in place."""

    start: int
    end: int


Row = events.Record | GapRow


def _superseded(record: events.Record, latest: dict[str, int]) -> bool:
    """A record of an attempt the message has since moved past (framework items by their derived events)."""
    return any(_attempt_superseded(item, latest) for item in (record.item, *record.derived))


def _attempt_superseded(item: events.Decoded, latest: dict[str, int]) -> bool:
    attempt = getattr(item, "attempt", None)
    message_id = getattr(item, "message_id", None)
    return bool(message_id) and attempt is not None and attempt < latest.get(str(message_id), 0)


def latest_attempts(view: SessionView) -> dict[str, int]:
    return {m.message_id: m.attempt for lane in view.lanes for m in lane.messages}


def render_row(
    row: Row,
    latest: dict[str, int],
    *,
    generic: bool = False,
    time_format: TimeFormat = "off",
    origin: float = 0.0,
) -> Text:
    """One row as a line of text (untrusted parts sanitised), with its time when ``time_format`` asks."""
    text = Text(no_wrap=True, overflow="ellipsis")
    width = 12 if time_format == "absolute" else 9
    if isinstance(row, GapRow):
        text.append(f"{row.start:>7} ", style=_DIM)
        if time_format != "off":
            text.append(" " * (width + 1))
        text.append(f"── gap: offsets {row.start}..{row.end - 1} are gone ──", style=_GAP)
        return text
    item = row.item
    text.append(f"{row.offset:>7} ", style=_DIM)
    if time_format != "off":
        # A framework's item carries no time of its own: a blank column, never 1970.
        when = stamp(getattr(item, "ts", 0.0) or 0.0, time_format, origin)
        text.append(f"{when:>{width}} ", style=_DIM)
    if generic and isinstance(item, events.UnknownItem) and item.topic:
        text.append(one_line(item.topic), style="bold")
        text.append("  " + one_line(events.payload_preview(item)))
        return text
    superseded = _superseded(row, latest)
    style = "strike dim" if superseded else ("red" if isinstance(item, events.InvalidItem | events.ErrorEvent) else "")
    text.append(one_line(_line(row)), style=style)
    if superseded:
        text.append("  (superseded)", style="italic yellow")
    return text


def render_records(rows: Sequence[Row], view: SessionView, *, generic: bool = False) -> Text:
    """All ``rows``, one a line (for tests and exports; the widget draws only what is in view)."""
    latest = latest_attempts(view)
    return Text("\n").join(render_row(row, latest, generic=generic) for row in rows)


def _line(record: events.Record) -> str:
    """Tokens compactly (``token t1-answer#2 answer ' keep'``), other events in full."""
    item = record.item
    if isinstance(item, events.TokenDelta):
        return f"token {item.lane}/{item.message_id}#{item.attempt} {item.channel} {item.text!r}"
    if isinstance(item, events.UnknownItem) and record.schema:
        # A framework's item: its type and payload first, then what wfwatch made of it.
        named = item.type_name()
        kind = named[1] if named else "?"
        shown = f"{record.schema} {kind} on {item.topic!r}: {events.payload_preview(item)}"
        derived = ", ".join(_short(event) for event in record.derived)
        return f"{shown}  → {derived}" if derived else shown
    return events.summarize(item)


def _short(event: events.Event) -> str:
    if isinstance(event, events.TokenDelta):
        return f"token {event.lane}/{event.message_id}#{event.attempt} {event.channel}"
    if isinstance(event, events.AttemptStarted | events.MessageFinished):
        return f"{events.kind_of(event)} {event.lane}/{event.message_id}#{event.attempt}"
    return events.kind_of(event)


def first_superseded_line(rows: Sequence[Row], view: SessionView) -> int | None:
    """The line of the first superseded record, to scroll a reader to it."""
    latest = latest_attempts(view)
    for line, row in enumerate(rows):
        if isinstance(row, events.Record) and _superseded(row, latest):
            return line
    return None


class RawLog(ScrollView, can_focus=True):
    """Every record a device retains, one a line, drawn lazily; follows new records until scrolled up."""

    DEFAULT_CSS = """
    RawLog { border: round $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: Sequence[Row] = ()
        self._latest: dict[str, int] = {}
        self._generic = False
        self._dropped = 0
        #: Set by the pane: whether rows show their event's time, and relative to what.
        self.time_format: TimeFormat = "off"
        self._origin = 0.0

    def on_mount(self) -> None:
        self.border_title = RAW_TITLE
        self.anchor()  # follow new records until the user scrolls up

    def show(self, rows: Sequence[Row], view: SessionView, *, generic: bool = False, dropped: int = 0) -> None:
        """Draw ``rows``; ``dropped`` older ones the pane no longer keeps are summarised at the top."""
        self.border_title = GENERIC_TITLE if generic else RAW_TITLE
        self._rows = rows
        self._latest = latest_attempts(view)
        self._generic = generic
        self._dropped = dropped
        self._origin = view.first_ts
        self.virtual_size = Size(self.size.width, len(rows) + (1 if dropped else 0))
        self.refresh()

    def start_at_top(self) -> None:
        """After an explicit join: show the join's first record, not the newest."""
        self.anchor(False)
        self.scroll_home(animate=False, immediate=True)

    def lines(self) -> list[str]:
        """What the view holds as plain lines (the summary line included)."""
        head = [self._summary().plain] if self._dropped else []
        return head + [self._row_text(row).plain for row in self._rows]

    def _summary(self) -> Text:
        first = self._rows[0] if self._rows else None
        at = first.start if isinstance(first, GapRow) else first.offset if first is not None else 0
        return Text(
            f"… {self._dropped} earlier records not kept here: join offset N (j) to see them before {at}", style="dim"
        )

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected part of the rows (Textual's text selection: drag with the mouse, ctrl+c or y copies)."""
        return selection.extract("\n".join(self.lines())), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        line = self.scroll_offset.y + y
        index = line
        width = self.scrollable_content_region.width
        if self._dropped:
            if index == 0:
                return self._strip(self._summary(), width, line)
            index -= 1
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, self.rich_style)
        return self._strip(self._row_text(self._rows[index]), width, line)

    def _row_text(self, row: Row) -> Text:
        return render_row(row, self._latest, generic=self._generic, time_format=self.time_format, origin=self._origin)

    def _strip(self, text: Text, width: int, line: int) -> Strip:
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(line)) is not None:
            start, end = span
            text.stylize(
                self.screen.get_component_rich_style("screen--selection"), start, len(text) if end == -1 else end
            )
        segments = list(text.render(self.app.console))
        scroll_x = self.scroll_offset.x
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        # Offsets tell Textual which row and column the mouse is over: what makes the rows selectable.
        return (
            strip.extend_cell_length(width, self.rich_style).apply_style(self.rich_style).apply_offsets(scroll_x, line)
        )
