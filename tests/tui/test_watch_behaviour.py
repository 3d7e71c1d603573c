"""The watch screen keeps what the user set up: follow, focus, panes, positions (issue 13, items 9-15).

Deterministic feeds drive the screen; the ``resume`` test runs against the real server and hub.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pilot_helpers import wait_for
from rich.console import Console
from session_fixture import fixture_services, session_records
from temporalio.client import Client
from temporalio.worker import Worker
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from wfwatch import events
from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import DeviceInfo, Join
from wfwatch.reducer import reduce
from wfwatch.stream.reader import read_all
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.device import DeviceGap, DeviceOpened, DeviceRecords, DeviceResult
from wfwatch.tui.screens.help import HelpScreen
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.lane import LaneColumn
from wfwatch.tui.widgets.pane import Pane


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path))


class GrowingSession:
    """The fixture session, released a part at a time: every device reads it from its own position."""

    def __init__(self, available: int, gap: tuple[int, int] | None = None) -> None:
        self.records = session_records()
        self.available = available
        self.gap = gap
        self._grew = asyncio.Event()

    def grow(self, to: int | None = None) -> None:
        self.available = len(self.records) if to is None else to
        grew, self._grew = self._grew, asyncio.Event()
        grew.set()

    async def open_device(
        self, session_id: str, name: str, join: Join, resume_at: int | None
    ) -> AsyncIterator[DeviceResult]:
        if resume_at is not None:
            position = resume_at
        elif join.mode == "live":
            position = self.available
        else:
            position = join.offset or 0
        yield DeviceOpened(position, self.available)
        while True:
            if position < self.available:
                end = self.available
                if self.gap is not None and position <= self.gap[0] < end:
                    if position < self.gap[0]:
                        yield DeviceRecords(self.records[position : self.gap[0]], self.gap[0], end)
                    yield DeviceGap(*self.gap)
                    position = self.gap[1]
                yield DeviceRecords(self.records[position:end], end, end)
                position = end
            else:
                await self._grew.wait()


def final_answer_offsets() -> list[int]:
    """Offsets of the main lane's final answer tokens (the text that grows while a reader watches)."""
    return [
        r.offset
        for r in session_records()
        if isinstance(r.item, events.TokenDelta) and r.item.message_id == "t1-answer" and r.item.attempt == 2
    ]


def app_on(session: GrowingSession) -> WfwatchApp:
    services = replace(fixture_services(), open_device=session.open_device)
    return WfwatchApp(services=services, open_session="demo-team")


def main_lane(pane: Pane) -> LaneColumn:
    return next(c for c in pane.query(LaneColumn) if c.lane_name == "main")


async def watch(pilot: Any, app: WfwatchApp) -> WatchScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
    screen = app.screen
    assert isinstance(screen, WatchScreen)
    await wait_for(pilot, lambda: len(screen.panes[0].view.lanes) == 4, timeout=20)
    await pilot.pause(0.3)
    return screen


def at_bottom(lane: LaneColumn) -> bool:
    return lane.scroll_y >= lane.max_scroll_y


# --- 9. follow ---------------------------------------------------------------------------


async def test_follow_survives_adding_a_pane_the_devices_panel_and_a_resize() -> None:
    offsets = final_answer_offsets()
    session = GrowingSession(offsets[len(offsets) // 3])
    app = app_on(session)
    async with app.run_test(size=(160, 24)) as pilot:
        screen = await watch(pilot, app)
        first = screen.panes[0]
        lane = main_lane(first)
        assert lane.following and lane.max_scroll_y > 0, (lane.scroll_y, lane.max_scroll_y)
        await pilot.press("a")  # narrower panes: every lane re-wraps
        await pilot.press("p")  # the devices panel takes rows from the panes
        await pilot.resize_terminal(150, 23)
        await pilot.pause(0.3)
        before = lane.shown_text
        session.grow()
        await wait_for(pilot, lambda: lane.shown_text != before)
        await pilot.pause(0.3)
        assert lane.following, "a layout change is not the user scrolling up"
        assert lane.unseen == 0 and "new" not in str(lane.border_subtitle)
        assert lane.max_scroll_y > 0 and at_bottom(lane), (lane.scroll_y, lane.max_scroll_y)


async def test_end_on_a_focused_pane_follows_again_and_new_counts_records() -> None:
    offsets = final_answer_offsets()
    session = GrowingSession(offsets[len(offsets) // 3])
    app = app_on(session)
    async with app.run_test(size=(160, 24)) as pilot:
        screen = await watch(pilot, app)
        pane = screen.panes[0]
        lane = main_lane(pane)
        lane.scroll_home(animate=False, immediate=True)  # the reader scrolls up
        await pilot.pause(0.1)
        assert not lane.following
        grown = offsets[2 * len(offsets) // 3]
        added = grown - session.available  # every one of them a token of the main lane's answer
        session.grow(grown)
        await wait_for(pilot, lambda: lane.unseen > 0)
        await pilot.pause(0.3)
        assert lane.unseen == added, (lane.unseen, added)
        assert f"+{added} new records" in str(lane.border_subtitle)
        assert lane.scroll_y == 0, "scrolled-up text stays where the reader put it"
        await pilot.press("1", "end")  # End on the focused pane, not on a lane
        await pilot.pause(0.2)
        assert lane.following and lane.unseen == 0 and at_bottom(lane)
        assert "new records" not in str(lane.border_subtitle)


# --- 10. focus -----------------------------------------------------------------------------


async def test_keys_act_on_the_pane_the_user_focused_or_just_added() -> None:
    session = GrowingSession(len(session_records()))
    app = app_on(session)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await watch(pilot, app)
        await pilot.press("a")
        await pilot.pause()
        first, second = screen.panes
        assert screen.focused is second, "a new pane takes the focus"
        await pilot.press("j", "escape")
        assert screen.focused is second, "Esc gives the focus back to the pane that had it"
        await pilot.press("s")
        screen.query_one("#prompt", Input).value = "hello"
        await pilot.press("enter")
        assert screen.focused is second
        await pilot.press("j")
        screen.query_one("#prompt", Input).value = "offset 3"
        await pilot.press("enter")
        assert screen.focused is second and second.join.describe() == "offset 3"
        assert first.join.describe() == "start"
        await pilot.press("d")  # acts on the pane the join went to
        assert second.stats.state == "disconnected" and first.stats.state != "disconnected"


# --- 11. panes come back --------------------------------------------------------------------


async def test_leaving_a_session_and_returning_brings_its_panes_back() -> None:
    session = GrowingSession(len(session_records()))
    app = app_on(session)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await watch(pilot, app)
        await pilot.press("a", "a")
        await pilot.pause()
        third = screen.panes[2]
        await pilot.press("j")
        screen.query_one("#prompt", Input).value = "offset 5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: third.view.first_offset == 5)
        shown = third.view
        # How the panes show things comes back too: times, expanded tool calls, a search and its match.
        await pilot.press("t", "e")
        third.search("run")
        await wait_for(pilot, lambda: len(third.matches) > 2)
        await pilot.press("n", "n")
        on_match = third.current_match
        assert on_match is not None and on_match != third.matches[0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        back = app.open_session("demo-team")
        await wait_for(pilot, lambda: len(back.panes) == 3 and all(p.is_mounted for p in back.panes))
        panes = back.panes
        assert [p.device_name for p in panes] == ["pane-1", "pane-2", "pane-3"]
        assert [p.join.describe() for p in panes] == ["start", "live", "offset 5"]
        await wait_for(pilot, lambda: panes[2].stats.state == "live")
        assert panes[2].view == shown, "what the pane showed comes back, caught up from its position"
        assert back.focused is panes[2]
        assert back.time_format == "relative" and all(p.time_format == "relative" for p in panes)
        assert [p.tools_expanded for p in panes] == [False, False, True]
        assert panes[2].search_query == "run" and panes[0].search_query == ""
        await wait_for(pilot, lambda: panes[2].current_match == on_match)
        lane = next(c for c in panes[2].query(LaneColumn) if c.lane_name == on_match[0])
        assert lane.current_match == on_match[1:]
        await pilot.press("a")
        await pilot.pause()
        assert back.panes[-1].device_name == "pane-4"


async def test_resume_returns_to_where_the_device_was_before_the_pane_moved_it(
    client: Client, task_queue: str, worker: Worker
) -> None:
    model = ModelSpec(tokens_per_second=40, answer_words=80, reasoning_words=5, answer=None)
    handle = await client.start_workflow(
        AgentSession.run,
        # Open until closed below, so records follow wherever the drop lands on a slow box.
        SessionInput(messages=["resume me"], idle_timeout=600, model=model),
        id=f"tui-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    first_app = WfwatchApp(client, open_session=handle.id)
    async with first_app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(first_app.screen, WatchScreen))
        assert isinstance(first_app.screen, WatchScreen)
        pane = first_app.screen.panes[0]
        await wait_for(pilot, lambda: pane.reducer.next_offset > 10)
        await pilot.press("d")
        left_at = pane.reducer.next_offset
    await handle.signal(AgentSession.close)
    await handle.result()
    # A new dashboard: pane-1 joins at the start first (its device's saved position moves to the head)...
    second_app = WfwatchApp(client, open_session=handle.id)
    async with second_app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(second_app.screen, WatchScreen))
        assert isinstance(second_app.screen, WatchScreen)
        pane = second_app.screen.panes[0]
        await wait_for(pilot, lambda: pane.stats.state == "ended", timeout=90)
        # ...then `j resume`: back to where the device was, not to where this pane read to.
        await pilot.press("j")
        second_app.screen.query_one("#prompt", Input).value = "resume"
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.stats.state == "ended", timeout=90)
        records, _, _ = await read_all(client, handle.id)
        assert pane.view.first_offset == left_at, (pane.view.first_offset, left_at, len(records))
        assert pane.view == reduce([r for r in records if r.offset >= left_at])
        assert f"join=resume @{left_at}" in pane._header_text().plain


# --- 12. headers tell the truth ----------------------------------------------------------------


async def test_a_reconnected_pane_says_where_it_picked_up() -> None:
    session = GrowingSession(len(session_records()))
    app = app_on(session)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await watch(pilot, app)
        pane = screen.panes[0]
        await pilot.press("d", "d")
        await pilot.pause(0.3)
        assert f"join=start, resumed @{len(session.records)}" in pane._header_text().plain


async def test_the_devices_header_counts_the_rows_it_lists() -> None:
    from test_devices_panel import PanelApp, info

    rows: list[DeviceInfo] = [
        info(),
        info(device_id="tui:s:pane-2", name="pane-2"),
        info(device_id="tui:s:pane-3", name="pane-3", connected=False, open=False),
    ]
    app = PanelApp(rows)  # its upstream reader has 2 devices attached, 1 connected
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        line = str(app.query_one(".upstream", Static).content)
        assert "devices 3 (2 connected, 1 offline)" in line, line


# --- 13. gaps in place ----------------------------------------------------------------------------


async def test_a_gap_is_marked_in_the_lane_where_it_fell() -> None:
    records = session_records()
    first_attempt = next(
        r.offset for r in records if isinstance(r.item, events.AttemptStarted) and r.item.message_id == "t1-answer"
    )
    second_attempt = next(
        r.offset
        for r in records
        if isinstance(r.item, events.AttemptStarted) and r.item.message_id == "t1-answer" and r.item.attempt == 2
    )
    session = GrowingSession(len(records), gap=(first_attempt - 3, second_attempt))
    app = app_on(session)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await watch(pilot, app)
        lines = main_lane(screen.panes[0]).shown_text.splitlines()
        marker = f"── offsets {first_attempt - 3}..{second_attempt - 1} are gone ──"
        assert marker in lines
        plan = next(n for n, line in enumerate(lines) if line.startswith("▌t1-plan"))
        answer = next(n for n, line in enumerate(lines) if line.startswith("▌t1-answer"))
        assert plan < lines.index(marker) < answer, "between the text before and after the gap"


# --- 14. the smallest common terminal --------------------------------------------------------------


async def test_80x24_keeps_the_footer_whole_and_gives_lanes_the_rows() -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await watch(pilot, app)
        keys = list(screen.query(FooterKey))
        assert keys and all(key.region.right <= 80 and key.region.y == 23 for key in keys), [
            (key.key, key.region) for key in keys
        ]
        assert {"escape", "question_mark", "s", "j", "a"} <= {key.key for key in keys}
        pane = screen.panes[0]
        shown = [c for c in pane.query(LaneColumn) if c.display]
        assert pane.tab_mode and len(shown) == 1
        assert shown[0].scrollable_content_region.height >= 10, shown[0].scrollable_content_region
        assert pane.query_one("Timeline").region.height <= 4, "the steps box shrinks first"
        await pilot.press("right_square_bracket")
        await pilot.pause(0.2)
        assert [c.lane_name for c in pane.query(LaneColumn) if c.display] == ["researcher"]


# --- 15. help ---------------------------------------------------------------------------------------


async def test_help_shows_keys_as_typed_and_explains_follow() -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=(160, 45)) as pilot:
        await watch(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        shown = console.export_text()
        assert "slash" not in shown and "question_mark" not in shown
        keys = {line.split()[0] for line in shown.splitlines() if line.strip()}
        assert {"/", "?", "esc", "end", "home", "pgup"} <= keys, keys
        assert "End" in shown and "follow" in shown
