"""One agent's column: its canonical text, answer and reasoning apart."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from wfwatch.reducer import LaneView
from wfwatch.text import sanitize

#: How much of a lane is rendered at most; older text stays in the view, undrawn.
TAIL_CHARS = 6000


def render_lane(lane: LaneView, budget: int = TAIL_CHARS) -> Text:
    """The tail of a lane's canonical messages as Rich text (untrusted text stays literal).

    Only about ``budget`` characters are drawn: wrapping is what costs in a
    token stream, and a column shows a screenful at a time.
    """
    text = Text()
    parts: list[Text] = []
    for message in reversed(lane.messages):
        block = Text()
        retry = (
            f" (attempt {message.attempt}; superseded {list(message.superseded_attempts)})"
            if message.superseded_attempts
            else ""
        )
        block.append(f"▌{sanitize(message.message_id)}{retry}\n", style="bold")
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
    LaneColumn > .lane-body { width: 1fr; min-height: 100%; }
    """

    def __init__(self, lane_name: str) -> None:
        super().__init__(id=None, classes="lane")
        self.lane_name = lane_name
        self.border_title = Text(sanitize(lane_name))  # a Text, so "[/x]" in a name is not markup
        self._body = Static("", classes="lane-body", markup=False)
        self._chars = 0
        self._status = ""
        self._messages = 0
        self.unseen = 0

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def on_mount(self) -> None:
        # Textual keeps an anchored widget at its bottom as content grows (in layout, so
        # never a frame behind); a user scroll releases the anchor, and scrolling back to
        # the bottom (End) restores it. The body's min-height keeps short text at the top.
        self.anchor()

    @property
    def following(self) -> bool:
        """At the bottom: new text scrolls into view. Scrolling up stops it (End resumes)."""
        return self.scroll_y >= self.max_scroll_y - 1

    def show(self, lane: LaneView) -> None:
        chars = sum(len(m.answer) + len(m.reasoning) for m in lane.messages)
        if chars == self._chars and lane.status == self._status and self._messages == len(lane.messages):
            return  # nothing new in this lane: skip the (costly) re-wrap
        self._status = lane.status
        self._messages = len(lane.messages)
        if self.following:
            self.unseen = 0
        else:
            self.unseen += max(0, chars - self._chars)
        self._chars = chars
        self.border_subtitle = f"{lane.status} · +{self.unseen} new (End follows)" if self.unseen else lane.status
        # Enough to fill the column twice over while following; more when scrolled back.
        screenful = max(1000, self.size.width * max(self.size.height, 10))
        self._body.update(render_lane(lane, 2 * screenful if self.following else TAIL_CHARS))
