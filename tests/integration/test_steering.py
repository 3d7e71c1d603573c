"""Steering refuses workflows that are not wfwatch sessions, and writes nothing into them.

Against the real dev server, with someone else's workflow (``OrderPipeline``,
a Workflow Stream but no wfwatch handlers): every way in — the library call,
``wfwatch send`` / ``cancel`` and the bridge's POSTs — is refused with one
clear message, and the workflow's history gains no Signal and no Update.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cli_process import run_cli
from foreign_stream import OrderPipeline
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from wfwatch import steering
from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.bridge.server import BridgeServer
from wfwatch.hub import Hub
from wfwatch.temporal.server import EmbeddedServer

WRITES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
}


@pytest.fixture
async def foreign(client: Client, task_queue: str) -> AsyncIterator[WorkflowHandle[OrderPipeline, None]]:
    """A running workflow that is not a wfwatch session, with its own worker."""
    queue = f"{task_queue}-foreign"
    async with Worker(client, task_queue=queue, workflows=[OrderPipeline]):
        handle = await client.start_workflow(OrderPipeline.run, id=f"orders-{uuid.uuid4()}", task_queue=queue)
        await _settled(handle)
        yield handle
        await handle.terminate("test over")


async def _history(handle: WorkflowHandle[OrderPipeline, None]) -> list[EventType.ValueType]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def _settled(handle: WorkflowHandle[OrderPipeline, None]) -> None:
    """Wait until the first workflow task completed, so the history only grows if someone writes to it."""
    for _ in range(200):
        if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in await _history(handle):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the foreign workflow never ran its first task")


async def _assert_untouched(handle: WorkflowHandle[OrderPipeline, None], before: list[EventType.ValueType]) -> None:
    await asyncio.sleep(0.5)  # a Signal sent anyway would be in the history by now
    after = await _history(handle)
    assert after == before, f"the refused attempt wrote into the workflow: {after[len(before) :]}"
    assert not WRITES & set(after)


async def test_the_library_refuses_to_steer_a_foreign_workflow_and_writes_nothing(
    client: Client, foreign: WorkflowHandle[OrderPipeline, None]
) -> None:
    before = await _history(foreign)
    with pytest.raises(steering.SteeringError, match="not a wfwatch session") as cancelled:
        await steering.cancel_turn(client, foreign.id)
    assert cancelled.value.reason == "not_steerable"
    assert "'OrderPipeline'" in str(cancelled.value) and "nothing was sent" in str(cancelled.value)
    with pytest.raises(steering.SteeringError, match="not a wfwatch session") as sent:
        await steering.send_message(client, foreign.id, "hello")
    assert sent.value.reason == "not_steerable"
    await _assert_untouched(foreign, before)


async def test_wfwatch_send_and_cancel_refuse_a_foreign_workflow_in_one_line(
    temporal_server: EmbeddedServer, foreign: WorkflowHandle[OrderPipeline, None]
) -> None:
    before = await _history(foreign)
    for args in (("cancel", foreign.id), ("send", foreign.id, "hello")):
        code, out, err = await run_cli(*args, "--address", temporal_server.address)
        assert code == 1, (args, out, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "not a wfwatch session" in lines[0], err
    await _assert_untouched(foreign, before)


async def test_the_bridge_refuses_to_steer_a_foreign_workflow_with_409(
    client: Client, foreign: WorkflowHandle[OrderPipeline, None], tmp_path: Path
) -> None:
    before = await _history(foreign)
    hub = Hub(client, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", grace=0.5)
    async with (
        hub,
        BridgeServer(client, hub, port=0, token=None) as server,
        httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(30.0)) as http,
    ):
        cancel = await http.post(f"/sessions/{foreign.id}/cancel", json={})
        message = await http.post(f"/sessions/{foreign.id}/messages", json={"text": "hello"})
    for response in (cancel, message):
        assert response.status_code == 409, response.text
        assert "not a wfwatch session" in response.json()["error"]
    await _assert_untouched(foreign, before)


async def test_a_session_is_still_steered_and_a_finished_one_is_refused_as_finished(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(idle_timeout=30, model=ModelSpec(tokens_per_second=0, answer_words=3, reasoning_words=0)),
        id=f"steer-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    result = await steering.send_message(client, handle.id, "hi")
    assert result.turn == 1
    await steering.cancel_turn(client, handle.id)
    await handle.signal(AgentSession.close)
    await handle.result()
    with pytest.raises(steering.SteeringError, match="is completed") as refused:
        await steering.cancel_turn(client, handle.id)
    assert refused.value.reason == "not_running"
    with pytest.raises(steering.SteeringError) as missing:
        await steering.cancel_turn(client, f"no-such-{uuid.uuid4()}")
    assert missing.value.reason == "not_found"
