"""A replica's side of the fleet, in-process: /healthz, /stats, /devices, X-Wfwatch-Replica, drain."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from _bridge_support.sse import SSEEvent, sse
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.bridge.server import BridgeServer, default_replica_id
from wfwatch.hub import Hub, Join
from wfwatch.hub.remote import RemoteDevices
from wfwatch.tui.services import Services

TOKEN = "fleet-token-0123456789abcdef"


@contextlib.asynccontextmanager
async def replica(
    client: Client, tmp_path: Path, **options: Any
) -> AsyncIterator[tuple[BridgeServer, httpx.AsyncClient]]:
    hub = Hub(client, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", grace=0.5)
    async with (
        hub,
        BridgeServer(client, hub, port=0, **options) as server,
        httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(30.0)) as http,
    ):
        yield server, http


async def test_healthz_is_public_cached_names_the_replica_and_every_response_carries_the_header(
    client: Client, tmp_path: Path
) -> None:
    async with replica(client, tmp_path, token=TOKEN, replica_id="eu-1") as (server, http):
        answer = await http.get("/healthz")
        assert answer.status_code == 200, answer.text  # no token: a balancer carries none
        assert answer.json() == {"status": "ok", "replica": "eu-1", "streams": 0}
        assert answer.headers["x-wfwatch-replica"] == "eu-1"
        # Refusals and errors carry it too (it is the outermost middleware).
        assert (await http.get("/stats")).status_code == 401
        assert (await http.get("/stats")).headers["x-wfwatch-replica"] == "eu-1"
        assert (await http.get("/nope", params={"token": TOKEN})).headers["x-wfwatch-replica"] == "eu-1"
        # A balancer checking often costs Temporal one health RPC a second, not one per check.
        probes = server.bridge.health.probes
        await asyncio.gather(*(http.get("/healthz") for _ in range(20)))
        assert server.bridge.health.probes - probes <= 1


async def test_the_default_replica_id_is_hostname_and_port(client: Client, tmp_path: Path) -> None:
    async with replica(client, tmp_path) as (server, http):
        assert server.bridge.replica_id == default_replica_id(server.port)
        assert (await http.get("/healthz")).headers["x-wfwatch-replica"].endswith(f":{server.port}")


async def test_healthz_is_503_when_temporal_cannot_be_reached(client: Client, tmp_path: Path) -> None:
    # A real client to a port nobody listens on (lazy: it connects on first use, and fails).
    unreachable = await Client.connect("127.0.0.1:9", namespace="default", lazy=True)
    hub = Hub(unreachable, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache")
    async with (
        hub,
        BridgeServer(unreachable, hub, port=0, replica_id="lost") as server,
        httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(30.0)) as http,
    ):
        answer = await http.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable" and "unreachable" in answer.json()["reason"]
    assert answer.headers["retry-after"] == "1"


async def test_stats_devices_and_sessions_say_what_this_replica_serves_and_drain_ends_streams_with_a_retry(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    spec = SessionInput(idle_timeout=30.0)
    handle = await client.start_workflow(AgentSession.run, spec, id=f"fleet-{uuid.uuid4()}", task_queue=task_queue)
    async with replica(client, tmp_path, replica_id="r7") as (server, http):
        got: list[SSEEvent] = []
        retries: list[str] = []

        async def listen() -> None:
            async with http.stream("GET", f"/sessions/{handle.id}/events") as response:
                assert response.headers["x-wfwatch-replica"] == "r7"
                async for line in response.aiter_lines():
                    if line.startswith("retry:"):
                        retries.append(line)
                    elif line.startswith("id:"):
                        got.append(SSEEvent("message", "", line))

        listener = asyncio.create_task(listen())
        for _ in range(300):
            if got:
                break
            await asyncio.sleep(0.05)
        stats = (await http.get("/stats")).json()
        assert stats["replica"] == "r7" and stats["streams"] == 1 and stats["upstream_readers"] == 1
        [row] = [s for s in stats["sessions"] if s["session_id"] == handle.id]
        assert row["reader_running"] and row["devices"] == 1 and row["updates"] >= 1
        devices = (await http.get("/devices", params={"session": handle.id})).json()["devices"]
        assert [(d["session_id"], d["replica"], d["connected"]) for d in devices] == [(handle.id, "r7", True)]
        assert (await http.get("/devices", params={"session": "a b"})).status_code == 400
        rows = (await http.get("/sessions")).json()["sessions"]
        assert {r["session_id"]: r["served_by"] for r in rows}[handle.id] == "r7"

        # Drain: healthz and new streams say 503 at once; the open stream goes on until stop.
        server.bridge.drain()
        assert (await http.get("/healthz")).json()["status"] == "draining"
        assert (await http.get("/healthz")).status_code == 503
        assert (await http.get(f"/sessions/{handle.id}/events")).status_code == 503
        assert not listener.done()
        await server.stop()
        await asyncio.wait_for(listener, 10)
    assert retries == ["retry: 1000", "retry: 250"], "the first retry is the stream's own; 250 ms says: drained"
    await handle.signal(AgentSession.close)


async def test_sse_through_sse_helper_still_parses_a_drained_stream(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    """A stream ended by a drain is a clean end of body: EventSource-style parsers see no error."""
    spec = SessionInput(idle_timeout=30.0)
    handle = await client.start_workflow(AgentSession.run, spec, id=f"fleet-{uuid.uuid4()}", task_queue=task_queue)
    async with replica(client, tmp_path) as (server, http):
        seen: list[object] = []

        async def listen() -> None:
            async for item in sse(http, f"/sessions/{handle.id}/events"):
                seen.append(item)

        listener = asyncio.create_task(listen())
        for _ in range(300):
            if seen:
                break
            await asyncio.sleep(0.05)
        await server.drain(0.2)
        await asyncio.wait_for(listener, 10)
    assert seen and isinstance(seen[0], SSEEvent) and seen[0].json["kind"] == "session_started"
    await handle.signal(AgentSession.close)


async def test_the_dashboards_devices_table_lists_a_remote_replicas_viewers_as_devices(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    spec = SessionInput(idle_timeout=30.0)
    handle = await client.start_workflow(AgentSession.run, spec, id=f"fleet-{uuid.uuid4()}", task_queue=task_queue)
    async with (
        replica(client, tmp_path / "r", token=TOKEN, replica_id="eu-2") as (server, http),
        Hub(client, state_dir=tmp_path / "tui-state", cache_dir=tmp_path / "tui-cache") as local_hub,
    ):
        remote = RemoteDevices([server.url, "http://127.0.0.1:9"], token=TOKEN, interval=0.1)
        services = Services.for_client(client, hub=local_hub, remote=remote)
        assert services.device_table is not None
        viewer = asyncio.create_task(_read(http, f"/sessions/{handle.id}/events", TOKEN))
        pane = await local_hub.open_device(handle.id, name="pane-1", join=Join("start"))
        try:
            rows: list[Any] = []
            # Both polls must have answered: the replica's rows and the unreachable bridge's error
            # (on a slow box the refusal came after the rows, CI).
            for _ in range(400):
                rows = services.device_table(handle.id)
                if len(rows) == 2 and "http://127.0.0.1:9" in remote.errors:
                    break
                await asyncio.sleep(0.05)
            by_name = {row.name: row for row in rows}
            assert "pane-1" in by_name, rows  # the dashboard's own pane
            [remote_name] = [name for name in by_name if name != "pane-1"]
            assert remote_name.startswith("eu-2 · sse 127.0.0.1:")  # a browser viewer served by eu-2
            assert by_name[remote_name].connected and by_name[remote_name].device_id.startswith("eu-2/sse-")
            assert "http://127.0.0.1:9" in remote.errors  # an unreachable bridge is named, not fatal
        finally:
            await pane.close()
            viewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await viewer
            assert services.aclose is not None
            await services.aclose()
    await handle.signal(AgentSession.close)


async def _read(http: httpx.AsyncClient, url: str, token: str) -> None:
    async with http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
        async for _ in response.aiter_bytes():
            pass
