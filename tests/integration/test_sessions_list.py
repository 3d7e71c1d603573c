"""Sessions come from Temporal visibility; a bad query is an error message, not a crash."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.sessions import QueryRejected, TurnNotFound, list_sessions, turn_start_offset


async def test_a_session_is_listed_with_title_and_turn_from_its_memo(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(title="listed one", messages=["a"], idle_timeout=30, model=ModelSpec(tokens_per_second=0)),
        id=f"list-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    query = f"WorkflowId = '{handle.id}'"
    for _ in range(100):
        rows = await list_sessions(client, query)
        if rows and rows[0].turn == 1:
            break
        await asyncio.sleep(0.1)
    assert len(rows) == 1
    row = rows[0]
    assert (row.workflow_id, row.workflow_type, row.status, row.title, row.turn) == (
        handle.id,
        "AgentSession",
        "running",
        "listed one",
        1,
    )
    assert row.is_wfwatch
    assert await turn_start_offset(client, handle.id, 1) == 1
    with pytest.raises(TurnNotFound, match="has no turn 7"):
        await turn_start_offset(client, handle.id, 7)
    await handle.signal(AgentSession.close)


async def test_bad_visibility_query_raises_query_error(client: Client) -> None:
    with pytest.raises(QueryRejected):
        await list_sessions(client, "WorkflowId ==== nonsense")
