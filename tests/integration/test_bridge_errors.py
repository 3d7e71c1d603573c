"""The bridge's answers at the edges: beyond the head, a worker that is down, an id it cannot parse.

Real HTTP on loopback against the real dev server, as in test_bridge.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from _bridge_support.sse import collect
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.worker import create_worker
from wfwatch.agents.workflows import AgentSession
from wfwatch.bridge.server import BridgeServer
from wfwatch.hub import EndOfStream, Hub, Join
from wfwatch.stream.reader import read_all

QUICK = ModelSpec(tokens_per_second=0, answer_words=3, reasoning_words=0)


@contextlib.asynccontextmanager
async def bridge(client: Client, tmp_path: Path) -> AsyncIterator[tuple[BridgeServer, httpx.AsyncClient]]:
    hub = Hub(client, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", grace=0.5)
    async with (
        hub,
        BridgeServer(client, hub, port=0, token=None) as server,
        httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(60.0)) as http,
    ):
        yield server, http


async def _finished(client: Client, task_queue: str) -> tuple[str, int]:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["hi"], idle_timeout=0.5, model=QUICK),
        id=f"session-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    records, _, end = await read_all(client, handle.id, timeout=30)
    assert end is not None
    return handle.id, len(records)


async def test_a_closed_stream_read_beyond_its_head_ends_at_the_real_head(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    session_id, head = await _finished(client, task_queue)
    beyond = head + 94
    async with bridge(client, tmp_path) as (_, http):
        got = await collect(http, f"/sessions/{session_id}/events", params={"from": str(beyond)})
    assert [g.event for g in got] == ["end"]
    assert got[0].json == {"status": "completed", "next_offset": head}
    assert got[0].id is not None and got[0].id.endswith(f":{head}")

    # The hub says the same to its own devices, through the shared feed and directly.
    async with Hub(client, state_dir=tmp_path / "s2", cache_dir=tmp_path / "c2") as hub:
        for direct in (False, True):
            device = await hub.open_device(session_id, name="far", join=Join.at(beyond), direct=direct)
            seen = [event async for event in device]
            assert seen == [EndOfStream("completed", head)], (direct, seen)
            assert device.position == beyond, "the device stays where it asked to be"
            await device.close()


async def test_a_session_whose_worker_is_down_is_503_with_tails_reason_and_is_retried_until_it_reads(
    client: Client, task_queue: str, tmp_path: Path
) -> None:
    async with create_worker(client, task_queue):
        handle = await client.start_workflow(
            AgentSession.run, SessionInput(idle_timeout=300), id=f"session-{uuid.uuid4()}", task_queue=task_queue
        )
        for _ in range(200):
            records, _, _ = await read_all(client, handle.id, timeout=0.5)
            if records:
                break
        assert records
    # The worker is gone: nobody answers the stream's queries, and the bridge has no copy.
    url = f"/sessions/{handle.id}/events"
    reason = (
        f"no worker answered a query on {handle.id!r} within 10 s "
        "(queries are answered by the workflow's worker: is one polling its task queue?)"
    )
    try:
        async with bridge(client, tmp_path) as (server, http):
            first = await http.get(url)
            assert first.status_code == 503, first.text
            assert first.json() == {"error": reason}
            assert first.headers["retry-after"] == "5"
            began = time.monotonic()
            again = await http.get(url)
            assert (again.status_code, again.json()) == (503, {"error": reason})
            assert time.monotonic() - began < 5, "while retrying, a request is answered at once"
            assert server.bridge.hub.devices() == []

            async with create_worker(client, task_queue):
                deadline = time.monotonic() + 90
                while True:
                    response = await http.head(url)  # a running stream's GET would not end
                    if response.status_code != 503:
                        break
                    assert time.monotonic() < deadline, "the bridge never read the session again"
                    await asyncio.sleep(1)
                assert response.status_code == 200
                got = await collect(http, url, stop_after=1)
                assert got[0].json["kind"] == "session_started"
    finally:
        await handle.terminate("test over")


async def test_a_last_event_id_it_cannot_parse_is_400_saying_which_forms_are_accepted(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    session_id, _ = await _finished(client, task_queue)
    async with bridge(client, tmp_path) as (_, http):
        for bad in ("abc", "bad epoch!:3", "epoch:x"):
            response = await http.get(f"/sessions/{session_id}/events", headers={"Last-Event-ID": bad})
            assert response.status_code == 400
            error = response.json()["error"]
            assert "'<epoch>:<offset>'" in error and "bare offset" in error and repr(bad) in error, error
