"""A pane joined beyond the head of a closed stream says where the stream really ended."""

from __future__ import annotations

import uuid

from pilot_helpers import wait_for
from temporalio.client import Client
from temporalio.worker import Worker
from textual.widgets import Input

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.stream.reader import read_all
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.pane import Pane


async def test_a_pane_beyond_the_head_of_a_closed_stream_ends_at_the_real_head(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["hi"], idle_timeout=0.5, model=ModelSpec(tokens_per_second=0, answer_words=3)),
        id=f"beyond-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    records, _, _ = await read_all(client, handle.id, timeout=30)
    head = len(records)
    app = WfwatchApp(client, open_session=handle.id)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        pane = app.screen.query_one(Pane)
        await wait_for(pilot, lambda: pane.stats.state == "ended")
        await pilot.press("j")
        app.screen.query_one("#prompt", Input).value = "offset 100"
        await pilot.press("enter")

        def header() -> str:
            return pane._header_text().plain

        await wait_for(pilot, lambda: pane.stats.state == "ended" and "100" in header())
        shown = header()
        assert f" {head}/{head} " in shown and "100/100" not in shown, shown
        assert f"offset 100 is beyond the head ({head})" in shown, shown
        assert "until the stream gets there" not in shown, shown
