"""The wfwatch dashboard app: a thin shell that wires screens to services."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from textual import work
from textual.app import App
from textual.binding import Binding

from wfwatch.steering import SteeringError, cancel_turn, send_message
from wfwatch.tui.device import DeviceFactory, direct_devices
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import WatchScreen


class WfwatchApp(App[None]):
    TITLE = "wfwatch"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = [Binding("q", "quit", "Quit", id="app.quit")]

    def __init__(
        self, client: Client, *, open_session: str | None = None, devices: DeviceFactory | None = None
    ) -> None:
        super().__init__()
        self.client = client
        self.devices = devices or direct_devices(client)
        self._open_session = open_session

    def on_mount(self) -> None:
        self.push_screen(SessionsScreen())
        if self._open_session:
            self.open_session(self._open_session)

    def open_session(self, workflow_id: str) -> WatchScreen:
        screen = WatchScreen(workflow_id, self.devices)
        self.push_screen(screen)
        return screen

    def on_sessions_screen_open_session(self, message: SessionsScreen.OpenSession) -> None:
        self.open_session(message.workflow_id)

    @work(group="steering")
    async def send_message(self, session_id: str, text: str) -> None:
        try:
            result = await send_message(self.client, session_id, text)
        except SteeringError as err:
            self.notify(str(err), severity="error")
            return
        self.notify(f"turn {result.turn} queued")

    @work(group="steering")
    async def cancel_turn(self, session_id: str) -> None:
        try:
            await cancel_turn(self.client, session_id)
        except SteeringError as err:
            self.notify(str(err), severity="error")
            return
        self.notify("cancel requested")
