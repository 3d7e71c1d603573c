"""The ``?`` help screen, generated from the screens' own bindings."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

ABOUT = (
    "Each pane is a hub device: its own position on the session, while the hub reads the session "
    "from Temporal once for all of them. Join modes: start (offset 0), live (the current head), "
    "offset N, turn N, resume (where this pane's device left off, even in an earlier run). "
    "Drop a pane to simulate a network cut; reconnect and it catches up from its position. "
    "The devices panel (p) lists every device with its position and lag. "
    "The raw view lists every event with its offset, superseded retry attempts struck through."
)


def bindings_table(title: str, screen_type: type[Screen[None]]) -> Table:
    table = Table(title=title, show_header=False, expand=True, box=None)
    table.add_column("key", style="bold", width=12)
    table.add_column("action")
    for binding in screen_type.BINDINGS:
        # Every described binding, including those kept out of the footer for space.
        if isinstance(binding, Binding) and binding.description:
            table.add_row(binding.key_display or binding.key, binding.description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; height: 80%; border: thick $accent; background: $surface; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        from wfwatch.tui.screens.sessions import SessionsScreen
        from wfwatch.tui.screens.watch import WatchScreen

        with VerticalScroll():
            yield Static(ABOUT, markup=False)
            yield Static(bindings_table("Sessions", SessionsScreen))
            yield Static(bindings_table("Watch", WatchScreen))
            yield Static("Everywhere: ? help · ctrl+p command palette · q quit", markup=False)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
