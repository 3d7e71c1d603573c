"""The devices panel: every hub device on the session, with its position and lag.

Panes are hub devices, so this is where an operator sees them as the hub
does — including devices that dropped or belong to an earlier run of the
dashboard (their positions are saved) — and how the hub reads the session
upstream: one reader, however many devices.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from wfwatch.hub import DeviceInfo, UpstreamStats
from wfwatch.text import one_line, sanitize

REFRESH_INTERVAL = 0.5
COLUMNS = ("device", "name", "join", "position", "head", "lag", "state", "seen")


def device_state(info: DeviceInfo) -> str:
    if not info.open:
        return "offline"
    return "connected" if info.connected else "dropped"


def seen_ago(last_seen: float, now: datetime) -> str:
    seconds = max(0.0, now.timestamp() - last_seen)
    if seconds < 1:
        return "now"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def device_counts(rows: list[DeviceInfo]) -> str:
    """The rows below, counted by state: the header must add up to what the table lists."""
    states = [device_state(info) for info in rows]
    parts = [f"{states.count(state)} {state}" for state in ("connected", "dropped", "offline") if state in states]
    return f"devices {len(rows)}" + (f" ({', '.join(parts)})" if parts else "")


def upstream_line(stats: UpstreamStats, rows: list[DeviceInfo] | None = None) -> Text:
    """How the hub reads the session; with ``rows``, the device count is the table's (saved devices too)."""
    text = Text()
    text.append(" upstream ", style="reverse")
    if stats.ended:
        state = f"ended: {stats.ended}"
    elif stats.trouble:
        state = "reconnecting"
    else:
        state = "reading" if stats.running else "idle"
    devices = device_counts(rows) if rows is not None else f"devices {stats.devices} ({stats.connected} connected)"
    text.append(
        f" {state}, {stats.mode} mode  updates {stats.updates}  queries {stats.queries}  head {stats.head}  {devices}"
    )
    if stats.trouble or stats.last_error:
        # Now-trouble first; otherwise the last error, which may be history.
        text.append(f"  {sanitize((stats.trouble or 'last error: ' + stats.last_error).splitlines()[0])}", style="red")
    return text


def device_cells(info: DeviceInfo, now: datetime) -> tuple[Text, ...]:
    """One row of the table, every cell a ``Text``.

    A ``str`` cell is read as markup by ``DataTable``: a device id holds the
    workflow id (``tui:<id>:pane-1``), so ``mk[/nope]x`` raised MarkupError
    and ``[link=...]`` became a hyperlink.
    """
    state = device_state(info)
    return (
        Text(one_line(info.device_id)),
        Text(one_line(info.name)),
        Text(one_line(info.join)),
        Text(str(info.position)),
        Text(str(info.head)),
        Text(str(info.lag)),
        Text(state, style={"connected": "green", "dropped": "red"}.get(state, "dim")),
        Text(seen_ago(info.last_seen, now)),
    )


class DevicesPanel(Vertical):
    """A table of the hub's devices on one session, refreshed in place."""

    DEFAULT_CSS = """
    DevicesPanel { height: auto; max-height: 14; border: round $panel; }
    DevicesPanel > DataTable { height: auto; max-height: 11; }
    DevicesPanel > .upstream { height: 1; }
    """

    def __init__(
        self,
        session_id: str,
        table: Callable[[str], list[DeviceInfo]] | None,
        upstream: Callable[[str], UpstreamStats] | None,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(id="devices-panel")
        self.session_id = session_id
        self._table_source = table
        self._upstream_source = upstream
        self._now = now
        self._upstream = Static("", classes="upstream", markup=False)
        self._table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)

    def compose(self) -> ComposeResult:
        yield self._upstream
        yield self._table

    def on_mount(self) -> None:
        self.border_title = "devices"
        for column in COLUMNS:
            self._table.add_column(column, key=column)
        self.refresh_rows()
        self.set_interval(REFRESH_INTERVAL, self.refresh_rows)

    def refresh_rows(self) -> None:
        """Update rows in place (cursor kept); add new devices, drop forgotten ones."""
        if not self.display:
            return
        if self._table_source is None:
            self._upstream.update(Text("no hub: panes read the workflow directly", style="dim"))
            return
        now = self._now()
        rows = {info.device_id: info for info in self._table_source(self.session_id)}
        if self._upstream_source is not None:
            self._upstream.update(upstream_line(self._upstream_source(self.session_id), list(rows.values())))
        for key in [k for k in self._table.rows if k.value not in rows]:
            self._table.remove_row(key)
        for device_id, info in sorted(rows.items()):
            cells = device_cells(info, now)
            if device_id in self._table.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    self._table.update_cell(device_id, column, value, update_width=True)
            else:
                self._table.add_row(*cells, key=device_id)
