"""Dashboard controls on deterministic feeds: bindings, help, palette, pane layout, follow mode, preferences."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from pilot_helpers import wait_for
from rich.console import Console
from session_fixture import fixture_services, session_records
from textual.binding import Binding
from textual.widgets import Input, Static

from wfwatch import events, paths, preferences
from wfwatch.cli import main as cli_main
from wfwatch.hub import Join
from wfwatch.tui.app import WATCH_COMMANDS, WfwatchApp
from wfwatch.tui.device import DeviceRecords, DeviceResult
from wfwatch.tui.screens.help import HelpScreen
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.lane import LaneColumn
from wfwatch.tui.widgets.pane import Pane

SIZE = (160, 45)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path))


def test_every_binding_has_an_id() -> None:
    """Ids let users remap keys in a keymap file; a binding without one cannot be remapped."""
    for owner in (WfwatchApp, SessionsScreen, WatchScreen, HelpScreen):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.id, (owner.__name__, binding)
    ids = [b.id for owner in (WfwatchApp, SessionsScreen, WatchScreen) for b in owner.BINDINGS]  # type: ignore[union-attr]
    assert len(ids) == len(set(ids)), "binding ids are unique"


async def test_help_lists_every_described_key_and_the_palette_offers_the_watch_actions() -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {title for title, _, _ in WATCH_COMMANDS} <= titles
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        shown = console.export_text()
        for binding in WatchScreen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                assert binding.description in shown, binding.description
        await pilot.press("escape")
        assert isinstance(app.screen, WatchScreen)


async def test_add_focus_maximise_and_close_panes() -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        await pilot.press("a", "a")
        panes = screen.panes
        assert [p.device_name for p in panes] == ["pane-1", "pane-2", "pane-3"]
        assert [p.join.describe() for p in panes] == ["start", "live", "start"]  # added panes alternate
        await pilot.press("2")
        assert screen.focused is panes[1]
        await pilot.press("m")
        assert screen.maximized is panes[1]
        await pilot.press("m")
        assert screen.maximized is None
        await pilot.press("x")
        assert [p.device_name for p in screen.panes] == ["pane-1", "pane-3"]
        await pilot.press("1", "x", "x")  # the last pane stays: a watch screen always has one device
        assert len(screen.panes) == 1


def _two_installments(release: asyncio.Event) -> object:
    """A device that delivers the fixture session in two parts, the second when ``release`` is set."""
    records = session_records()
    # Split halfway through the main lane's final answer, so the second part adds text to it.
    final = [
        r.offset
        for r in records
        if isinstance(r.item, events.TokenDelta) and r.item.message_id == "t1-answer" and r.item.attempt == 2
    ]
    cut = final[len(final) // 2]

    async def open_device(session_id: str, name: str, join: Join, resume_at: int | None) -> AsyncIterator[DeviceResult]:
        start = resume_at if resume_at is not None else 0
        yield DeviceRecords(records[start:cut], cut, len(records))
        await release.wait()
        yield DeviceRecords(records[cut:], len(records), len(records))
        await asyncio.Event().wait()  # stays live

    return open_device


async def test_follow_mode_stops_when_scrolled_up_and_counts_what_arrived() -> None:
    release = asyncio.Event()
    services = replace(fixture_services(), open_device=_two_installments(release))  # type: ignore[arg-type]
    app = WfwatchApp(services=services, open_session="demo-team")
    async with app.run_test(size=(120, 30)) as pilot:  # short lanes: they scroll
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        pane = app.screen.query_one(Pane)
        await wait_for(pilot, lambda: len(pane.view.lanes) == 4 or pane.stats.error != "", timeout=10)
        assert not pane.stats.error
        await pilot.pause(0.3)
        main = next(c for c in app.screen.query(LaneColumn) if c.lane_name == "main")
        assert main.following and main.unseen == 0, (main.scroll_y, main.max_scroll_y, main.unseen)
        main.scroll_home(animate=False, immediate=True)
        await pilot.pause(0.1)
        assert main.max_scroll_y > 0 and not main.following
        release.set()  # the main lane's answer arrives while the reader is scrolled up
        await wait_for(pilot, lambda: main.unseen > 0)
        assert f"+{main.unseen} new" in str(main.border_subtitle)
        assert main.scroll_y == 0, "scrolled-up text stays where the reader put it"
        main.scroll_end(animate=False, immediate=True)
        await pilot.pause(0.1)
        assert main.following


async def test_the_theme_picked_is_remembered_and_info_says_where() -> None:
    app = WfwatchApp(services=fixture_services())
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert preferences.load().theme == "nord"
    out = CliRunner().invoke(cli_main, ["info"]).output
    assert str(paths.preferences()) in out


async def test_saved_queries_are_palette_commands_that_apply_the_query() -> None:
    prefs = preferences.Preferences(saved_queries={"mine": "WorkflowType = 'AgentSession'"})
    preferences.save(prefs)
    app = WfwatchApp(services=fixture_services())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        commands = {command.title: command for command in app.get_system_commands(screen)}
        assert "Query: mine" in commands
        commands["Query: mine"].callback()
        await pilot.pause()
        assert screen.query_text == "WorkflowType = 'AgentSession'"
        assert screen.query_one("#query", Input).value == "WorkflowType = 'AgentSession'"


async def test_a_cell_that_grows_after_the_first_refresh_widens_its_column(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from textual.widgets import DataTable
    from textual.widgets.data_table import ColumnKey

    from wfwatch.sessions import SessionRow
    from wfwatch.tui.screens import sessions as sessions_screen

    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.1)
    calls = 0

    async def lister(query: str) -> list[SessionRow]:
        nonlocal calls
        calls += 1
        title = "" if calls == 1 else "a title that arrived with the memo"
        return [SessionRow("s-1", "r", "AgentSession", "running", datetime(2026, 1, 1, tzinfo=UTC), title, 1)]

    app = WfwatchApp(services=replace(fixture_services(), list_sessions=lister))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: calls >= 3)
        table = app.screen.query_one(DataTable)
        assert table.columns[ColumnKey("title")].content_width >= len("a title that arrived with the memo")


async def test_the_main_lane_shows_each_turns_user_message_above_its_answer() -> None:
    from session_fixture import PROMPT

    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, WatchScreen) and app.screen.panes[0].stats.state == "ended"
        )
        await pilot.pause(0.3)
        columns = {c.lane_name: c for c in app.screen.query(LaneColumn)}
        main = columns["main"].shown_text.splitlines()
        first_message = next(n for n, line in enumerate(main) if line.startswith("▌t1-plan"))
        assert " ".join(main[:first_message]) == f"you ▸ {PROMPT}"
        assert "you ▸" not in columns["researcher"].shown_text  # sub-agents answer the planner, not the user


async def test_the_flush_timer_reaching_a_pane_still_being_mounted_does_not_crash() -> None:
    """The screen's one flush timer walks every pane; one added this instant has not mounted its children."""
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        pane = screen.add_pane(Join("start"))
        # Pane.flush marks itself dirty on its first records; force the worst case: dirty before mount.
        pane._dirty = True
        screen._flush_panes()  # the timer's callback, called before the mount has run
        await wait_for(pilot, lambda: pane.is_mounted and pane.reducer.next_offset > 0)
        screen._flush_panes()
        assert len(screen.panes) == 2 and app.is_running
