"""The wfwatch dashboard app: a thin shell that wires screens to services."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import Client
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen

from wfwatch import preferences
from wfwatch.gctune import settle_gc
from wfwatch.hub import Hub
from wfwatch.hub.remote import RemoteDevices
from wfwatch.steering import SteeringError
from wfwatch.text import one_line, sanitize
from wfwatch.tui.screens.help import HelpScreen
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import SessionLayout, WatchScreen
from wfwatch.tui.services import Services

#: Seconds after start-up before the collector is settled (see :mod:`wfwatch.gctune`).
SETTLE_GC_AFTER = 0.5
#: Young-generation threshold for the dashboard (CPython: 700); see benchmarks/tui_load.py.
GC_GEN0_THRESHOLD = 10_000

WATCH_COMMANDS = (
    ("Add pane", "A new device on this session", "add_pane"),
    ("Drop / reconnect pane", "Simulate a network cut on the focused pane", "toggle_connection"),
    ("Raw view", "Every event with its offset; superseded attempts marked", "toggle_raw"),
    ("Replay from 0", "The focused pane starts over at offset 0", "replay"),
    ("Join at…", "start, live, offset N, turn N, resume", "join"),
    ("Send message", "Start a new turn", "send"),
    ("Cancel turn", "Cancel the running turn", "cancel_turn"),
    ("Maximise pane", "Toggle the focused pane full screen", "maximize_pane"),
    ("Devices panel", "Every hub device on this session, with position and lag", "toggle_devices"),
)

SESSIONS_COMMANDS = (
    ("Sort sessions", "Next order: this column the other way, then the next column", "sort"),
    ("Child workflows", "Show or hide sub-agent workflows, as a tree under their parent", "toggle_children"),
    ("Web UI link", "Copy the highlighted workflow's Temporal Web UI address", "web_ui"),
)


class WfwatchApp(App[None]):
    TITLE = "wfwatch"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    def __init__(
        self,
        client: Client | None = None,
        *,
        services: Services | None = None,
        open_session: str | None = None,
        hub: Hub | None = None,
        tune_gc: bool = True,
        remote: RemoteDevices | None = None,
    ) -> None:
        super().__init__()
        self._tune_gc = tune_gc
        self.preferences = preferences.load()
        if services is None:
            if client is None:
                raise ValueError("WfwatchApp needs a Temporal client or services")
            services = Services.for_client(client, hub=hub, remote=remote)
        self.services = services
        self.devices = services.open_device
        self._open_session = open_session
        #: Each session's panes as the user left them, for as long as the app runs.
        self._layouts: dict[str, SessionLayout] = {}

    def on_mount(self) -> None:
        if self.preferences.theme in self.available_themes:
            self.theme = self.preferences.theme
        if self.preferences.problem:
            self.notify(sanitize(self.preferences.problem), severity="warning", markup=False)
        self.push_screen(SessionsScreen())
        if self._open_session:
            self.open_session(self._open_session)
        # Once the first screen is up, what Textual built lives as long as the app:
        # out of the collector's sight, full passes no longer stall key presses.
        if self._tune_gc:
            self.set_timer(SETTLE_GC_AFTER, lambda: settle_gc(GC_GEN0_THRESHOLD))

    async def on_unmount(self) -> None:
        if self.services.aclose is not None:
            await self.services.aclose()

    def open_session(self, workflow_id: str) -> WatchScreen:
        """Watch ``workflow_id``: with the panes the user had on it, if they were here before."""
        screen = WatchScreen(workflow_id, self.devices, self._layouts.pop(workflow_id, None))
        self.push_screen(screen)
        return screen

    def remember_layout(self, workflow_id: str, layout: SessionLayout) -> None:
        self._layouts[workflow_id] = layout

    def format_title(self, title: str, sub_title: str) -> Content:
        """Every screen's header, made safe: a watch screen's title is a workflow id."""
        return super().format_title(one_line(title), one_line(sub_title))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def watch_theme(self, theme: str) -> None:
        """Remember the theme the user picked (from the palette) for next time."""
        if theme != self.preferences.theme:
            self.preferences.theme = theme
            try:
                preferences.save(self.preferences)
            except OSError as err:
                self.notify(sanitize(f"could not save preferences: {err}"), severity="warning", markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and what panes are", self.action_help)
        if isinstance(screen, WatchScreen):
            for title, help_text, action in WATCH_COMMANDS:
                yield SystemCommand(title, help_text, partial(screen.run_action, action))
        if isinstance(screen, SessionsScreen):
            for title, help_text, action in SESSIONS_COMMANDS:
                yield SystemCommand(title, help_text, partial(screen.run_action, action))
            for name, query in self.preferences.saved_queries.items():
                yield SystemCommand(f"Query: {name}", query, partial(screen.apply_query, query))

    def on_sessions_screen_open_session(self, message: SessionsScreen.OpenSession) -> None:
        self.open_session(message.workflow_id)

    @work(group="steering")
    async def send_message(self, session_id: str, text: str) -> None:
        try:
            result = await self.services.send_message(session_id, text)
        except SteeringError as err:
            self.notify(sanitize(str(err)), severity="error", markup=False)  # names the workflow: untrusted
            return
        self.notify(f"turn {result.turn} queued")

    @work(group="steering")
    async def cancel_turn(self, session_id: str) -> None:
        try:
            await self.services.cancel_turn(session_id)
        except SteeringError as err:
            self.notify(sanitize(str(err)), severity="error", markup=False)
            return
        self.notify("cancel requested")
