"""The devices panel's pieces: states, ages, the upstream line, hostile device names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from wfwatch.hub import DeviceInfo, UpstreamStats
from wfwatch.tui.widgets.devices_panel import DevicesPanel, device_state, seen_ago, upstream_line

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def info(**changes: object) -> DeviceInfo:
    base = DeviceInfo(
        device_id="tui:s:pane-1",
        name="pane-1",
        session_id="s",
        join="start",
        position=10,
        head=15,
        lag=5,
        connected=True,
        direct=False,
        last_seen=NOW.timestamp(),
        delivered=10,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def upstream(**changes: object) -> UpstreamStats:
    base = UpstreamStats(
        session_id="s", mode="update", running=True, caught_up=True, updates=3, queries=1, items=15,
        in_flight=1, max_in_flight=1, backfill_queries=0, restarts=0, errors=0, last_error="", base=0,
        head=15, retained=15, cached=15, epoch="e", ended=None, devices=2, connected=1,
        direct_devices=0, direct_updates=0,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_device_states() -> None:
    assert device_state(info()) == "connected"
    assert device_state(info(connected=False)) == "dropped"
    assert device_state(info(connected=False, open=False)) == "offline"


def test_seen_ago_reads_like_a_person_would_say_it() -> None:
    now = NOW.timestamp()
    assert seen_ago(now - 0.2, NOW) == "now"
    assert seen_ago(now - 42, NOW) == "42s ago"
    assert seen_ago(now - 600, NOW) == "10m ago"
    assert seen_ago(now - 3 * 3600, NOW) == "3h ago"
    assert seen_ago(now + 5, NOW) == "now"  # a clock a little ahead is not "in the future"


def test_upstream_line_says_what_is_wrong_now_before_history() -> None:
    assert "reading, update mode" in upstream_line(upstream()).plain
    assert "ended: completed" in upstream_line(upstream(ended="completed")).plain
    troubled = upstream_line(upstream(trouble="tcp connect error", last_error="old")).plain
    assert "reconnecting" in troubled and "tcp connect error" in troubled and "old" not in troubled
    assert "last error: old" in upstream_line(upstream(last_error="old")).plain


class PanelApp(App[None]):
    def __init__(self, rows: list[DeviceInfo]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DevicesPanel("s", lambda _session: self.rows, lambda _session: upstream(), lambda: NOW)


async def test_rows_update_in_place_and_hostile_names_render_literally() -> None:
    hostile = "\x1b[2J\x1b]52;c;ZXZpbA==\x07[red]x[/red]"
    app = PanelApp([info(), info(device_id="web:1", name=hostile, connected=False, open=False)])
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(DataTable)
        assert table.row_count == 2
        cells = [str(c) for c in table.get_row("web:1")]
        assert "\x1b" not in "".join(cells) and "\x07" not in "".join(cells)
        assert "[red]x[/red]" in cells[1]
        table.move_cursor(row=1)
        app.rows = [info(position=15, lag=0)]  # one device moved, the other was forgotten
        app.query_one(DevicesPanel).refresh_rows()
        await pilot.pause()
        assert table.row_count == 1
        assert [str(c) for c in table.get_row("tui:s:pane-1")][3:6] == ["15", "15", "0"]
