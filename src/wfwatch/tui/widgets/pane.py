"""A pane is one virtual device: its own subscription at its own offset.

The subscription runs in one exclusive worker per pane and only folds records
into the pane's :class:`~wfwatch.reducer.Reducer`; widgets are redrawn by
:meth:`Pane.flush` ~20 times a second when something changed, never once per
token. The watch screen flushes all its panes from one timer, so their
changes land in one frame instead of one frame per pane.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from wfwatch.events import MAIN_LANE
from wfwatch.export import Transcript
from wfwatch.hub import Join
from wfwatch.reducer import Reducer, SessionView
from wfwatch.text import sanitize
from wfwatch.tui.device import DeviceEnd, DeviceFactory, DeviceGap, DeviceOpened, DeviceRecords
from wfwatch.tui.host import dashboard
from wfwatch.tui.timefmt import TimeFormat
from wfwatch.tui.widgets.lane import LaneColumn
from wfwatch.tui.widgets.raw_log import GapRow, RawLog, Row
from wfwatch.tui.widgets.timeline import MAX_STEPS, Timeline

UPSTREAM_CHECK_INTERVAL = 0.5
#: Seconds without a new token after which the header's rate is the last one, marked idle.
RATE_IDLE = 3.0
#: Records a pane keeps for its raw view (all of them reachable by scrolling); older ones are
#: reached by joining at an offset.
RAW_KEEP = 20_000
#: A pane with less content height than this shows fewer steps (the steps box shrinks first).
COMPACT_HEIGHT = 30
COMPACT_STEPS = 2
#: Lanes get at least this many rows (border included) each, or they become tabs.
MIN_LANE_HEIGHT = 9
#: A lane column is at least this wide side by side; narrower panes wrap lanes into rows.
LANE_WIDTH = 36


@dataclass
class PaneStats:
    """What the pane header shows; kept here so tests can read it."""

    state: str = "connecting"
    head: int = 0
    received: int = 0
    #: Model tokens/s: from the tokens' own times where they carry them, else from when they arrived.
    rate: float = 0.0
    #: True while tokens keep arriving; after that the header shows the last rate as such.
    streaming: bool = False
    gaps: int = 0
    error: str = ""


@dataclass
class PaneMemory:
    """What a pane was when its screen closed: it comes back as it was, catching up from there."""

    name: str
    join: Join
    reducer: Reducer
    records: deque[Row]
    rows_seen: int
    next_offset: int | None
    head: int
    gaps: int
    raw_mode: bool
    resume_point: int | None
    resumed_at: int | None
    lane_tab: str | None = None
    tools_expanded: bool = False
    search_query: str = ""
    current_match: tuple[str, int, int] | None = None


class Pane(Vertical):
    """One device on one session: header, lanes, timeline, optional raw view."""

    can_focus = True
    BINDINGS = [
        Binding("end", "follow", "Follow (every lane)", show=False, id="pane.follow"),
        Binding("home", "scroll_lanes('home')", "Top of every lane", show=False, id="pane.home"),
        Binding("pageup", "scroll_lanes('page_up')", "Page up", show=False, id="pane.page_up"),
        Binding("pagedown", "scroll_lanes('page_down')", "Page down", show=False, id="pane.page_down"),
        Binding("left_square_bracket", "lane_tab(-1)", "Previous lane (tabs)", show=False, id="pane.prev_lane"),
        Binding("right_square_bracket", "lane_tab(1)", "Next lane (tabs)", show=False, id="pane.next_lane"),
        Binding("e", "toggle_tools", "Expand/collapse tool calls", show=False, id="pane.toggle_tools"),
        Binding("n", "next_match(1)", "Next search match", show=False, id="pane.next_match"),
        Binding("N", "next_match(-1)", "Previous search match", show=False, id="pane.previous_match"),
        Binding("y", "copy_message", "Copy the selection, else the lane's latest message", show=False, id="pane.copy"),
    ]

    class Ended(Message):
        """The session's stream ended for this pane (the workflow closed)."""

        def __init__(self, pane: Pane, status: str) -> None:
            super().__init__()
            self.pane = pane
            self.status = status

    def __init__(
        self,
        session_id: str,
        device_name: str,
        join: Join,
        open_device: DeviceFactory,
        memory: PaneMemory | None = None,
    ) -> None:
        super().__init__(classes="pane")
        self.session_id = session_id
        self.device_name = device_name
        self.join = join
        self._open_device = open_device
        self.reducer = _reducer_for(join)
        self.records: deque[Row] = deque(maxlen=RAW_KEEP)
        self._rows_seen = 0
        self.stats = PaneStats()
        self.raw_mode = False
        self._dirty = True
        self._lanes: dict[str, LaneColumn] = {}
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=40)
        self._header = Static("", classes="pane-header", markup=False)
        self._lane_row = Horizontal(classes="lanes")
        self._timeline = Timeline("", markup=False)
        self._raw = RawLog()
        self._next_offset: int | None = None
        self._upstream_checked = 0.0
        self._odd_items = 0
        self._schemas = ""
        self._generic = False
        self._shown_header = Text()
        #: Where this pane's device had left off before the pane first opened it
        #: (an earlier run, an earlier visit): what ``resume`` returns to.
        self.resume_point: int | None = None
        self._resume_point_known = False
        #: Set when the pane reconnected at its own position after a drop (the header says so).
        self.resumed_at: int | None = None
        self._tabs = Static("", classes="lane-tabs", markup=False)
        self.tab_mode = False
        self.lane_tab: str | None = None
        #: Set by the watch screen: how lanes and the raw view show event times.
        self.time_format: TimeFormat = "off"
        self.tools_expanded = False
        #: The search of this pane's lanes, and the current match as ``(lane, line, column)``.
        self.search_query = ""
        self.current_match: tuple[str, int, int] | None = None
        self._last_tokens = 0
        self._tokens_seen_at = 0.0
        #: How the workflow closed, once this pane's stream ended.
        self.end_status: str | None = None
        #: The match the reader was on when they left the session, until the lanes that hold it are drawn.
        self._match_to_restore: tuple[str, int, int] | None = None
        if memory is not None:
            self.join = memory.join
            self.reducer = memory.reducer
            self.records = memory.records
            self._rows_seen = memory.rows_seen
            self._next_offset = memory.next_offset
            self.stats.head = memory.head
            self.stats.gaps = memory.gaps
            self.raw_mode = memory.raw_mode
            self.resume_point = memory.resume_point
            self._resume_point_known = True
            self.resumed_at = memory.resumed_at
            self.lane_tab = memory.lane_tab
            self.tools_expanded = memory.tools_expanded
            # The lanes are searched again as they are drawn; the match the reader was on is shown again.
            self.search_query = memory.search_query
            self._match_to_restore = memory.current_match

    def remember(self) -> PaneMemory:
        """The pane as it is now, to bring back when the user returns to the session."""
        return PaneMemory(
            name=self.device_name,
            join=self.join,
            reducer=self.reducer,
            records=self.records,
            rows_seen=self._rows_seen,
            next_offset=self._next_offset,
            head=self.stats.head,
            gaps=self.stats.gaps,
            raw_mode=self.raw_mode,
            resume_point=self.resume_point,
            resumed_at=self.resumed_at,
            lane_tab=self.lane_tab,
            tools_expanded=self.tools_expanded,
            search_query=self.search_query,
            current_match=self.current_match,
        )

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._tabs
        yield self._lane_row
        yield self._timeline
        yield self._raw

    def on_mount(self) -> None:
        self._raw.display = False
        self._tabs.display = False
        self.connect()

    # --- the device ---------------------------------------------------------

    @property
    def view(self) -> SessionView:
        return self.reducer.view()

    @property
    def connected(self) -> bool:
        return self.stats.state in ("live", "catching up", "connecting", "ended")

    def connect(self, join: Join | None = None) -> None:
        """(Re)start the subscription: resume from where this pane is, or ``join``."""
        if join is not None:
            # An explicit join is a new position: the pane shows what the
            # device receives from there, not a splice onto what it had.
            self.join = join
            self.reducer = _reducer_for(join)
            self.records.clear()
            self._rows_seen = 0
            if join.mode != "live" and self._raw.is_mounted:
                self._raw.start_at_top()
            self.stats = PaneStats(head=self.stats.head)
            self._rate_window.clear()
            self._next_offset = None
            self.resumed_at = None
            self.end_status = None
            self.current_match = None
        resume_at = self._next_offset
        if resume_at is None and self.join.mode == "resume" and self.resume_point is not None:
            # Where the device was before this pane moved it, not where this pane has read to.
            resume_at = self.resume_point
        elif resume_at is not None:
            self.resumed_at = resume_at
        self.stats.state = "connecting"
        self._dirty = True
        self._subscribe(resume_at)

    def disconnect(self) -> None:
        """Simulate a network drop: nothing arrives until :meth:`connect`."""
        self.workers.cancel_group(self, "pane")
        self.stats.state = "disconnected"
        self._dirty = True

    @work(exclusive=True, group="pane")
    async def _subscribe(self, resume_at: int | None) -> None:
        try:
            async for result in self._open_device(self.session_id, self.device_name, self.join, resume_at):
                if isinstance(result, DeviceOpened):
                    if not self._resume_point_known:
                        self._resume_point_known = True
                        self.resume_point = result.resume_point
                    self._next_offset = result.position
                    self.stats.head = max(self.stats.head, result.head)
                    if result.position == result.head:
                        self.stats.state = "live"  # at the head of an idle stream: nothing is coming yet
                    elif result.position > result.head:
                        self.stats.state = "waiting"
                        self.stats.error = (
                            f"offset {result.position} is beyond the head ({result.head}): "
                            "nothing to show until the stream gets there"
                        )
                elif isinstance(result, DeviceRecords):
                    # As applied: a framework's items come back with the events they stand for.
                    self.records.extend(self.reducer.feed(result.records))
                    self._rows_seen += len(result.records)
                    self.stats.received += len(result.records)
                    self.stats.head = max(self.stats.head, result.head)
                    self._next_offset = result.next_offset
                    self.stats.state = "live" if result.next_offset >= result.head else "catching up"
                    self.stats.error = ""
                elif isinstance(result, DeviceGap):
                    self.stats.gaps += 1
                    self.reducer.gap(result.start, result.end)
                    self.records.append(GapRow(result.start, result.end))
                    self._rows_seen += 1
                    self._next_offset = result.end
                elif isinstance(result, DeviceEnd):
                    if self._next_offset is not None and self._next_offset > result.next_offset:
                        self.stats.error = f"offset {self._next_offset} is beyond the head ({result.next_offset})"
                    self.stats.state = "ended"
                    self.end_status = result.status
                    self._next_offset = result.next_offset
                    self.stats.head = max(self.stats.head, result.next_offset)
                    self.post_message(self.Ended(self, result.status))
                self._dirty = True
        except Exception as err:  # shown in the header; the app keeps running
            self.stats.state = "error"
            self.stats.error = sanitize(str(err).splitlines()[0] if str(err) else type(err).__name__)
            self._dirty = True

    # --- drawing ------------------------------------------------------------

    def toggle_raw(self) -> None:
        self.raw_mode = not self.raw_mode
        self._dirty = True

    def _check_upstream(self, now: float) -> None:
        """Show a server outage the hub is riding out, instead of a silent "live"."""
        upstream = dashboard(self).services.upstream
        if upstream is None or now - self._upstream_checked < UPSTREAM_CHECK_INTERVAL:
            return
        self._upstream_checked = now
        trouble = upstream(self.session_id).trouble
        if trouble and self.stats.state in ("live", "catching up", "connecting"):
            self.stats.state = "reconnecting"
            self.stats.error = sanitize(trouble.splitlines()[0])
            self._dirty = True
        elif not trouble and self.stats.state == "reconnecting":
            self.stats.state = "live"
            self.stats.error = ""
            self._dirty = True

    def flush(self) -> None:
        """Redraw what changed since the last flush (the watch screen calls this on its timer)."""
        now = dashboard(self).services.monotonic()
        self._check_upstream(now)
        self._measure_rate(now)
        if self.tab_mode and not self._dirty and self._hidden_lanes_unwrapped():
            self._dirty = True
        if not self._dirty:
            self._show_header()
            return
        self._dirty = False
        view = self.reducer.view()
        self._odd_items = len(view.odd_items)
        self._schemas = ", ".join(sorted({schema for _, schema in view.schemas}))
        self._generic = generic = is_generic(view)
        self._show_header()
        show_raw = self.raw_mode or generic
        # Only real changes: each one costs the screen a layout pass.
        if self._raw.display != show_raw:
            self._raw.display = show_raw
            self._lane_row.display = not show_raw
        if self._timeline.display == generic:
            self._timeline.display = not generic  # a foreign stream has no steps to show
        if show_raw:
            self._raw.time_format = self.time_format
            self._raw.show(self.records, view, generic=generic, dropped=self._rows_seen - len(self.records))
        else:
            self._show_lanes(view)
        self._timeline.time_format = self.time_format
        self._timeline.show(view)

    def _measure_rate(self, now: float) -> None:
        """Model tokens/s: by the tokens' own times (a replay shows the rate the model produced at),
        else by arrival; a pane that stopped receiving tokens keeps showing the last rate, marked idle."""
        tokens = self.reducer.token_count
        if tokens != self._last_tokens:
            self._last_tokens = tokens
            self._tokens_seen_at = now
        self._rate_window.append((now, tokens))
        self.stats.streaming = tokens > 0 and now - self._tokens_seen_at < RATE_IDLE
        if not self.stats.streaming:
            return
        timed = self.reducer.token_rate
        if timed is not None:
            self.stats.rate = timed
            return
        first_t, first_n = self._rate_window[0]
        self.stats.rate = (tokens - first_n) / (now - first_t) if now > first_t else 0.0

    def _show_lanes(self, view: SessionView) -> None:
        """One column per lane, in the view's lane order (the same on every device)."""
        prompts = {turn.turn: turn.user_message for turn in view.turns if turn.user_message}
        shown_width = max(
            (c.scrollable_content_region.width for c in self._lane_row.children if c.display and c.is_mounted),
            default=0,
        )
        for position, lane in enumerate(view.lanes):
            column = self._lanes.get(lane.name)
            if column is None:
                column = self._lanes[lane.name] = LaneColumn(lane.name)
                siblings = list(self._lane_row.children)
                if position < len(siblings):
                    self._lane_row.mount(column, before=siblings[position])
                else:
                    self._lane_row.mount(column)
            elif list(self._lane_row.children).index(column) != position:
                self._lane_row.move_child(column, before=position)
            column.time_format = self.time_format
            column.tools_expanded = self.tools_expanded
            column.fallback_width = shown_width
            column.show(lane, prompts if lane.name == MAIN_LANE else None, view.first_ts)
            if self.search_query and column.search_query != self.search_query:
                column.search(self.search_query)
        self._arrange_lanes()
        if self.search_query:
            self._keep_match()

    def _arrange_lanes(self) -> None:
        """Lay the lanes out for the pane's size: the steps box shrinks first, then lanes become tabs.

        Lanes sit side by side while they fit (~36 cells each), else wrap into a
        grid; when that would leave a lane fewer than ``MIN_LANE_HEIGHT`` rows,
        one lane shows at a time under a tab strip (``[`` / ``]`` switch).
        Only real changes are applied: each costs the screen a layout pass.
        """
        width, height = self.size
        if width <= 0 or height <= 0:
            return
        steps = COMPACT_STEPS if height < COMPACT_HEIGHT else MAX_STEPS
        if self._timeline.max_steps != steps:
            self._timeline.max_steps = steps
            self._dirty = True  # redrawn at the next flush
        names = [column.lane_name for column in self._lane_row.children if isinstance(column, LaneColumn)]
        count = len(names)
        columns = max(1, min(count, width // LANE_WIDTH or 1))
        rows = -(-count // columns) if count else 1
        lanes_height = height - 1 - (self._timeline.max_steps + 2)
        tab_mode = count > 1 and lanes_height // rows < MIN_LANE_HEIGHT
        if tab_mode:
            columns = 1
            if self.lane_tab not in names:
                self.lane_tab = names[0]
        if self._lane_row.styles.grid_size_columns != columns:
            self._lane_row.styles.grid_size_columns = columns
        for column in self._lane_row.children:
            if isinstance(column, LaneColumn):
                shown = not tab_mode or column.lane_name == self.lane_tab
                if column.display != shown:
                    column.display = shown
        if self._tabs.display != tab_mode:
            self._tabs.display = tab_mode
        self.tab_mode = tab_mode
        if tab_mode:
            self._show_tabs()
            if self._hidden_lanes_unwrapped():
                self._dirty = True

    def _hidden_lanes_unwrapped(self) -> bool:
        """Lanes hidden behind tabs wrap at the shown lane's width (so search finds their text): is it new?"""
        lanes = [c for c in self._lane_row.children if isinstance(c, LaneColumn)]
        shown_width = max((c.scrollable_content_region.width for c in lanes if c.display), default=0)
        return bool(shown_width) and any(c.fallback_width != shown_width for c in lanes)

    def _show_tabs(self) -> None:
        """The tab strip: every lane by name, the shown one highlighted, others' unseen records counted."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for column in self._lane_row.children:
            if not isinstance(column, LaneColumn):
                continue
            selected = column.lane_name == self.lane_tab
            text.append(f" {sanitize(column.lane_name)} ", style="reverse" if selected else "dim")
            if column.unseen and not selected:
                text.append(f"+{column.unseen} ", style="yellow")
        text.append("  [ ] switch lanes", style="dim")
        if text != self._tabs.content:
            self._tabs.update(text, layout=False)

    def on_resize(self) -> None:
        self._arrange_lanes()

    # --- keys ----------------------------------------------------------------

    def _columns(self) -> list[LaneColumn]:
        return [c for c in self._lane_row.children if isinstance(c, LaneColumn) and c.display]

    def action_follow(self) -> None:
        """End: every lane of this pane (and the raw view) follows new text again."""
        for column in self._columns():
            column.follow()
        self._raw.scroll_end(animate=False, immediate=True)
        if self.tab_mode:
            self._show_tabs()

    def action_scroll_lanes(self, how: str) -> None:
        """Home / PageUp / PageDown on a focused pane move every lane it shows (scrolling up stops follow)."""
        for column in self._columns():
            if how == "home":
                column.scroll_home(animate=False, immediate=True)
            elif how == "page_up":
                column.scroll_page_up(animate=False)
            else:
                column.scroll_page_down(animate=False)

    def action_lane_tab(self, step: int) -> None:
        names = [c.lane_name for c in self._lane_row.children if isinstance(c, LaneColumn)]
        if not self.tab_mode or not names:
            return
        index = names.index(self.lane_tab) if self.lane_tab in names else 0
        self.lane_tab = names[(index + step) % len(names)]
        self._arrange_lanes()
        self._dirty = True

    def set_time_format(self, mode: TimeFormat) -> None:
        self.time_format = mode
        self._dirty = True

    def action_toggle_tools(self) -> None:
        """e: every tool call in this pane's lanes expanded (arguments and result in full) or one line each."""
        self.tools_expanded = not self.tools_expanded
        self._dirty = True
        self.flush()

    # --- search -------------------------------------------------------------------

    def _all_columns(self) -> list[LaneColumn]:
        return [c for c in self._lane_row.children if isinstance(c, LaneColumn)]

    def search(self, query: str) -> None:
        """Incremental search of every lane's retained text (the sanitised text as displayed)."""
        self.search_query = query
        self.current_match = None
        for column in self._all_columns():
            column.search(query)
        if query:
            self.action_next_match(1, from_start=True)
        else:
            for column in self._all_columns():
                column.show_match(None)

    @property
    def matches(self) -> list[tuple[str, int, int]]:
        """Every match in lane order: ``(lane, line, column)``."""
        return [(c.lane_name, line, col) for c in self._all_columns() for line, col in c.matches]

    def action_next_match(self, step: int = 1, *, from_start: bool = False) -> None:
        """n / N: the next or previous match, wrapping around; the lane scrolls to it (and stops following)."""
        matches = self.matches
        if not matches:
            self.current_match = None
            return
        if self.current_match in matches and not from_start:
            index = (matches.index(self.current_match) + step) % len(matches)
        else:
            index = 0 if step > 0 else len(matches) - 1
        self._go_to(matches[index])

    def _go_to(self, match: tuple[str, int, int]) -> None:
        self.current_match = match
        lane, line, column = match
        if self.tab_mode and self.lane_tab != lane:
            self.lane_tab = lane
            self._arrange_lanes()
        for each in self._all_columns():
            each.show_match((line, column) if each.lane_name == lane else None)
        if self.tab_mode:
            self._show_tabs()

    def _keep_match(self) -> None:
        """Lines moved (text streamed in): keep the current match highlighted, or take the first."""
        restore = self._match_to_restore
        if restore is not None:
            matches = self.matches
            if restore in matches:
                self._match_to_restore = None
                self._go_to(restore)
                return
            if restore[0] not in {lane for lane, _, _ in matches}:
                return  # its lane is not drawn yet
            self._match_to_restore = None
        if self.current_match is None and self.matches:
            self._go_to(self.matches[0])

    # --- copy ------------------------------------------------------------------------

    def latest_message_text(self) -> str | None:
        """The newest message's answer in the lane the reader looks at (the shown tab, else main)."""
        view = self.reducer.view()
        name = self.lane_tab if self.tab_mode and self.lane_tab else MAIN_LANE
        focused = self.screen.focused if self.is_attached else None
        if isinstance(focused, LaneColumn):
            name = focused.lane_name
        lane = view.lane(name)
        if lane is None or not lane.messages:
            return None
        return next((m.answer for m in reversed(lane.messages) if m.answer), None)

    def action_copy_message(self) -> None:
        """y: the text selected with the mouse, else the lane's latest message (its canonical text) to the clipboard."""
        selected = self.screen.get_selected_text() if self.is_attached else None
        if selected:
            # Lanes and the raw view hold their text sanitised: the selection is what they show.
            self.app.copy_to_clipboard(selected)
            self.notify(f"copied the selection, {len(selected):,} characters", timeout=2)
            return
        text = self.latest_message_text()
        if text is None:
            self.notify("nothing to copy yet", severity="warning")
            return
        # What the lane shows: escapes and invisible characters as placeholders, so a paste cannot run them.
        self.app.copy_to_clipboard(sanitize(text))
        self.notify(f"copied {len(text):,} characters", timeout=2)

    # --- export ----------------------------------------------------------------------

    def transcript(self) -> Transcript:
        """What this pane's device received, as ``wfwatch export`` reads a session (gaps where they fell)."""
        made = Transcript(self.session_id)
        for row in self.records:
            if isinstance(row, GapRow):
                made.add_gap(row.start, row.end)
            else:
                made.records.append(row)
        made.end = self.end_status
        made.next_offset = self._next_offset if self._next_offset is not None else self.reducer.next_offset
        return made

    @property
    def transcript_is_whole(self) -> bool:
        """The pane holds the session from offset 0 and has dropped nothing: its export is the whole session."""
        return self.reducer.view().first_offset in (0, None) and self._rows_seen == len(self.records)

    def _show_header(self) -> None:
        """Redraw the one-line header when its text changed (no layout: its size is fixed)."""
        text = self._header_text()
        if text != self._shown_header:
            self._shown_header = text
            self._header.update(text, layout=False)

    def _header_text(self) -> Text:
        # Where the device is: before its first record, where it joined (not 0).
        position = self._next_offset if self._next_offset is not None else self.reducer.next_offset
        lag = max(0, self.stats.head - position)
        state_style = {"live": "green", "ended": "blue", "disconnected": "red", "error": "red"}.get(
            self.stats.state, "yellow"
        )
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {self.device_name} ", style="reverse")
        text.append(f" {self.stats.state} ", style=state_style)
        # A dropped device cannot know how far the head moved: say so rather than "lag 0".
        head, lag_text = ("?", "?") if self.stats.state == "disconnected" else (str(self.stats.head), str(lag))
        text.append(f" {position}/{head}  lag {lag_text}  ")
        rate = f"{self.stats.rate:.0f} tok/s"
        text.append(rate if self.stats.streaming or not self._last_tokens else f"last {rate}")
        reducer = self.reducer
        text.append(f"  turns {reducer.turn_count}  {reducer.token_count:,} tok")
        if reducer.retries:
            text.append(f"  retries {reducer.retries}", style="yellow")
        text.append(f"  join={self._join_text()}")
        if self._schemas:
            text.append(f"  {self._schemas}", style="cyan")
        if self.stats.gaps:
            text.append(f"  gaps {self.stats.gaps}", style="red")
        if self._odd_items and not self._generic:
            text.append(f"  {self._odd_items} not wfwatch (v)", style="yellow")
        if self.stats.error:
            text.append(f"  {self.stats.error}", style="red")
        return text

    def _join_text(self) -> str:
        """How this device got where it is: its join, and where it picked up again after a drop."""
        if self.join.mode == "resume" and self.resume_point is not None and self.resumed_at is None:
            return f"resume @{self.resume_point}"
        if self.resumed_at is not None:
            return f"{self.join.describe()}, resumed @{self.resumed_at}"
        return self.join.describe()


def _reducer_for(join: Join) -> Reducer:
    """A framework's turns are counted by folding its stream: a pane joining at turn N starts at N."""
    return Reducer(turns_before=join.turn - 1 if join.mode == "turn" and join.turn else 0)


def is_generic(view: SessionView) -> bool:
    """Items arrived but none is a wfwatch event: a foreign Workflow Stream, shown item by item."""
    return bool(view.odd_items) and not (view.lanes or view.turns or view.steps)


PaneFactory = Callable[[str, str, Join], Pane]
