"""The watch screen: panes side by side, each a device at its own offset."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Header, Input

from wfwatch import export
from wfwatch.hub import Join
from wfwatch.text import one_line, sanitize
from wfwatch.tui.device import DeviceFactory, parse_join
from wfwatch.tui.host import dashboard
from wfwatch.tui.pacer import FramePacer
from wfwatch.tui.timefmt import TimeFormat, next_format
from wfwatch.tui.widgets.devices_panel import DevicesPanel
from wfwatch.tui.widgets.footer import StableFooter
from wfwatch.tui.widgets.pane import Pane, PaneMemory

JOIN_CYCLE = (Join("start"), Join("live"))
#: How often panes redraw what their devices received (tokens are buffered in between).
#: Every frame repaints each streaming lane whole (its text scrolls); at 12 a second four
#: panes at 2,000 tokens/s took 73-80 % of a core with key presses p95 56-69 ms, at 20 a
#: second 83-86 % and 74-119 ms (benchmarks/tui_load.py, 3 runs each).
FLUSH_INTERVAL = 1 / 12


@dataclass
class SessionLayout:
    """A session's panes as the user left them: they come back when the user returns."""

    panes: list[PaneMemory] = field(default_factory=list)
    device_count: int = 0
    focused: int = 0
    time_format: TimeFormat = "off"


def pane_of(node: DOMNode | None) -> Pane | None:
    """The pane ``node`` is in (or is), if any."""
    while node is not None and not isinstance(node, Pane):
        node = node.parent
    return node if isinstance(node, Pane) else None


class WatchScreen(Screen[None]):
    BINDINGS = [
        Binding("a", "add_pane", "Add pane", id="watch.add_pane"),
        Binding("x", "close_pane", "Close pane", show=False, id="watch.close_pane"),
        Binding("d", "toggle_connection", "Drop/reconnect", id="watch.toggle_connection"),
        Binding("v", "toggle_raw", "Raw view", id="watch.toggle_raw"),
        Binding("0", "replay", "Replay from 0", show=False, id="watch.replay"),
        Binding("m", "maximize_pane", "Maximise", show=False, id="watch.maximize"),
        Binding("j", "join", "Join at…", id="watch.join"),
        Binding("p", "toggle_devices", "Devices", id="watch.toggle_devices"),
        Binding("s", "send", "Send message", id="watch.send"),
        Binding("c", "cancel_turn", "Cancel turn", id="watch.cancel_turn"),
        Binding("slash", "search", "Search", id="watch.search"),
        Binding("t", "cycle_time", "Times", id="watch.cycle_time"),
        Binding("w", "export", "Write transcript", show=False, id="watch.export"),
        Binding("escape", "leave", "Sessions", id="watch.back"),
        Binding("question_mark", "app.help", "Help", id="watch.help"),
        *[
            Binding(
                str(n),
                f"focus_pane({n})",
                "Focus pane N" if n == 1 else "",  # one help row stands for all nine
                show=False,
                key_display="1…9" if n == 1 else None,
                id=f"watch.focus_{n}",
            )
            for n in range(1, 10)
        ],
    ]

    def __init__(self, session_id: str, open_device: DeviceFactory, layout: SessionLayout | None = None) -> None:
        super().__init__()
        self.session_id = session_id
        self._open_device = open_device
        self._device_count = 0
        self._last_pane: Pane | None = None
        #: The pane that had the focus when a prompt opened: it gets it back when the prompt closes.
        self._prompt_return: Pane | None = None
        self._layout = layout
        self._pacer = FramePacer()
        #: How every pane shows event times (``t`` cycles off / relative / absolute).
        self.time_format: TimeFormat = "off"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Horizontal(id="panes")
        services = dashboard(self).services
        yield DevicesPanel(self.session_id, services.device_table, services.upstream, services.now)
        yield Input(id="prompt")
        # On a narrow terminal these stay out of the footer (help and the palette list them).
        yield StableFooter(
            optional=(
                "toggle_raw",
                "toggle_connection",
                "quit",
                "app.quit",
                "cancel_turn",
                "cycle_time",
                "toggle_devices",
            )
        )

    def on_mount(self) -> None:
        self.title = one_line(self.session_id)  # a workflow id: no escapes, no bidi, one line
        self.query_one("#prompt").display = False
        self.query_one(DevicesPanel).display = False
        self._prompt_purpose = "message"
        layout = self._layout
        if layout is not None and layout.panes:
            self.time_format = layout.time_format
            restored = [self.add_pane(memory.join, memory) for memory in layout.panes]
            self._device_count = max(self._device_count, layout.device_count)
            restored[min(layout.focused, len(restored) - 1)].focus()
        else:
            self.add_pane(self._default_join()).focus()
        self.set_interval(FLUSH_INTERVAL, self._flush_panes)

    def layout_now(self) -> SessionLayout:
        """The panes as they are, for :class:`SessionLayout` (the app keeps one per session)."""
        panes = self.panes
        focused = self._target_pane
        return SessionLayout(
            panes=[pane.remember() for pane in panes],
            device_count=self._device_count,
            focused=panes.index(focused) if focused in panes else 0,
            time_format=self.time_format,
        )

    def action_leave(self) -> None:
        """Back to the sessions list; the app remembers this session's panes for the next visit."""
        dashboard(self).remember_layout(self.session_id, self.layout_now())
        self.app.pop_screen()

    def _flush_panes(self) -> None:
        """One timer for all panes: their redraws coalesce into one frame.

        With a timer per pane, four panes at 20 Hz asked for up to 80 layouts a
        second, each re-rendering every pane (benchmarks/tui_load.py). While
        other programs hold the CPU, fewer frames (:mod:`wfwatch.tui.pacer`).
        """
        if not self._pacer.due():
            return
        wall, cpu = time.perf_counter(), time.thread_time()
        for pane in self.query(Pane):
            if pane.is_mounted:  # a pane just added has no children to draw into yet
                pane.flush()
        self._pacer.took(time.perf_counter() - wall, time.thread_time() - cpu)

    def _default_join(self) -> Join:
        """The first pane joins as the preferences say (``start`` unless changed)."""
        mode = dashboard(self).preferences.default_join
        if mode == "live":
            return Join("live")
        return Join("resume") if mode == "resume" else Join("start")

    @property
    def panes(self) -> list[Pane]:
        return list(self.query(Pane))

    def add_pane(self, join: Join, memory: PaneMemory | None = None) -> Pane:
        if memory is not None:
            name = memory.name
        else:
            self._device_count += 1
            name = f"pane-{self._device_count}"
        pane = Pane(self.session_id, name, join, self._open_device, memory)
        pane.time_format = self.time_format
        self.query_one("#panes").mount(pane)
        return pane

    @property
    def _target_pane(self) -> Pane | None:
        return self._last_pane if self._last_pane is not None and self._last_pane.is_attached else self._focused_pane()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        pane = pane_of(event.widget)
        if pane is not None:
            self._last_pane = pane

    def _focused_pane(self) -> Pane | None:
        """The pane keys act on: the focused one, else the one focused last (a prompt may have the focus)."""
        focused = pane_of(self.focused)
        if focused is not None:
            return focused
        if self._last_pane is not None and self._last_pane.is_attached:
            return self._last_pane
        panes = self.panes
        return panes[-1] if panes else None

    def action_add_pane(self) -> None:
        """A new pane joins (start and live in turn) and takes the focus: the next keys are for it."""
        join = JOIN_CYCLE[self._device_count % len(JOIN_CYCLE)]
        self.add_pane(join).focus()

    def action_close_pane(self) -> None:
        pane = self._focused_pane()
        panes = self.panes
        if pane is not None and len(panes) > 1:
            index = panes.index(pane)
            pane.remove()
            # The focus goes to the pane that took its place, not back to pane 1.
            rest = [p for p in panes if p is not pane]
            rest[min(index, len(rest) - 1)].focus()

    def action_toggle_connection(self) -> None:
        pane = self._focused_pane()
        if pane is None:
            return
        if pane.stats.state == "disconnected":
            pane.connect()
        else:
            pane.disconnect()

    def action_toggle_raw(self) -> None:
        pane = self._focused_pane()
        if pane is not None:
            pane.toggle_raw()

    def action_replay(self) -> None:
        pane = self._focused_pane()
        if pane is not None:
            pane.connect(Join("start"))

    def action_toggle_devices(self) -> None:
        panel = self.query_one(DevicesPanel)
        panel.display = not panel.display
        panel.refresh_rows()

    def action_maximize_pane(self) -> None:
        pane = self._focused_pane()
        if pane is None:
            return
        if self.maximized is pane:
            self.minimize()
        else:
            self.maximize(pane)

    def action_focus_pane(self, number: int) -> None:
        panes = self.panes
        if 0 < number <= len(panes):
            panes[number - 1].focus()

    def _open_prompt(self, purpose: str, placeholder: str) -> None:
        box = self.query_one("#prompt", Input)
        if not box.display:
            self._prompt_return = self._focused_pane()
        self._prompt_purpose = purpose
        box.placeholder = placeholder
        box.value = ""
        box.display = True
        box.focus()

    def action_send(self) -> None:
        self._open_prompt("message", "message for the agent (Enter sends, Esc cancels)")

    def action_join(self) -> None:
        self._open_prompt("join", "join the focused pane at: start | live | offset N | turn N | resume")

    def action_search(self) -> None:
        """/: search the focused pane's lanes as you type (Enter keeps it: n / N move; Esc clears it)."""
        self._open_prompt("search", "search the focused pane (Enter keeps it: n / N next / previous; Esc clears)")
        pane = self._prompt_return
        if pane is not None and pane.search_query:
            self.query_one("#prompt", Input).value = pane.search_query

    @on(Input.Changed, "#prompt")
    def _prompt_changed(self, event: Input.Changed) -> None:
        if self._prompt_purpose == "search" and event.input.display:
            pane = self._prompt_return or self._focused_pane()
            if pane is not None and pane.search_query != event.value:
                pane.search(event.value)

    def action_cycle_time(self) -> None:
        """t: event times in every pane off, relative to the session's start, or wall clock."""
        self.time_format = next_format(self.time_format)
        for pane in self.panes:
            pane.set_time_format(self.time_format)
        self.notify(f"times: {self.time_format}", timeout=2)

    def action_export(self) -> None:
        """w: the focused pane's transcript as ``wfwatch export`` writes it (markdown), into the current directory."""
        pane = self._focused_pane()
        if pane is None:
            return
        # A workflow id is untrusted: only safe characters reach the file name.
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.session_id).strip("._")[:80] or "session"
        path = Path.cwd() / f"{name}-{pane.device_name}.md"
        try:
            path.write_text(export.render(pane.transcript(), "markdown"), encoding="utf-8")
        except OSError as err:
            self.notify(sanitize(f"could not write {path}: {err}"), severity="error", markup=False)
            return
        partial = "" if pane.transcript_is_whole else " (what this pane holds: join start (0) for the whole session)"
        self.notify(sanitize(f"transcript written to {path}{partial}"), markup=False, timeout=6)

    def action_cancel_turn(self) -> None:
        dashboard(self).cancel_turn(self.session_id)

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#prompt", Input)
        if event.key == "escape" and box.has_focus:
            box.display = False
            pane = self._return_focus()
            if self._prompt_purpose == "search" and pane is not None:
                pane.search("")
            event.stop()

    def _return_focus(self) -> Pane | None:
        """Give the focus back to the pane that had it before the prompt opened."""
        pane = self._prompt_return
        self._prompt_return = None
        if pane is None or not pane.is_attached:
            pane = self._focused_pane()
        if pane is not None:
            pane.focus()
        return pane

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        event.input.display = False
        pane = self._return_focus()
        if self._prompt_purpose == "search":
            return  # the search stays: n / N move between its matches
        if not text:
            return
        if self._prompt_purpose == "message":
            dashboard(self).send_message(self.session_id, text)
            return
        try:
            join = parse_join(text)
        except ValueError as err:
            self.notify(sanitize(str(err)), severity="error", markup=False)
            return
        if pane is not None:
            pane.connect(join)
