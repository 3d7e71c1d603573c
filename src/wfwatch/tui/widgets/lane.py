"""One agent's column: its canonical text, answer and reasoning apart.

Built on Textual's line API (a ``ScrollView`` that renders one line at a
time), like Textual's own ``Log``: the lane keeps its text wrapped into
lines, draws only the lines in view, and on each flush re-wraps only what
grew (:mod:`wfwatch.tui.wrap`). A ``Static`` holding the whole text re-wrapped
all of it on every flush and asked for a new layout each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from wfwatch.reducer import GapView, LaneView, MessageView, ToolCallView, rate
from wfwatch.text import one_line, sanitize
from wfwatch.tui.timefmt import TimeFormat, duration, stamp
from wfwatch.tui.wrap import WrappedText

#: Lines a lane keeps drawable; older ones are summarised in one line at the top.
MAX_LINES = 20_000

HEADER, REASONING, ANSWER, NOTE, PROMPT, TOOL, TOOL_FAILED = range(7)
#: Line kind -> style. Lines are kept as plain strings plus one byte of kind
#: each: a long lane holds tens of thousands of lines, and tuples of
#: (text, style) made the collector's full passes walk every one of them.
STYLES = (
    Style(bold=True),
    Style(italic=True, dim=True),
    Style(),
    Style(dim=True),
    Style(bold=True, color="cyan"),
    Style(color="yellow"),
    Style(color="red"),
)
_MATCH = Style(reverse=True)
_CURRENT_MATCH = Style(reverse=True, bold=True, color="yellow")


def _header(message: MessageView, when: str = "") -> str:
    retry = (
        f" (attempt {message.attempt}; superseded {list(message.superseded_attempts)})"
        if message.superseded_attempts
        else ""
    )
    return f"▌{one_line(message.message_id)}{retry}" + (f"  {when}" if when else "")


def _fit(text: str, cells: int) -> str:
    """``text`` cut to ``cells`` cells, an ellipsis marking the cut."""
    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, max(0, cells - 1)) + "…" if cells > 0 else ""


def tool_lines(tool: ToolCallView, width: int, expanded: bool, when: str = "") -> tuple[list[str], int]:
    """A tool call as lines: one (name, arguments, result, duration) collapsed, else all of it wrapped."""
    failed = tool.ok is False
    kind = TOOL_FAILED if failed else TOOL
    took = tool.duration_ms
    tail = f" {duration(took)}" if took is not None else (" running…" if tool.result is None else "")
    prefix = f"{when} " if when else ""
    name = one_line(tool.name)
    if not expanded:
        head = f"{prefix}▸ {name} "
        arguments = one_line(tool.arguments)
        result = "…" if tool.result is None else one_line(tool.result)
        arrow = " ✘ " if failed else " → "
        room = max(0, width - cell_len(head) - cell_len(tail) - cell_len(arrow))
        args_room = min(cell_len(arguments), max(room // 2, room - cell_len(result)))
        line = head + _fit(arguments, args_room) + arrow + _fit(result, room - min(cell_len(arguments), args_room))
        return [_fit(line + tail, width)], kind
    lines = [_fit(f"{prefix}▾ {name}{tail}", width)]
    for label, text in (("args ", tool.arguments), ("✘ " if failed else "→ ", tool.result)):
        if text is None:
            continue
        wrapped = WrappedText.of(_plain(text), max(1, width - 2 - len(label))).lines or [""]
        lines += [f"  {label if n == 0 else ' ' * len(label)}{line}" for n, line in enumerate(wrapped)]
    return lines, kind


def _plain(text: str) -> str:
    """Untrusted text made safe, tabs as spaces (a tab's width depends on where it lands)."""
    return sanitize(text).replace("\t", "    ")


@dataclass
class _Block:
    """One channel of one message, wrapped; grows in place while the message streams."""

    kind: int
    wrapped: WrappedText
    text: str = ""

    def take(self, text: str, width: int) -> bool:
        """Show ``text``; True when the lines changed."""
        if text == self.text and self.wrapped.width == width:
            return False
        if self.wrapped.width == width and text.startswith(self.text):
            self.wrapped.extend(text)
        else:  # narrower/wider, or the text changed under us: wrap afresh
            self.wrapped = WrappedText.of(text, width)
        self.text = text
        return True


@dataclass
class _MessageLines:
    """A message as lines: header, reasoning, answer (the canonical attempt only)."""

    attempt: int
    header: _Block
    reasoning: _Block
    answer: _Block
    lines: list[str]
    kinds: bytes

    #: The search the hits were found for, the lines they were found in, and the hits.
    searched: str = ""
    searched_lines: list[str] | None = None
    hits: tuple[tuple[int, int], ...] = ()

    def search(self, query: str) -> tuple[tuple[int, int], ...]:
        """``(line, column)`` of each case-insensitive match of ``query`` in this message's lines.

        A streaming message only grows at its end (the wrap is prefix-stable), so the
        lines before the first one that changed keep their hits and only the rest is searched.
        """
        lines, old = self.lines, self.searched_lines
        if old is lines and self.searched == query:
            return self.hits
        same = 0
        if old is not None and self.searched == query:
            limit = min(len(old), len(lines))
            while same < limit and old[same] == lines[same]:
                same += 1
            kept = tuple(hit for hit in self.hits if hit[0] < same)
        else:
            kept = ()
        fresh = find_all(lines[same:], query)
        self.hits = kept + tuple((same + line, column) for line, column in fresh)
        self.searched, self.searched_lines = query, lines
        return self.hits

    @classmethod
    def new(cls, message: MessageView, width: int, when: str = "") -> _MessageLines:
        made = cls(
            message.attempt,
            _Block(HEADER, WrappedText(width)),
            _Block(REASONING, WrappedText(width)),
            _Block(ANSWER, WrappedText(width)),
            [],
            b"",
        )
        made.take(message, width, when)
        return made

    def take(self, message: MessageView, width: int, when: str = "") -> bool:
        changed = self.header.take(_header(message, when), width)
        changed = self.reasoning.take(_plain(message.reasoning), width) or changed
        changed = self.answer.take(_plain(message.answer), width) or changed
        if changed:
            lines: list[str] = []
            kinds = bytearray()
            for block in (self.header, self.reasoning, self.answer):
                if block.text or block is self.header:
                    block_lines = block.wrapped.lines
                    lines += block_lines
                    kinds += bytes([block.kind]) * len(block_lines)
            self.lines, self.kinds = lines, bytes(kinds)
        return changed


def find_all(lines: list[str], query: str) -> list[tuple[int, int]]:
    """``(line, column)`` of every case-insensitive match of ``query`` in ``lines``."""
    if not query:
        return []
    needle = query.lower()
    found: list[tuple[int, int]] = []
    for number, line in enumerate(lines):
        if needle not in line.lower():
            continue
        lowered = line.lower()
        at = lowered.find(needle)
        while at >= 0:
            found.append((number, at))
            at = lowered.find(needle, at + len(needle))
    return found


def gap_line(gap: GapView) -> str:
    """The line a lane shows where offsets never reached this device."""
    return f"── offsets {gap.start}..{gap.end - 1} are gone ──"


def _gaps_after(lane: LaneView) -> dict[int, list[GapView | ToolCallView]]:
    """The lane's gaps and tool calls by how many messages come before each (where each is drawn), in offset order."""
    by_place: dict[int, list[GapView | ToolCallView]] = {}
    for gap in lane.gaps:
        by_place.setdefault(gap.after, []).append(gap)
    for tool in lane.tools:
        by_place.setdefault(tool.after, []).append(tool)
    if lane.gaps and lane.tools:
        for placed in by_place.values():
            placed.sort(key=lambda item: item.start if isinstance(item, GapView) else item.offset)
    return by_place


def _prompt_lines(text: str, width: int) -> list[str]:
    """A turn's user message, wrapped, as the main lane shows it above the turn's answer."""
    return WrappedText.of(f"you ▸ {_plain(text)}", width).lines


def lane_lines(
    lane: LaneView, width: int, prompts: Mapping[int, str] | None = None, *, expanded: bool = False
) -> list[tuple[str, Style]]:
    """A lane's canonical messages as wrapped ``(text, style)`` lines (what a column draws)."""
    lines: list[tuple[str, Style]] = []
    turn = None
    placed = _gaps_after(lane)

    def between(index: int) -> None:
        for item in placed.get(index, ()):
            if isinstance(item, GapView):
                lines.append((gap_line(item), STYLES[NOTE]))
            else:
                tool, kind = tool_lines(item, width, expanded)
                lines.extend((line, STYLES[kind]) for line in tool)

    for index, message in enumerate(lane.messages):
        between(index)
        if prompts and message.turn != turn and message.turn in prompts:
            lines += [(line, STYLES[PROMPT]) for line in _prompt_lines(prompts[message.turn], width)]
        turn = message.turn
        made = _MessageLines.new(message, width)
        lines += [(line, STYLES[kind]) for line, kind in zip(made.lines, made.kinds, strict=True)]
    between(len(lane.messages))
    return lines


def render_lane(lane: LaneView, width: int = 80, prompts: Mapping[int, str] | None = None) -> Text:
    """A lane as Rich text, for a device that is not a column (tests, a plain console)."""
    text = Text()
    for line, style in lane_lines(lane, width, prompts):
        text.append(line + "\n", style=style)
    return text


class LaneColumn(ScrollView):
    """A scrolling column for one lane; follows the tail unless the user scrolled up.

    Following is a state the user changes, not a position: scrolling up (wheel,
    keys, scrollbar) stops it; End, or scrolling back to the bottom, resumes it.
    A resize or a re-wrap moves the bottom but is not the user scrolling, so it
    never stops a following lane.
    """

    DEFAULT_CSS = """
    LaneColumn { width: 1fr; border: round $panel; padding: 0 1; overflow-x: hidden; }
    """

    def __init__(self, lane_name: str) -> None:
        super().__init__(classes="lane")
        self.lane_name = lane_name
        self.border_title = Text(one_line(lane_name))  # a Text, so "[/x]" in a name is not markup
        self._messages: dict[str, _MessageLines] = {}
        #: The main lane shows each turn's user message above the turn's first message.
        self._prompts: dict[int, str] = {}
        self._prompt_lines: dict[int, list[str]] = {}
        self._lines: list[str] = []
        self._kinds = bytearray()
        self._width = 0
        self._chars = 0
        self._status = ""
        self._lane: LaneView | None = None
        self._base_style: Style | None = None
        #: Drawn lines by index, with what they were drawn from: a flush redraws every line in view,
        #: and most of them (all but the streaming tail) did not change.
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}
        self._gaps = 0
        self._tools: tuple[ToolCallView, ...] = ()
        #: How the pane shows times and tool calls (it sets them before each show).
        self.time_format: TimeFormat = "off"
        self._origin = 0.0
        self.tools_expanded = False
        #: The width to wrap at while hidden (a small terminal's tabs): the pane sets the shown lane's.
        self.fallback_width = 0
        self._shown_as: tuple[TimeFormat, bool] = ("off", False)
        #: The search this lane highlights: its matches as ``(line, column)``, and the current one.
        self.search_query = ""
        self.matches: list[tuple[int, int]] = []
        self._hits_by_line: dict[int, list[int]] = {}
        self.current_match: tuple[int, int] | None = None
        self._flat_hits: list[tuple[int, int]] = []
        self._flat_hits_query = ""
        self._lane_tokens = 0
        self._follow = True
        #: The lane's record count when the reader stopped following.
        self._seen_records = 0
        #: Records that reached this lane since the reader scrolled up.
        self.unseen = 0

    @property
    def following(self) -> bool:
        """New text scrolls into view. Scrolling up stops it (End resumes)."""
        return self._follow

    def follow(self) -> None:
        """Resume following: jump to the newest line and keep it in view."""
        self._follow = True
        self.unseen = 0
        self._seen_records = self._lane.records if self._lane is not None else 0
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self._show_subtitle()

    def release_anchor(self) -> None:
        """Textual calls this when the user scrolls (wheel, keys, scrollbar): stop following."""
        super().release_anchor()
        if self._follow and self.max_scroll_y > 0:  # nothing to scroll: nothing to stop
            self._follow = False
            self._seen_records = self._lane.records if self._lane is not None else 0

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._follow and new_value >= self.max_scroll_y:  # scrolled back to the bottom
            self.follow()

    def action_scroll_end(self) -> None:
        self.follow()  # at once: an animated scroll ends short of text that arrived meanwhile

    def stop_following(self) -> None:
        """The reader moved away on purpose (a search went to a match): new text no longer scrolls."""
        if self._follow:
            self._follow = False
            self._seen_records = self._lane.records if self._lane is not None else 0

    def _show_subtitle(self) -> None:
        status = self._status
        lane = self._lane
        if lane is not None and lane.tokens:
            # The rate of the newest message: the lane's own rate would count the pauses between messages.
            newest = lane.messages[-1] if lane.messages else None
            per_second = rate(newest.tokens, newest.first_token_ts, newest.last_token_ts) if newest else None
            status += f" · {lane.tokens:,} tok" + (f" · {per_second:.0f} tok/s" if per_second else "")
        self.border_subtitle = f"{status} · +{self.unseen} new records (End follows)" if self.unseen else status

    # --- search ---------------------------------------------------------------

    def search(self, query: str) -> None:
        """Find ``query`` (case-insensitive) in every line this lane holds, not only those in view."""
        self.search_query = query
        self._find()
        self.refresh()

    def _find(self) -> None:
        """Matches are found per message and cached with its lines: a streaming lane re-searches only what grew."""
        if not self.search_query:
            self.matches, self._hits_by_line, self.current_match = [], {}, None
            return
        if self._flat_hits_query != self.search_query:
            self._flatten_for_search()
        found = self._flat_hits
        self.matches = found
        by_line: dict[int, list[int]] = {}
        for line, column in found:
            by_line.setdefault(line, []).append(column)
        self._hits_by_line = by_line

    def _flatten_for_search(self) -> None:
        if self._lane is not None and self._width > 0:
            self._flatten(self._lane)
        else:
            self._flat_hits = []
        self._flat_hits_query = self.search_query

    def show_match(self, match: tuple[int, int] | None) -> None:
        """Highlight ``match`` as the current one and scroll it into the middle of the lane."""
        self.current_match = match
        if match is not None:
            self.stop_following()
            height = self.scrollable_content_region.height
            self.scroll_to(y=max(0, match[0] - height // 2), animate=False, immediate=True, force=True)
            self._show_subtitle()
        self.refresh()

    @property
    def shown_text(self) -> str:
        """Every line the column can draw, as plain text (what a reader could scroll through)."""
        return "\n".join(self._lines)

    def show(self, lane: LaneView, prompts: Mapping[int, str] | None = None, origin: float = 0.0) -> None:
        """Take the lane's current view; re-wraps only messages that grew.

        ``prompts`` (turn -> user message) are shown above each turn's first
        message: the pane passes them to the session's own lane.
        """
        self._lane = lane
        if prompts is not None and prompts != self._prompts:
            self._prompts = dict(prompts)
            self._prompt_lines.clear()
            self._chars = -1  # re-flatten below
        # A lane hidden behind a tab is wrapped at the width the shown one has, so a search finds its text too.
        width = self.scrollable_content_region.width or self.fallback_width
        if width <= 0:
            return  # not laid out yet: wrap when it has a size (on_resize)
        chars = sum(len(m.answer) + len(m.reasoning) for m in lane.messages)
        shown_as = (self.time_format, self.tools_expanded)
        if (chars, lane.status, width, len(lane.messages), len(lane.gaps), lane.tools, shown_as) == (
            self._chars,
            self._status,
            self._width,
            len(self._messages),
            self._gaps,
            self._tools,
            self._shown_as,
        ) and (self.time_format == "off" or origin == self._origin):
            if lane.tokens != (self._lane_tokens):
                self._lane_tokens = lane.tokens
                self._show_subtitle()
            return  # nothing new in this lane
        if width != self._width:
            self._messages.clear()
            self._prompt_lines.clear()
            self._width = width
        changed = len(lane.gaps) != self._gaps or lane.tools != self._tools or shown_as != self._shown_as
        self._origin = origin
        mode = self.time_format
        for message in lane.messages:
            lines = self._messages.get(message.message_id)
            when = stamp(message.started_ts, mode, origin) if mode != "off" else ""
            if lines is None or lines.attempt != message.attempt:
                self._messages[message.message_id] = _MessageLines.new(message, width, when)
                changed = True
            else:
                changed = lines.take(message, width, when) or changed
        if changed or len(self._messages) != len(lane.messages) or (not self._prompt_lines and self._prompts):
            shown = {m.message_id for m in lane.messages}
            for gone in [m for m in self._messages if m not in shown]:
                del self._messages[gone]
            self._flatten(lane)
            self.virtual_size = Size(width, len(self._lines))
            if self.search_query:
                self._find()
        self._chars = chars
        self._status = lane.status
        self._gaps = len(lane.gaps)
        self._tools = lane.tools
        self._shown_as = shown_as
        self._lane_tokens = lane.tokens
        if self._follow:
            self.unseen = 0
            self._seen_records = lane.records
            # force: the scrollbar that makes the lane scrollable appears only at the next layout
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        else:
            self.unseen = max(0, lane.records - self._seen_records)
        self._show_subtitle()
        self.refresh()

    def _flatten(self, lane: LaneView) -> None:
        lines: list[str] = []
        kinds = bytearray()
        #: Search hits gathered per message as the lines are laid end to end (only re-searched where they grew).
        hits: list[tuple[int, int]] = []
        query = self.search_query
        turn = None
        placed = _gaps_after(lane) if lane.gaps or lane.tools else {}
        mode, origin = self.time_format, self._origin

        def between(index: int) -> None:
            for item in placed.get(index, ()):
                if isinstance(item, GapView):
                    extra, kind = [gap_line(item)], NOTE
                else:
                    when = stamp(item.ts, mode, origin) if mode != "off" else ""
                    extra, kind = tool_lines(item, self._width, self.tools_expanded, when)
                if query:
                    hits.extend((len(lines) + line, column) for line, column in find_all(extra, query))
                lines.extend(extra)
                kinds.extend(bytes([kind]) * len(extra))

        for index, message in enumerate(lane.messages):
            between(index)
            if message.turn != turn and message.turn in self._prompts:
                prompt = self._prompt_lines.get(message.turn)
                if prompt is None:
                    prompt = self._prompt_lines[message.turn] = _prompt_lines(self._prompts[message.turn], self._width)
                if query:
                    hits.extend((len(lines) + line, column) for line, column in find_all(prompt, query))
                lines += prompt
                kinds += bytes([PROMPT]) * len(prompt)
            turn = message.turn
            made = self._messages[message.message_id]
            if query:
                hits.extend((len(lines) + line, column) for line, column in made.search(query))
            lines += made.lines
            kinds += made.kinds
        between(len(lane.messages))
        if len(lines) > MAX_LINES:
            keep = MAX_LINES - 1
            cut = len(lines) - keep
            lines = [f"… {cut:,} earlier lines not shown", *lines[-keep:]]
            kinds = bytearray([NOTE]) + kinds[-keep:]
            hits = [(line - cut + 1, column) for line, column in hits if line >= cut]
        self._lines, self._kinds = lines, kinds
        self._flat_hits = hits
        self._flat_hits_query = query

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        stale = width != self._width or (self.time_format, self.tools_expanded) != self._shown_as
        if self._lane is not None and width > 0 and stale:
            # Also a change asked for while the lane had no size (shown again after the raw view).
            self.show(self._lane, None, self._origin)
        elif self._follow:  # taller or shorter: the bottom moved, keep it in view
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strips.clear()

    # --- text selection (Textual's: drag with the mouse, ctrl+c or y copies) ------------

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected part of every line the column can draw, as plain (sanitised) text."""
        return selection.extract(self.shown_text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        # Working out the widget's style walks the DOM: once per style change, not per line.
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[index]
        kind = self._kinds[index]
        columns = self._hits_by_line.get(index)
        current = self.current_match
        if current is not None and (not columns or current[0] != index):
            current = None  # the current match is on another line: nothing of it to draw here
        selection = self.text_selection
        span = selection.get_span(index) if selection is not None else None
        hits = (tuple(columns), len(self.search_query)) if columns else None
        key = (line, kind, hits, current, span, scroll_x, width, base)
        cached = self._strips.get(index)
        if cached is not None and cached[0] == key:
            return cached[1]
        if len(self._strips) > 4096:
            self._strips.clear()
        strip = self._draw(index, line, base + STYLES[kind], columns, current, span)
        # Offsets tell Textual which line and column the mouse is over: what makes the text selectable.
        strip = strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, index)
        self._strips[index] = (key, strip)
        return strip

    def _draw(
        self,
        index: int,
        line: str,
        style: Style,
        columns: list[int] | None,
        current: tuple[int, int] | None,
        span: tuple[int, int] | None,
    ) -> Strip:
        """One line, its search matches and the part of it that is selected highlighted."""
        segments = [Segment(line, style)]
        at = 0
        size = len(self.search_query)
        for column in columns or ():
            if column < at:
                continue  # overlaps the match before it
            mark = _CURRENT_MATCH if current == (index, column) else _MATCH
            segments = _restyle(segments, (column, column + size), mark)
            at = column + size
        if span is not None:
            segments = _restyle(segments, span, self.screen.get_component_rich_style("screen--selection"))
        return Strip(segments)


def _restyle(segments: list[Segment], span: tuple[int, int], style: Style) -> list[Segment]:
    """``segments`` with ``style`` added to characters ``start`` .. ``end`` (``end`` -1: to the end of the line).

    By character, not by cell (``Segment.divide`` cuts at cells): search columns and
    Textual's selection spans both count characters of the line.
    """
    start, end = span
    out: list[Segment] = []
    at = 0
    for segment in segments:
        text, segment_style, _ = segment
        stop = at + len(text)
        lo, hi = max(start, at), stop if end == -1 else min(end, stop)
        if lo >= hi:
            out.append(segment)
        else:
            if lo > at:
                out.append(Segment(text[: lo - at], segment_style))
            out.append(Segment(text[lo - at : hi - at], (segment_style or Style()) + style))
            if hi < stop:
                out.append(Segment(text[hi - at :], segment_style))
        at = stop
    return out
