"""A sessions refresh that returns after the screen lost its widgets ends quietly.

CI: the app quit (its widgets removed) while a visibility query was in flight;
the refresh worker then looked its table up, raised NoMatches, and the
WorkerFailed took the app down on exit.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from pilot_helpers import wait_for
from session_fixture import fixture_services
from textual.widgets import DataTable

from wfwatch.sessions import SessionRow
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens import sessions as sessions_screen
from wfwatch.tui.screens.sessions import SessionsScreen


async def test_a_refresh_answered_after_the_table_is_gone_does_not_crash_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.05)
    services = fixture_services()
    listed = services.list_sessions
    calls = 0
    release = asyncio.Event()
    waiting = asyncio.Event()

    async def slow_second_time(query: str) -> list[SessionRow]:
        nonlocal calls
        calls += 1
        if calls >= 2:
            waiting.set()
            await release.wait()
        return await listed(query)

    app = WfwatchApp(services=replace(services, list_sessions=slow_second_time))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and bool(app.screen.rows))
        await asyncio.wait_for(waiting.wait(), 10)
        await app.screen.query_one(DataTable).remove()  # what quitting does to the screen's widgets
        release.set()
        await pilot.pause(0.3)
        assert app.is_running
