"""The dashboard against the real server, driven by Textual's Pilot."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.reducer import reduce
from wfwatch.stream.reader import read_all
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.pane import Pane

HOSTILE = "[red]not red[/red] \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x1b[31mred? "


async def wait_for(pilot: object, condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await pilot.pause(0.1)  # type: ignore[attr-defined]


async def test_panes_join_drop_reconnect_and_match_the_session(client: Client, task_queue: str, worker: Worker) -> None:
    model = ModelSpec(tokens_per_second=60, answer_words=80, reasoning_words=10, answer=None)
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["first", "second"], idle_timeout=0.5, model=model),
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
        await pilot.press("a")  # third pane from the start
        await pilot.pause()
        panes = screen.panes
        assert len(panes) == 3
        panes[0].focus()
        await pilot.press("d")  # drop the first pane
        assert panes[0].stats.state == "disconnected"
        dropped_at = panes[0].reducer.next_offset
        await asyncio.sleep(1.0)
        assert panes[0].reducer.next_offset == dropped_at, "nothing arrives while disconnected"
        await pilot.press("d")  # reconnect: catches up from its position
        await wait_for(pilot, lambda: all(p.stats.state == "ended" for p in panes), timeout=90)
        records, _, _ = await read_all(client, handle.id)
        expected = reduce(records).canonical_text()
        assert panes[0].view.canonical_text() == expected
        assert panes[2].view.canonical_text() == expected
        live = panes[1].view
        assert live.first_offset is not None and live.first_offset > 0
        assert reduce([r for r in records if r.offset >= live.first_offset]) == live


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

    texts = []
    for column in app.screen.query(LaneColumn):
        body = column._body.render()
        texts.append(str(getattr(body, "plain", body)))
    return "\n".join(texts)
