"""The ``?`` help screen, generated from the screens' own bindings."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

ABOUT = (
    "Each pane is a hub device: its own position on the session, while the hub reads the session "
    "from Temporal once for all of them. Join modes: start (offset 0), live (the current head), "
    "offset N, turn N, resume (where this pane's device left off, even in an earlier run). "
    "Drop a pane to simulate a network cut; reconnect and it catches up from its position. "
    "The devices panel (p) lists every device with its position and lag. "
    "The raw view lists every event with its offset, superseded retry attempts struck through."
)

SCROLLING = (
    "Scrolling and follow: a lane follows new text (it stays at the bottom) until you scroll it up "
    "(mouse wheel, scrollbar, or Home / PgUp on a focused pane or lane). While it does not follow, "
    "its border counts the records that arrived (+N new records). End, or scrolling back to the "
    "bottom, follows again. Resizing, adding panes or opening the devices panel never stops a lane "
    "from following. On a small terminal the lanes of a pane become tabs: [ and ] switch them."
)

OPERATOR = (
    "Search (/): type to find text in every lane of the focused pane, all it retains and not only what is "
    "on screen, case-insensitively, as it is displayed; it keeps finding while tokens stream. Enter keeps "
    "the search (n / N next / previous), Esc clears it; going to a match stops the lane following (End "
    "resumes). Times (t): off, relative to the first timed event the pane holds (+12.3s), or wall clock; events "
    "without a time (another framework's stream) show none. Tool calls sit in their lane where they "
    "happened, one line each (e expands them). Drag with the mouse to select text in a lane or the raw "
    "view (shift+drag in most terminals for the terminal's own selection); ctrl+c or y copies it. With "
    "nothing selected, y copies the lane's latest message. w writes the pane's "
    "transcript (as wfwatch export does) to a markdown file in the current directory. The pane header's "
    "rate is model tokens/s, measured from the tokens' own times where they carry them."
)


def key_names(binding: Binding, display: Callable[[Binding], str]) -> str:
    """A binding's keys as a user types them (``/``, ``?``, ``esc``), not Textual's names (``slash``)."""
    if binding.key_display:
        return binding.key_display
    keys = [key.strip() for key in binding.key.split(",") if key.strip()]
    return " ".join(display(Binding(key, binding.action)) for key in keys)


def bindings_table(title: str, owner: type[object], display: Callable[[Binding], str] | None = None) -> Table:
    """Every described binding of ``owner``, including those kept out of the footer for space."""
    shown = display or (lambda binding: binding.key)
    table = Table(title=title, show_header=False, expand=True, box=None)
    table.add_column("key", style="bold", width=12)
    table.add_column("action")
    for binding in getattr(owner, "BINDINGS", []):
        if isinstance(binding, Binding) and binding.description:
            table.add_row(key_names(binding, shown), binding.description)
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
        from wfwatch.tui.widgets.pane import Pane

        display = self.app.get_key_display
        with VerticalScroll():
            yield Static(ABOUT, markup=False)
            yield Static(bindings_table("Sessions", SessionsScreen, display))
            yield Static(bindings_table("Watch", WatchScreen, display))
            yield Static(bindings_table("A focused pane", Pane, display))
            yield Static(SCROLLING, markup=False)
            yield Static(OPERATOR, markup=False)
            yield Static("Everywhere: ? help · ^p command palette · q quit", markup=False)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
