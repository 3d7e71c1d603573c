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

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from wfwatch.reducer import GapView, LaneView, MessageView
from wfwatch.text import one_line, sanitize
from wfwatch.tui.wrap import WrappedText

#: Lines a lane keeps drawable; older ones are summarised in one line at the top.
MAX_LINES = 20_000

HEADER, REASONING, ANSWER, NOTE, PROMPT = range(5)
#: Line kind -> style. Lines are kept as plain strings plus one byte of kind
#: each: a long lane holds tens of thousands of lines, and tuples of
#: (text, style) made the collector's full passes walk every one of them.
STYLES = (Style(bold=True), Style(italic=True, dim=True), Style(), Style(dim=True), Style(bold=True, color="cyan"))


def _header(message: MessageView) -> str:
    retry = (
        f" (attempt {message.attempt}; superseded {list(message.superseded_attempts)})"
        if message.superseded_attempts
        else ""
    )
    return f"▌{one_line(message.message_id)}{retry}"


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

    @classmethod
    def new(cls, message: MessageView, width: int) -> _MessageLines:
        made = cls(
            message.attempt,
            _Block(HEADER, WrappedText(width)),
            _Block(REASONING, WrappedText(width)),
            _Block(ANSWER, WrappedText(width)),
            [],
            b"",
        )
        made.take(message, width)
        return made

    def take(self, message: MessageView, width: int) -> bool:
        changed = self.header.take(_header(message), width)
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


def gap_line(gap: GapView) -> str:
    """The line a lane shows where offsets never reached this device."""
    return f"── offsets {gap.start}..{gap.end - 1} are gone ──"


def _gaps_after(lane: LaneView) -> dict[int, list[GapView]]:
    """The lane's gaps by how many messages come before each (where each is drawn)."""
    by_place: dict[int, list[GapView]] = {}
    for gap in lane.gaps:
        by_place.setdefault(gap.after, []).append(gap)
    return by_place


def _prompt_lines(text: str, width: int) -> list[str]:
    """A turn's user message, wrapped, as the main lane shows it above the turn's answer."""
    return WrappedText.of(f"you ▸ {_plain(text)}", width).lines


def lane_lines(lane: LaneView, width: int, prompts: Mapping[int, str] | None = None) -> list[tuple[str, Style]]:
    """A lane's canonical messages as wrapped ``(text, style)`` lines (what a column draws)."""
    lines: list[tuple[str, Style]] = []
    turn = None
    gaps = _gaps_after(lane)
    for index, message in enumerate(lane.messages):
        lines += [(gap_line(gap), STYLES[NOTE]) for gap in gaps.get(index, ())]
        if prompts and message.turn != turn and message.turn in prompts:
            lines += [(line, STYLES[PROMPT]) for line in _prompt_lines(prompts[message.turn], width)]
        turn = message.turn
        made = _MessageLines.new(message, width)
        lines += [(line, STYLES[kind]) for line, kind in zip(made.lines, made.kinds, strict=True)]
    lines += [(gap_line(gap), STYLES[NOTE]) for gap in gaps.get(len(lane.messages), ())]
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
        self._gaps = 0
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

    def _show_subtitle(self) -> None:
        status = self._status
        self.border_subtitle = f"{status} · +{self.unseen} new records (End follows)" if self.unseen else status

    @property
    def shown_text(self) -> str:
        """Every line the column can draw, as plain text (what a reader could scroll through)."""
        return "\n".join(self._lines)

    def show(self, lane: LaneView, prompts: Mapping[int, str] | None = None) -> None:
        """Take the lane's current view; re-wraps only messages that grew.

        ``prompts`` (turn -> user message) are shown above each turn's first
        message: the pane passes them to the session's own lane.
        """
        self._lane = lane
        if prompts is not None and prompts != self._prompts:
            self._prompts = dict(prompts)
            self._prompt_lines.clear()
            self._chars = -1  # re-flatten below
        width = self.scrollable_content_region.width
        if width <= 0:
            return  # hidden or not laid out yet: wrap when it has a size (on_resize)
        chars = sum(len(m.answer) + len(m.reasoning) for m in lane.messages)
        if (chars, lane.status, width, len(lane.messages), len(lane.gaps)) == (
            self._chars,
            self._status,
            self._width,
            len(self._messages),
            self._gaps,
        ):
            return  # nothing new in this lane
        if width != self._width:
            self._messages.clear()
            self._prompt_lines.clear()
            self._width = width
        changed = len(lane.gaps) != self._gaps
        for message in lane.messages:
            lines = self._messages.get(message.message_id)
            if lines is None or lines.attempt != message.attempt:
                self._messages[message.message_id] = _MessageLines.new(message, width)
                changed = True
            else:
                changed = lines.take(message, width) or changed
        if changed or len(self._messages) != len(lane.messages) or (not self._prompt_lines and self._prompts):
            shown = {m.message_id for m in lane.messages}
            for gone in [m for m in self._messages if m not in shown]:
                del self._messages[gone]
            self._flatten(lane)
            self.virtual_size = Size(width, len(self._lines))
        self._chars = chars
        self._status = lane.status
        self._gaps = len(lane.gaps)
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
        turn = None
        gaps = _gaps_after(lane) if lane.gaps else {}
        for index, message in enumerate(lane.messages):
            for gap in gaps.get(index, ()):
                lines.append(gap_line(gap))
                kinds.append(NOTE)
            if message.turn != turn and message.turn in self._prompts:
                prompt = self._prompt_lines.get(message.turn)
                if prompt is None:
                    prompt = self._prompt_lines[message.turn] = _prompt_lines(self._prompts[message.turn], self._width)
                lines += prompt
                kinds += bytes([PROMPT]) * len(prompt)
            turn = message.turn
            made = self._messages[message.message_id]
            lines += made.lines
            kinds += made.kinds
        for gap in gaps.get(len(lane.messages), ()):
            lines.append(gap_line(gap))
            kinds.append(NOTE)
        if len(lines) > MAX_LINES:
            keep = MAX_LINES - 1
            lines = [f"… {len(lines) - keep:,} earlier lines not shown", *lines[-keep:]]
            kinds = bytearray([NOTE]) + kinds[-keep:]
        self._lines, self._kinds = lines, kinds

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if self._lane is not None and width > 0 and width != self._width:
            self.show(self._lane)
        elif self._follow:  # taller or shorter: the bottom moved, keep it in view
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None

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
        strip = Strip([Segment(self._lines[index], base + STYLES[self._kinds[index]])])
        return strip.crop_extend(scroll_x, scroll_x + width, base)
