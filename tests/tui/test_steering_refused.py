"""`c` and `s` on a workflow that is not a wfwatch session: refused, said so, nothing written into it."""

from __future__ import annotations

import asyncio
import uuid

from foreign_stream import OrderPipeline
from pilot_helpers import wait_for
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker
from textual.widgets import Input

from wfwatch.stream.reader import POLL
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.watch import WatchScreen


async def test_cancel_and_send_on_a_foreign_workflow_are_refused_and_write_nothing(
    client: Client, task_queue: str
) -> None:
    queue = f"{task_queue}-foreign"
    async with Worker(client, task_queue=queue, workflows=[OrderPipeline]):
        handle = await client.start_workflow(OrderPipeline.run, id=f"orders-{uuid.uuid4()}", task_queue=queue)

        async def steering_writes() -> list[str]:
            """Signals and Updates in the history, by name, but the stream's own poll (the pane reads by it)."""
            found = []
            for event in (await handle.fetch_history()).events:
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                    found.append(event.workflow_execution_signaled_event_attributes.signal_name)
                elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                    name = event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                    if name != POLL:
                        found.append(name)
            return found

        app = WfwatchApp(client, open_session=handle.id)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))

            def errors() -> list[str]:
                return [str(n.message) for n in app._notifications if n.severity == "error"]

            await pilot.press("c")
            await wait_for(pilot, lambda: len(errors()) == 1, timeout=30)
            await pilot.press("s")
            prompt = app.screen.query_one("#prompt", Input)
            prompt.value = "hello"
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(errors()) == 2, timeout=30)
            shown = [str(n.message) for n in app._notifications]
            assert "cancel requested" not in shown and not any("queued" in m for m in shown)
            assert all("not a wfwatch session" in m for m in errors()), errors()
        await asyncio.sleep(0.5)  # a Signal sent anyway would be in the history by now
        assert await steering_writes() == [], "the refused attempts wrote into the workflow"
        await handle.terminate("test over")
