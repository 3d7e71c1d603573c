"""The step timeline: per step its status, start, duration, time to first token, tokens and tokens/s."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from wfwatch.reducer import SessionView, StepView
from wfwatch.text import one_line
from wfwatch.tui.timefmt import TimeFormat, duration, stamp

_ICON = {"running": ("▶", "yellow"), "completed": ("✔", "green"), "failed": ("✘", "red"), "cancelled": ("■", "magenta")}
MAX_STEPS = 6


def step_numbers(step: StepView, time_format: TimeFormat = "relative", origin: float = 0.0) -> str:
    """Start, duration, TTFT, tokens and tokens/s, each only where the stream carries it (no 1970)."""
    parts = []
    started = stamp(step.started_ts, "relative" if time_format == "off" else time_format, origin)
    if started:
        parts.append(f"@{started}")
    if step.duration_ms is not None:
        parts.append(duration(step.duration_ms))
    elif step.status == "running":  # still running, or finished without a measured duration (a framework's stream)
        parts.append("…")
    if step.ttft_ms is not None:
        parts.append(f"ttft {duration(step.ttft_ms)}")
    if step.tokens:
        parts.append(f"{step.tokens:,} tok")
        per_second = step.tokens_per_second
        if per_second:
            parts.append(f"{per_second:.0f} tok/s")
    return "  ".join(parts)


def render_timeline(view: SessionView, max_steps: int = MAX_STEPS, time_format: TimeFormat = "relative") -> Text:
    """The newest ``max_steps`` steps (a short terminal shows fewer: lanes need the rows more)."""
    text = Text(no_wrap=True, overflow="ellipsis")  # one row per step, whatever the width
    for step in view.steps[-max_steps:]:
        icon, style = _ICON.get(step.status, ("?", ""))
        text.append(f"{icon} ", style=style)
        text.append(one_line(f"t{step.turn} {step.lane}/{step.name}"))  # a name cannot add a fake step
        text.append(f"  {step_numbers(step, time_format, view.first_ts)}\n", style="dim")
    if not view.steps:
        text.append("no steps yet", style="dim")
    return text


class Timeline(Static):
    DEFAULT_CSS = """
    Timeline { height: auto; max-height: 8; border: round $panel; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, content: str = "", *, markup: bool = False) -> None:
        super().__init__(content, markup=markup)
        # Set here, not on mount: the screen's flush timer may reach a pane still being mounted.
        self._shown = Text()
        #: How many steps to show; the pane lowers it on a short terminal.
        self.max_steps = MAX_STEPS
        #: The pane's time format; steps show their start relative to the session unless it is absolute.
        self.time_format: TimeFormat = "off"

    def on_mount(self) -> None:
        self.border_title = "steps"

    def show(self, view: SessionView) -> None:
        """Redraw only when the steps changed; a layout pass only when the line count did."""
        text = render_timeline(view, self.max_steps, self.time_format)
        text.rstrip()  # no blank last row in the box: on a short terminal every row counts
        if text != self._shown:
            lines_changed = text.plain.count("\n") != self._shown.plain.count("\n")
            self._shown = text
            self.update(text, layout=lines_changed)
