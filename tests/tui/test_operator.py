"""An operator's watch screen (issue 14): times, tool rows, numbers, search, copy, export.

Against the real dev server where the feature depends on what a real session
publishes (times, tool calls, streaming); the fixture session (no times, like a
framework's stream) shows that a missing time is shown as nothing, never 1970.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pilot_helpers import wait_for
from session_fixture import fixture_services
from temporalio.client import Client
from temporalio.worker import Worker
from textual.widgets import Input

from wfwatch import events, export
from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.export import md_inline
from wfwatch.reducer import RATE_WINDOW
from wfwatch.stream.reader import read_all
from wfwatch.text import sanitize
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.lane import LaneColumn
from wfwatch.tui.widgets.pane import Pane
from wfwatch.tui.widgets.timeline import Timeline


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def main_lane(pane: Pane) -> LaneColumn:
    return next(c for c in pane.query(LaneColumn) if c.lane_name == "main")


def header(pane: Pane) -> str:
    return pane._header_text().plain


async def start(client: Client, task_queue: str, words: int, messages: list[str], tps: float = 40) -> str:
    model = ModelSpec(tokens_per_second=tps, answer_words=words, reasoning_words=10, answer=None)
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=messages, idle_timeout=0.5, model=model),
        id=f"tui-{uuid.uuid4()}",
        task_queue=task_queue,
        # The worker shares this process with the app: on a starved box a workflow task waited over the
        # default 10 s for the CPU, timed out, and the plan's model call was cancelled and retried (CI).
        task_timeout=timedelta(seconds=60),
    )
    return handle.id


@contextlib.asynccontextmanager
async def watched_to_the_end(
    client: Client, task_queue: str, *, words: int, messages: list[str], tps: float, size: tuple[int, int]
) -> AsyncIterator[tuple[Any, WfwatchApp, WatchScreen, Pane]]:
    """A real session watched in the dashboard from its start until its stream ended."""
    session = await start(client, task_queue, words=words, messages=messages, tps=tps)
    app = WfwatchApp(client, open_session=session)
    async with app.run_test(size=size) as pilot:
        screen, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: pane.stats.state == "ended", timeout=90)
        await pilot.pause(0.3)
        yield pilot, app, screen, pane


async def watching(pilot: Any, app: WfwatchApp) -> tuple[WatchScreen, Pane]:
    await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
    screen = app.screen
    assert isinstance(screen, WatchScreen)
    return screen, screen.panes[0]


async def test_times_tool_rows_and_step_numbers(client: Client, task_queue: str, worker: Worker) -> None:
    async with watched_to_the_end(client, task_queue, words=30, messages=["ship it"], tps=200, size=(160, 45)) as (
        pilot,
        app,
        screen,
        pane,
    ):
        session = pane.session_id
        lane = main_lane(pane)
        # The demo's tool (its scenario's), in the lane between the plan and the answer, on one line.
        (call,) = pane.view.tool_calls
        name = call.name
        lines = lane.shown_text.splitlines()
        tool = next(n for n, line in enumerate(lines) if line.startswith(f"▸ {name} "))
        plan = next(n for n, line in enumerate(lines) if line.startswith("▌t1-plan"))
        answer = next(n for n, line in enumerate(lines) if line.startswith("▌t1-answer"))
        assert plan < tool < answer
        assert re.search(r"→ .+ \d+ ms$", lines[tool]), lines[tool]
        await pilot.press("e")
        await wait_for(pilot, lambda: f"▾ {name}" in lane.shown_text)
        assert any(line.startswith("  args ") for line in lane.shown_text.splitlines())
        await pilot.press("e")
        await wait_for(pilot, lambda: f"▸ {name}" in lane.shown_text)
        # Times: off, relative to the session's start, wall clock.
        assert not re.search(r"▌t1-answer\s+\+", lane.shown_text)
        await pilot.press("t")
        await wait_for(pilot, lambda: re.search(r"▌t1-plan  \+\d", lane.shown_text) is not None)
        assert str(screen.time_format) == "relative"
        await pilot.press("t")
        await wait_for(pilot, lambda: re.search(r"▌t1-plan  \d\d:\d\d:\d\d\.\d{3}", lane.shown_text) is not None)
        assert re.search(rf"^\d\d:\d\d:\d\d\.\d{{3}} ▸ {re.escape(name)}", lane.shown_text, re.M)
        await pilot.press("v")
        await wait_for(pilot, lambda: pane.raw_mode)
        await pilot.pause(0.3)
        raw = pane.query_one("RawLog").lines()  # type: ignore[attr-defined]
        assert all(re.match(r"\s*\d+ \d\d:\d\d:\d\d\.\d{3} ", line) for line in raw), raw[:3]
        await pilot.press("v")  # back to the lanes
        await pilot.press("t")
        assert str(screen.time_format) == "off"
        await wait_for(pilot, lambda: re.search(r"▌t1-plan  \S", lane.shown_text) is None)
        await wait_for(pilot, lambda: "@+" in str(pane.query_one(Timeline)._shown))  # steps start relative
        # The timeline: start, duration, time to first token, tokens and tokens/s per step.
        steps = str(pane.query_one(Timeline)._shown)
        answer_step = next(line for line in steps.splitlines() if "main/answer" in line)
        assert re.search(r"@\+\d.*\d(\.\d)?(s| ms)  ttft \d.*\d+ tok  \d+ tok/s", answer_step), answer_step
        # Numbers in the header: model tokens/s (not ev/s), turns, tokens.
        shown = header(pane)
        assert "ev/s" not in shown and re.search(r"\d+ tok/s", shown), shown
        assert f"turns 1  {pane.view.token_count:,} tok" in shown
        # Each lane's border: its tokens, and the rate its newest message streamed at.
        assert re.search(r"[\d,]+ tok · \d+ tok/s", str(lane.border_subtitle)), lane.border_subtitle
        # Copy: the lane's latest message, as displayed.
        await pilot.press("y")
        last = next(m.answer for m in reversed(pane.view.lanes[0].messages) if m.answer)
        assert app.clipboard == sanitize(last) and last
        # Export: the same transcript `wfwatch export` writes, from what the pane received.
        await pilot.press("w")
        path = Path.cwd() / f"{session}-pane-1.md"
        await wait_for(pilot, path.exists, timeout=10)
        records, _, _ = await read_all(client, session)
        expected = export.Transcript(
            session, records=list(records), end="completed", next_offset=records[-1].offset + 1
        )
        assert path.read_text(encoding="utf-8") == export.render(expected, "markdown")
        assert md_inline(name) in path.read_text(encoding="utf-8")  # the tool call is in it


async def test_a_replay_shows_the_rate_the_model_produced_at(client: Client, task_queue: str, worker: Worker) -> None:
    session = await start(client, task_queue, words=400, messages=["count"], tps=50)
    handle = client.get_workflow_handle(session)
    await handle.result()
    app = WfwatchApp(client, open_session=session)
    async with app.run_test(size=(160, 45)) as pilot:
        _, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: pane.stats.state == "ended", timeout=60)
        await wait_for(pilot, lambda: pane.stats.rate > 0, timeout=10)
        # The whole session arrived in one go; the rate is the one its tokens were produced at.
        records, _, _ = await read_all(client, session)
        times = [r.item.ts for r in records if isinstance(r.item, events.TokenDelta)][-RATE_WINDOW:]
        produced = (len(times) - 1) / (max(times) - min(times))
        assert pane.stats.rate == pytest.approx(produced), (pane.stats.rate, produced)
        assert 1 < produced <= 60, produced  # the scripted model streams at most 50 a second
        assert re.search(rf"\b{produced:.0f} tok/s", header(pane)), header(pane)


async def test_search_finds_text_beyond_the_screen_while_tokens_stream(
    client: Client, task_queue: str, worker: Worker
) -> None:
    session = await start(client, task_queue, words=1500, messages=["needle haystack"], tps=60)
    app = WfwatchApp(client, open_session=session)
    async with app.run_test(size=(120, 30)) as pilot:
        screen, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: any(c.lane_name == "main" for c in pane.query(LaneColumn)))
        lane = main_lane(pane)
        height = lane.scrollable_content_region.height
        # The prompt line is at the top; wait until it is far above what the lane shows.
        await wait_for(pilot, lambda: len(lane.shown_text.splitlines()) > 3 * height, timeout=120)
        assert lane.following and pane.stats.state in ("live", "catching up")
        await pilot.press("slash")
        box = screen.query_one("#prompt", Input)
        assert box.display and box.has_focus
        box.value = "NEEDLE"
        await wait_for(pilot, lambda: pane.current_match is not None)
        assert pane.current_match is not None
        lane_name, line, column = pane.current_match
        assert lane_name == "main"
        assert lane.shown_text.splitlines()[line][column : column + 6].lower() == "needle"
        assert line < len(lane.shown_text.splitlines()) - 2 * height, "the match was beyond the screen"
        assert not lane.following, "going to a match stops follow"
        assert lane.scroll_y <= line < lane.scroll_y + height, "the lane scrolled to the match"
        await pilot.press("enter")
        assert not box.display and pane.search_query == "NEEDLE"
        # Tokens keep streaming: the match stays found and highlighted, the lane stays put.
        grown = len(lane.shown_text.splitlines())
        await wait_for(pilot, lambda: len(lane.shown_text.splitlines()) > grown + 2, timeout=60)
        assert pane.current_match == (lane_name, line, column) and not lane.following
        assert lane._hits_by_line.get(line) == [column]
        pane.focus()
        await pilot.press("end")
        assert lane.following
        await pilot.press("slash")
        await pilot.press("escape")
        assert pane.search_query == "" and lane.matches == []


async def test_a_stream_without_times_shows_no_times() -> None:
    """The fixture's events carry ts=0, like a framework's stream: no '+0.0s', no 1970."""
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=(160, 45)) as pilot:
        screen, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: len(pane.view.lanes) == 4, timeout=20)
        await pilot.pause(0.3)
        before = main_lane(pane).shown_text
        for _ in range(2):
            await pilot.press("t")
            await pilot.pause(0.3)
            assert main_lane(pane).shown_text == before
            assert "1970" not in str(pane.query_one(Timeline)._shown)
        assert screen.time_format == "absolute"


async def test_n_and_shift_n_move_between_matches_across_lanes() -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=(160, 45)) as pilot:
        screen, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: len(pane.view.lanes) == 4, timeout=20)
        await pilot.pause(0.3)
        await pilot.press("slash")
        screen.query_one("#prompt", Input).value = "run"  # in the fixture's main, researcher and writer lanes
        await wait_for(pilot, lambda: pane.current_match is not None)
        await pilot.press("enter")
        matches = pane.matches
        assert len({lane for lane, _, _ in matches}) > 1, matches  # every lane is searched
        assert pane.current_match == matches[0]
        await pilot.press("n")
        assert pane.current_match == matches[1]
        await pilot.press("N")
        await pilot.press("N")
        assert pane.current_match == matches[-1], "wraps around"
        lane = next(c for c in pane.query(LaneColumn) if c.lane_name == matches[-1][0])
        assert lane.current_match == matches[-1][1:] and lane._hits_by_line


async def test_search_at_80x24_finds_text_in_lanes_hidden_behind_tabs() -> None:
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=(80, 24)) as pilot:
        _, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: len(pane.view.lanes) == 4, timeout=20)
        await pilot.pause(0.5)
        assert pane.tab_mode and pane.lane_tab == "main"
        pane.search("run")
        await wait_for(pilot, lambda: {"researcher", "writer"} <= {lane for lane, _, _ in pane.matches}, timeout=10)
        while pane.current_match is not None and pane.current_match[0] == "main":
            await pilot.press("n")
        assert pane.current_match is not None
        await pilot.pause(0.2)
        assert pane.lane_tab == pane.current_match[0], "the match's lane is the shown tab"
        shown = [c for c in pane.query(LaneColumn) if c.display]
        assert [c.lane_name for c in shown] == [pane.current_match[0]]


async def test_each_step_keeps_one_row_in_a_narrow_pane() -> None:
    """A step's numbers (start, duration, TTFT, tokens, tokens/s) are cut at the edge, never wrapped."""
    app = WfwatchApp(services=fixture_services(), open_session="demo-team")
    async with app.run_test(size=(100, 45)) as pilot:
        screen, pane = await watching(pilot, app)
        await wait_for(pilot, lambda: len(pane.view.lanes) == 4, timeout=20)
        for _ in range(3):
            await pilot.press("a")
        await wait_for(pilot, lambda: len(screen.panes) == 4 and all(len(p.view.steps) == 4 for p in screen.panes))
        await pilot.pause(0.5)
        for each in screen.panes:
            timeline = each.query_one(Timeline)
            assert timeline.region.width < 30
            assert timeline.region.height == len(each.view.steps) + 2, timeline.region


async def test_text_selected_with_the_mouse_is_what_y_and_ctrl_c_copy(
    client: Client, task_queue: str, worker: Worker
) -> None:
    """Drag over a lane's lines (Textual's selection): y and ctrl+c copy exactly that text; the raw view too."""
    async with watched_to_the_end(
        client, task_queue, words=60, messages=["summarise the deploy"], tps=400, size=(120, 40)
    ) as (pilot, app, screen, pane):
        lane = main_lane(pane)
        region = lane.scrollable_content_region
        top = int(lane.scroll_offset.y)
        lines = lane.shown_text.splitlines()
        # Three rows in view, in the answer (the newest text), each long enough to cut into.
        last = min(region.height, len(lines) - top) - 1
        while len(lines[top + last]) < 8 or len(lines[top + last - 2]) < 8:
            last -= 1
        first = last - 2
        assert first >= 0, lines
        await pilot.mouse_down(offset=(region.x + 3, region.y + first))
        await pilot.hover(offset=(region.x + 6, region.y + last))
        await pilot.mouse_up(offset=(region.x + 6, region.y + last))
        await pilot.pause(0.2)
        # Textual's selection takes the cell under the pointer too (column 6 is the 7th character).
        expected = "\n".join([lines[top + first][3:], lines[top + first + 1], lines[top + last][:7]])
        assert screen.get_selected_text() == expected
        await pilot.press("y")
        assert app.clipboard == expected
        app.copy_to_clipboard("")
        await pilot.press("ctrl+c")
        assert app.clipboard == expected
        # The selection is drawn: the selected cells carry the screen's selection style.
        selected = screen.get_component_rich_style("screen--selection")
        strip = lane.render_line(first)
        assert [s.text for s in strip if s.style and selected.bgcolor == s.style.bgcolor] == [lines[top + first][3:]]
        # A click clears it; y then copies the latest message again.
        await pilot.click(offset=(region.x + 1, region.y + 1))
        await pilot.pause(0.1)
        assert not screen.get_selected_text()
        await pilot.press("y")
        assert app.clipboard == sanitize(next(m.answer for m in reversed(pane.view.lanes[0].messages) if m.answer))
        # The raw view's rows are selectable the same way.
        await pilot.press("v")
        await wait_for(pilot, lambda: pane.raw_mode)
        await pilot.pause(0.3)
        raw = pane.query_one("RawLog")
        rows = raw.lines()  # type: ignore[attr-defined]
        raw_region = raw.scrollable_content_region
        raw_top = int(raw.scroll_offset.y)
        await pilot.mouse_down(offset=(raw_region.x, raw_region.y + 1))
        await pilot.hover(offset=(raw_region.x + 12, raw_region.y + 2))
        await pilot.mouse_up(offset=(raw_region.x + 12, raw_region.y + 2))
        await pilot.pause(0.2)
        await pilot.press("y")
        assert app.clipboard == rows[raw_top + 1] + "\n" + rows[raw_top + 2][:13]
