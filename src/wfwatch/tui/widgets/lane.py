"""One agent's column: its canonical text, answer and reasoning apart."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from wfwatch.reducer import LaneView
from wfwatch.text import sanitize

#: How much of a lane is rendered; older text is still in the view, just not drawn.
TAIL_CHARS = 6000


def render_lane(lane: LaneView) -> Text:
    """Canonical messages of a lane as Rich text (untrusted text stays literal)."""
    text = Text()
    budget = TAIL_CHARS
    parts: list[Text] = []
    for message in reversed(lane.messages):
        block = Text()
        retry = (
            f" (attempt {message.attempt}; superseded {list(message.superseded_attempts)})"
            if message.superseded_attempts
            else ""
        )
        block.append(f"▌{message.message_id}{retry}\n", style="bold")
        if message.reasoning:
            block.append(sanitize(message.reasoning[-budget:]) + "\n", style="italic dim")
        if message.answer:
            block.append(sanitize(message.answer[-budget:]) + "\n")
        parts.append(block)
        budget -= len(message.answer) + len(message.reasoning)
        if budget <= 0:
            break
    for block in reversed(parts):
        text.append_text(block)
    return text


class LaneColumn(VerticalScroll):
    """A scrolling column for one lane; follows the tail unless scrolled up."""

    DEFAULT_CSS = """
    LaneColumn { width: 1fr; border: round $panel; padding: 0 1; }
    LaneColumn > .lane-body { width: 1fr; }
    """

    def __init__(self, lane_name: str) -> None:
        super().__init__(id=None, classes="lane")
        self.lane_name = lane_name
        self.border_title = sanitize(lane_name)
        self._body = Static("", classes="lane-body", markup=False)
        self._chars = 0
        self.unseen = 0

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    @property
    def following(self) -> bool:
        """At the bottom: new text scrolls into view. Scrolling up stops it (End resumes)."""
        return self.scroll_y >= self.max_scroll_y - 1

    def show(self, lane: LaneView) -> None:
        chars = sum(len(m.answer) + len(m.reasoning) for m in lane.messages)
        if self.following:
            self.unseen = 0
            self.call_after_refresh(self.scroll_end, animate=False)
        else:
            self.unseen += max(0, chars - self._chars)
        self._chars = chars
        self.border_subtitle = f"{lane.status} · +{self.unseen} new (End follows)" if self.unseen else lane.status
        self._body.update(render_lane(lane))
