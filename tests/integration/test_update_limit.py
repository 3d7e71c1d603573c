"""A reader never gets stuck at Temporal's per-run Update limit.

A dedicated dev server with ``history.maxTotalUpdates`` lowered to 15 makes
the limit reachable in seconds; the reader must fall back to the poll Query
and still deliver every offset.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from wfwatch.agents.model import scripted_texts
from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.worker import create_worker
from wfwatch.agents.workflows import AgentSession
from wfwatch.reducer import reduce
from wfwatch.stream.reader import Batch, End, StreamReader
from wfwatch.temporal.server import EmbeddedServer


@pytest.fixture(scope="module")
async def limited_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    db = Path(tmp_path_factory.mktemp("limited")) / "t.db"
    async with EmbeddedServer(db_path=db, dynamic_config={"history.maxTotalUpdates": 15}) as server:
        yield await Client.connect(server.address, namespace=server.namespace)


@pytest.mark.slow
async def test_reader_falls_back_to_query_at_the_update_limit(limited_client: Client) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    model = ModelSpec(tokens_per_second=60, answer_words=150, reasoning_words=0)
    async with create_worker(limited_client, task_queue):
        handle = await limited_client.start_workflow(
            AgentSession.run,
            SessionInput(messages=["go"], idle_timeout=0.5, model=model, rollover_history_events=100_000),
            id=f"limit-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        reader = StreamReader(limited_client, handle.id, poll_interval=0.05)
        records = []
        end = None
        async for result in reader:
            if isinstance(result, Batch):
                records.extend(result.records)
            elif isinstance(result, End):
                end = result
    assert end is not None and end.status == "completed"
    assert reader.stats.update_limit_fallbacks >= 1, reader.stats
    assert [r.offset for r in records] == list(range(len(records)))
    assert reduce(records).lanes[0].messages[-1].answer == scripted_texts(model, "go", "writer")[1]
