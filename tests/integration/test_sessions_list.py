"""Sessions come from Temporal visibility; a bad query is an error message, not a crash."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.sessions import QueryRejected, SessionRow, TurnNotFound, list_sessions, turn_start_offset

QUICK = ModelSpec(tokens_per_second=0, answer_words=5, reasoning_words=0)


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


async def _wait(condition: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def test_a_session_that_continued_as_new_is_one_row_with_its_latest_runs_status_title_and_turn(
    client: Client, task_queue: str, worker: Worker
) -> None:
    # A rollover after every step: two turns of three steps leave several closed runs behind.
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(title="rolled over", messages=["a", "b"], idle_timeout=60, rollover_after_steps=1, model=QUICK),
        id=f"list-can-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    query = f"WorkflowId = '{handle.id}'"

    async def rolled_over_twice_and_in_turn_2() -> bool:
        info = await handle.query(AgentSession.info)
        if info.runs < 3 or info.turn < 2:
            return False
        runs = [run async for run in client.list_workflows(query)]
        return len(runs) >= 3 and sum(run.status == WorkflowExecutionStatus.RUNNING for run in runs) == 1

    await _wait(rolled_over_twice_and_in_turn_2)
    current = (await handle.describe()).run_id
    rows: list[SessionRow] = []

    async def listed_as_the_current_run() -> bool:
        nonlocal rows
        rows = await list_sessions(client, query)
        return len(rows) == 1 and rows[0].run_id == current and rows[0].turn == 2

    await _wait(listed_as_the_current_run)
    assert (rows[0].status, rows[0].title, rows[0].turn) == ("running", "rolled over", 2)

    # Closed, it is still one row: the last run, completed.
    await handle.signal(AgentSession.close)
    await handle.result()
    last = (await handle.describe()).run_id

    async def listed_as_completed() -> bool:
        nonlocal rows
        rows = await list_sessions(client, query)
        return len(rows) == 1 and rows[0].status == "completed"

    await _wait(listed_as_completed)
    assert (rows[0].run_id, rows[0].title, rows[0].turn) == (last, "rolled over", 2)


async def test_the_limit_counts_sessions_not_runs(client: Client, task_queue: str, worker: Worker) -> None:
    # One after the other: the second session's older runs closed after the first session's last one,
    # so visibility lists them before it.
    spec = SessionInput(messages=["a"], idle_timeout=0.1, rollover_after_steps=1, model=QUICK)
    handles = []
    for n in range(2):
        handle = await client.start_workflow(
            AgentSession.run, spec, id=f"list-limit-{n}-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
        handles.append(handle)
    query = " OR ".join(f"WorkflowId = '{h.id}'" for h in handles)

    async def every_run_visible() -> bool:
        runs = [run async for run in client.list_workflows(query)]
        return len(runs) >= 6 and sum(run.status == WorkflowExecutionStatus.COMPLETED for run in runs) == 2

    await _wait(every_run_visible)
    rows = await list_sessions(client, query, limit=2)
    assert [row.workflow_id for row in rows] == [handles[1].id, handles[0].id]
    assert [row.status for row in rows] == ["completed", "completed"]
    assert [row.workflow_id for row in await list_sessions(client, query, limit=1)] == [handles[1].id]
