"""The step timeline: status and duration per step."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from wfwatch.reducer import SessionView
from wfwatch.text import one_line

_ICON = {"running": ("▶", "yellow"), "completed": ("✔", "green"), "failed": ("✘", "red"), "cancelled": ("■", "magenta")}
MAX_STEPS = 6


def render_timeline(view: SessionView, max_steps: int = MAX_STEPS) -> Text:
    """The newest ``max_steps`` steps (a short terminal shows fewer: lanes need the rows more)."""
    text = Text()
    for step in view.steps[-max_steps:]:
        icon, style = _ICON.get(step.status, ("?", ""))
        if step.duration_ms is not None:
            duration = f"{step.duration_ms / 1000:.1f}s"
        else:  # still running, or finished without a measured duration (a framework's stream)
            duration = "…" if step.status == "running" else ""
        text.append(f"{icon} ", style=style)
        text.append(one_line(f"t{step.turn} {step.lane}/{step.name}"))  # a name cannot add a fake step
        text.append(f"  {duration}\n", style="dim")
    if not view.steps:
        text.append("no steps yet", style="dim")
    return text


class Timeline(Static):
    DEFAULT_CSS = """
    Timeline { height: auto; max-height: 8; border: round $panel; padding: 0 1; }
    """

    def __init__(self, content: str = "", *, markup: bool = False) -> None:
        super().__init__(content, markup=markup)
        # Set here, not on mount: the screen's flush timer may reach a pane still being mounted.
        self._shown = Text()
        #: How many steps to show; the pane lowers it on a short terminal.
        self.max_steps = MAX_STEPS

    def on_mount(self) -> None:
        self.border_title = "steps"

    def show(self, view: SessionView) -> None:
        """Redraw only when the steps changed; a layout pass only when the line count did."""
        text = render_timeline(view, self.max_steps)
        text.rstrip()  # no blank last row in the box: on a short terminal every row counts
        if text != self._shown:
            lines_changed = text.plain.count("\n") != self._shown.plain.count("\n")
            self._shown = text
            self.update(text, layout=lines_changed)
