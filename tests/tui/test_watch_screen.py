"""The dashboard against the real server, driven by Textual's Pilot."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pilot_helpers import wait_for
from temporalio.client import Client
from temporalio.worker import Worker
from textual.widgets import DataTable, Input

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.reducer import reduce
from wfwatch.stream.reader import read_all
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.devices_panel import DevicesPanel
from wfwatch.tui.widgets.pane import Pane

HOSTILE = "[red]not red[/red] \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x1b[31mred? "


async def join_at(pilot: Any, text: str) -> None:
    """Open the focused pane's join prompt, fill it in and submit it.

    The text is set rather than typed key by key: under a streaming session
    each Pilot key press waits up to ~2 s for the process to look idle.
    """
    await pilot.press("j")
    pilot.app.screen.query_one("#prompt", Input).value = text
    await pilot.press("enter")


@pytest.mark.slow
async def test_panes_join_drop_reconnect_and_match_the_session(client: Client, task_queue: str, worker: Worker) -> None:
    # ~12 s a turn, so the first still streams while the panes are arranged
    # (each Pilot key press can take ~2 s while the process is busy).
    model = ModelSpec(tokens_per_second=40, answer_words=240, reasoning_words=10, answer=None)
    handle = await client.start_workflow(
        AgentSession.run,
        # Open until closed below: on a slow box the arranging took longer than both turns (CI saw the
        # session end, its devices close and the feed's grace run out before the upstream was checked).
        SessionInput(messages=["first", "second"], idle_timeout=600, model=model),
        id=f"tui-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    app = WfwatchApp(client, open_session=handle.id)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        first = screen.panes[0]
        await wait_for(pilot, lambda: first.reducer.next_offset > 20)
        await pilot.press("a")  # second pane joins live
        await pilot.press("a")  # third pane from the start...
        await pilot.pause()
        panes = screen.panes
        assert len(panes) == 3
        panes[2].focus()
        await join_at(pilot, "offset 7")  # ...then re-joins at offset 7
        assert panes[2].join.describe() == "offset 7"
        panes[0].focus()
        await pilot.press("d")  # drop the first pane
        assert panes[0].stats.state == "disconnected"
        dropped_at = panes[0].reducer.next_offset
        await asyncio.sleep(1.0)
        assert panes[0].reducer.next_offset == dropped_at, "nothing arrives while disconnected"
        # The hub sees the dropped pane as an offline device holding its position.
        table = app.services.device_table
        assert table is not None
        rows = {row.name: row for row in table(handle.id)}
        assert set(rows) == {"pane-1", "pane-2", "pane-3"}
        assert not rows["pane-1"].open and rows["pane-1"].position == dropped_at
        assert rows["pane-2"].connected and rows["pane-3"].join == "offset 7"
        await pilot.press("p")  # the devices panel lists them too
        await pilot.pause(0.6)
        panel = screen.query_one(DevicesPanel)
        assert panel.display and panel.query_one(DataTable).row_count == 3
        # Two panes attached to the one upstream reader; the dropped one is detached.
        assert app.services.upstream is not None
        upstream = app.services.upstream(handle.id)
        assert upstream.running and upstream.devices == 2 and upstream.connected == 2, (upstream, table(handle.id))
        await handle.signal(AgentSession.close)  # the session ends after its turns
        await pilot.press("d")  # reconnect: catches up from its position
        await wait_for(pilot, lambda: all(p.stats.state == "ended" for p in panes), timeout=90)
        records, _, _ = await read_all(client, handle.id)
        expected = reduce(records).canonical_text()
        assert panes[0].view.canonical_text() == expected
        assert panes[2].view == reduce([r for r in records if r.offset >= 7])
        assert panes[2].view.first_offset == 7
        live = panes[1].view
        assert live.first_offset is not None and live.first_offset > 0
        assert reduce([r for r in records if r.offset >= live.first_offset]) == live
        # Three panes, one upstream reader: never more than one poll in flight.
        upstream = app.services.upstream(handle.id)
        assert upstream.max_in_flight <= 1 and upstream.ended == "completed", upstream


async def test_resume_picks_up_where_the_pane_left_off_in_an_earlier_run(
    client: Client, task_queue: str, worker: Worker
) -> None:
    model = ModelSpec(tokens_per_second=40, answer_words=60, reasoning_words=5, answer=None)
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
        pane = first_app.screen.panes[0]  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: pane.reducer.next_offset > 10)
        await pilot.press("d")
        left_at = pane.reducer.next_offset
    await handle.signal(AgentSession.close)
    # A new dashboard (its own hub) on the same machine: the position was saved.
    second_app = WfwatchApp(client, open_session=handle.id)
    second_app.preferences.default_join = "resume"
    async with second_app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(second_app.screen, WatchScreen))
        pane = second_app.screen.panes[0]  # type: ignore[attr-defined]
        assert pane.join.describe() == "resume"
        await wait_for(pilot, lambda: pane.stats.state == "ended", timeout=90)
        records, _, _ = await read_all(client, handle.id)
        assert pane.view.first_offset == left_at
        assert pane.view == reduce([r for r in records if r.offset >= left_at])


async def test_hostile_model_output_renders_literally(client: Client, task_queue: str, worker: Worker) -> None:
    model = ModelSpec(tokens_per_second=0, answer=HOSTILE, reasoning="")
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["x"], idle_timeout=0.5, model=model),
        id=f"tui-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    app = WfwatchApp(client, open_session=handle.id)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, WatchScreen) and app.screen.panes[0].stats.state == "ended"
        )
        pane: Pane = app.screen.panes[0]  # type: ignore[attr-defined]
        await pilot.pause(0.3)
        shown = _screen_text(app)
        assert "[red]not red[/red]" in shown
        assert "\x1b" not in shown and "\x07" not in shown
        assert "\\x1b" in shown
        assert pane.view.lanes[0].messages[-1].answer == HOSTILE


def _screen_text(app: WfwatchApp) -> str:
    """Everything the lane columns currently show, as plain text."""
    from wfwatch.tui.widgets.lane import LaneColumn

    return "\n".join(column.shown_text for column in app.screen.query(LaneColumn))
