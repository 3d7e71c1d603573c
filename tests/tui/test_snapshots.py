"""Snapshot tests at a fixed terminal size, on a deterministic session and a frozen clock.

Update after an intended visual change with ``uv run pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from session_fixture import fixture_services
from textual.pilot import Pilot
from textual.widgets import DataTable

from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.widgets.pane import Pane
from wfwatch.tui.widgets.raw_log import RawLog, first_superseded_line

SIZE = (160, 45)


@pytest.fixture(autouse=True)
def _isolated_preferences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path))


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


def test_sessions_screen(snap_compare: Any) -> None:
    assert snap_compare(WfwatchApp(services=fixture_services()), terminal_size=SIZE, run_before=_settle)


def test_watch_screen_with_lanes_and_timeline(snap_compare: Any) -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


async def _scroll_to_superseded(pilot: Pilot[Any]) -> None:
    await _settle(pilot)
    await pilot.press("v")
    await pilot.pause(0.3)
    pane = pilot.app.screen.query_one(Pane)
    line = first_superseded_line(list(pane.records), pane.view)
    assert line is not None
    raw = pane.query_one(RawLog)
    await pilot.pause(0.2)
    raw.scroll_to(y=max(0, line - 3), animate=False, immediate=True)
    await pilot.pause(0.2)


def test_raw_view_marks_superseded_attempt(snap_compare: Any) -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    assert snap_compare(app, terminal_size=SIZE, run_before=_scroll_to_superseded)


def test_a_foreign_stream_renders_item_by_item(snap_compare: Any) -> None:
    """A workflow whose stream carries no wfwatch events: topic and payload per offset, literally."""
    app = WfwatchApp(services=fixture_services(), open_session="orders-42")
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


async def _children_and_the_failed_row(pilot: Pilot[Any]) -> None:
    await _settle(pilot)
    await pilot.press("c")
    screen = pilot.app.screen
    assert isinstance(screen, SessionsScreen)
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index("nightly-report"))
    pilot.app.clear_notifications()  # the "child workflows shown" toast would cover the detail
    await _settle(pilot)


def test_sessions_screen_at_80x24_with_children_and_a_failed_rows_detail(snap_compare: Any) -> None:
    """The tree under demo-team, status colours, and the detail panel's error, on a small terminal."""
    app = WfwatchApp(services=fixture_services())
    assert snap_compare(app, terminal_size=(80, 24), run_before=_children_and_the_failed_row)
