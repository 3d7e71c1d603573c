"""The sessions screen's detail panel against a slow server: no Temporal needed for the timing."""

from __future__ import annotations

import asyncio
import inspect
import io
from dataclasses import replace
from pathlib import Path

import pytest
from pilot_helpers import wait_for
from rich.console import Console
from session_fixture import FAILED_DETAIL, fixture_services
from textual.binding import Binding
from textual.widgets import DataTable, Static

from wfwatch.sessions import SessionDetail
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens import sessions as sessions_screen
from wfwatch.tui.screens.help import HelpScreen
from wfwatch.tui.screens.sessions import SessionsScreen


@pytest.fixture(autouse=True)
def _isolated_preferences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path))


async def test_a_describe_slower_than_the_refresh_still_arrives_and_is_asked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each 2 s refresh used to restart the highlighted row's describe(): slower than that, it never showed."""
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.1)
    calls: list[str] = []

    async def slow(workflow_id: str, run_id: str) -> SessionDetail:
        calls.append(workflow_id)
        await asyncio.sleep(1.0)  # ten refreshes
        return FAILED_DETAIL

    app = WfwatchApp(services=replace(fixture_services(), describe=slow))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: "nightly-report" in screen.rows)
        table.move_cursor(row=table.get_row_index("nightly-report"))
        detail = screen.query_one("#detail", Static)
        await wait_for(pilot, lambda: FAILED_DETAIL.error in str(detail.render()), timeout=30)
        await pilot.pause(0.5)  # more refreshes: the row did not change, so no new request
        assert calls.count("nightly-report") == 1, calls


async def test_a_describe_that_raises_is_shown_in_the_panel_and_the_app_keeps_running() -> None:
    async def broken(workflow_id: str, run_id: str) -> SessionDetail:
        raise RuntimeError("connection reset [bold]x[/bold]")

    app = WfwatchApp(services=replace(fixture_services(), describe=broken))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        detail = screen.query_one("#detail", Static)
        await wait_for(pilot, lambda: "cannot describe: connection reset [bold]x[/bold]" in str(detail.render()))
        assert app.is_running


async def test_the_new_keys_are_in_help_and_the_footer_at_80_columns() -> None:
    app = WfwatchApp(services=fixture_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and bool(app.screen.rows))
        await pilot.pause(0.3)
        footer = " ".join(str(key.render()) for key in app.screen.query("FooterKey"))
        for description in ("Sort", "Web UI", "Children", "Filter", "Query"):
            assert description in footer, footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        shown = console.export_text()
        for binding in SessionsScreen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                assert binding.description in shown, binding.description


async def test_the_palette_offers_the_sessions_actions() -> None:
    app = WfwatchApp(services=fixture_services())
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        await wait_for(pilot, lambda: bool(screen.rows))
        commands = {command.title: command for command in app.get_system_commands(screen)}
        assert {"Sort sessions", "Child workflows", "Web UI link"} <= set(commands)
        for title in ("Sort sessions", "Child workflows"):
            done = commands[title].callback()
            if inspect.isawaitable(done):
                await done
        await wait_for(pilot, lambda: not screen.sort_descending)  # started, oldest first
        await wait_for(pilot, lambda: "demo-team-t3-critic" in screen.rows)


async def test_a_running_rows_detail_is_asked_again_once_it_is_old(monkeypatch: pytest.MonkeyPatch) -> None:
    """Visibility often says nothing new about a running workflow: its retries must not stay as first seen."""
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.1)
    clock = [0.0]
    attempts = [2]

    async def describe(workflow_id: str, run_id: str) -> SessionDetail:
        return SessionDetail(attempts=(f"activity model_step attempt {attempts[0]}",), history_length=40)

    services = replace(fixture_services(), describe=describe, monotonic=lambda: clock[0])
    app = WfwatchApp(services=services)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        detail = screen.query_one("#detail", Static)
        await wait_for(pilot, lambda: "attempt 2" in str(detail.render()))
        assert "history 40 events" in str(detail.render()), "describe's count where visibility has none"
        attempts[0] = 3
        await pilot.pause(0.5)  # refreshes, but the detail is fresh: not asked again
        assert "attempt 2" in str(detail.render())
        clock[0] += sessions_screen.DETAIL_MAX_AGE + 1
        await wait_for(pilot, lambda: "attempt 3" in str(detail.render()))
