"""Many ``wfwatch serve`` replicas behind a real HAProxy, on loopback (issue 15).

Three replica processes, the configuration :mod:`wfwatch.bridge.haproxy`
writes (the one deploy/haproxy/ ships), hundreds of reconnecting SSE
clients. Checked from the replicas' own counters (``/stats``): hashing on
the session id gives each session exactly one upstream reader in the fleet.
Then a replica dies (SIGKILL) or drains (SIGTERM) mid-stream, and every
client still ends with every offset exactly once, having resumed through
the balancer on another replica within seconds.

Without ``haproxy`` on PATH the module skips, unless
``WFWATCH_REQUIRE_HAPROXY=1`` (CI sets it): then each test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _bridge_support.follower import Follower
from _bridge_support.processes import BridgeProcess
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.bridge.haproxy import HAProxy, Timing, find_haproxy, free_port, render_config
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer

HAPROXY = find_haproxy()
REQUIRE_HAPROXY = os.environ.get("WFWATCH_REQUIRE_HAPROXY") == "1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        HAPROXY is None and not REQUIRE_HAPROXY,
        reason="haproxy is not on PATH (apt-get install -y haproxy); the fleet tests need a real load balancer",
    ),
]

#: Health checks fast enough for a test; the shipped config's defaults are 1 s / fall 2.
TIMING = Timing(check_interval=500, fast_interval=200, fall=2, rise=2, connect_timeout=1000)
RESUME_WITHIN = 5.0


@contextlib.asynccontextmanager
async def fleet(
    server: EmbeddedServer, tmp_path: Path, replicas: int, *extra: str
) -> AsyncIterator[tuple[list[BridgeProcess], HAProxy]]:
    if HAPROXY is None:
        pytest.fail("WFWATCH_REQUIRE_HAPROXY=1 but haproxy is not installed (apt-get install -y haproxy)")
    processes = [
        BridgeProcess(
            server.address, server.namespace, tmp_path / f"r{i}", extra_args=("--replica-id", f"r{i}", *extra)
        )
        for i in range(1, replicas + 1)
    ]
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.gather(*(stack.enter_async_context(p) for p in processes))
        port = free_port()
        config = render_config(
            [p.url.removeprefix("http://") for p in processes], bind=f"127.0.0.1:{port}", timing=TIMING
        )
        balancer = await stack.enter_async_context(HAProxy(config, tmp_path / "haproxy", port=port))
        yield processes, balancer


async def start_session(client: Client, task_queue: str, words: int) -> WorkflowHandle[Any, Any]:
    # ~2 * (words + 6) tokens at 10/s: long enough to kill a replica mid-stream, light on a 2-core box.
    # Open until the test closes it (close_all), however long a slow box takes to connect every client.
    model = ModelSpec(tokens_per_second=10, answer_words=words, reasoning_words=6)
    spec = SessionInput(messages=["go"], model=model, idle_timeout=600)
    return await client.start_workflow(AgentSession.run, spec, id=f"fleet-{uuid.uuid4()}", task_queue=task_queue)


async def close_all(handles: list[WorkflowHandle[Any, Any]]) -> None:
    """Let every session end once its turn is done."""
    await asyncio.gather(*(h.signal(AgentSession.close) for h in handles))


async def readers(http: httpx.AsyncClient, processes: list[BridgeProcess]) -> dict[str, set[str]]:
    """Per session, the replicas running an upstream reader for it, from each replica's ``/stats``."""
    out: dict[str, set[str]] = {}
    for process in processes:
        if not process.running:
            continue
        stats = (await http.get(f"{process.url}/stats")).json()
        for row in stats["sessions"]:
            if row["reader_running"]:
                out.setdefault(row["session_id"], set()).add(stats["replica"])
    return out


async def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def check_complete(followers: list[Follower], expected: dict[str, int]) -> None:
    """Every follower ended with every offset of its session exactly once, in order."""
    for f in followers:
        session = f.url.split("/")[-2]
        assert f.ended is not None, f"{f.url}: {f.errors[-3:]}, {len(f.offsets)} offsets"
        assert not f.gaps, f.gaps
        dupes = [o for o, n in Counter(f.offsets).items() if n > 1]
        assert not dupes, f"{session}: duplicated offsets {dupes[:10]}"
        assert f.offsets == list(range(expected[session])), f"{session}: {f.offsets[:20]}..."


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=5.0), limits=httpx.Limits(max_connections=None, max_keepalive_connections=0)
    )


async def test_hash_routing_gives_one_reader_per_session_and_a_killed_replicas_clients_resume_elsewhere(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path, temporal_server: EmbeddedServer
) -> None:
    sessions, per_session = 10, 30
    async with fleet(temporal_server, tmp_path, 3) as (processes, balancer), http_client() as http:
        handles = await asyncio.gather(*(start_session(client, task_queue, words=100) for _ in range(sessions)))
        followers = {
            h.id: [Follower(f"{balancer.url}/sessions/{h.id}/events") for _ in range(per_session)] for h in handles
        }
        everyone = [f for group in followers.values() for f in group]
        tasks = [asyncio.create_task(f.run(http, deadline=120)) for f in everyone]
        try:
            await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in everyone)), 60)

            # Hashing on /sessions/<id>: one replica per session, one upstream reader per session in the fleet.
            async def all_read() -> bool:
                return len(await readers(http, processes)) == sessions

            await wait_for(all_read, 20, "every session to have a reader")
            before = await readers(http, processes)
            assert all(len(replicas) == 1 for replicas in before.values()), before
            owner = {session: next(iter(replicas)) for session, replicas in before.items()}
            assert len(set(owner.values())) >= 2, "the hash key must hold the session id, not just /sessions/"
            # The query string is not part of the hash: ?from=, ?token= never move a client.
            some = next(iter(owner))
            for params in ({"from": "3"}, {"join": "live"}, {"last_event_id": "x:1", "token": "t"}):
                answer = await http.head(f"{balancer.url}/sessions/{some}/events", params=params)
                assert answer.headers["x-wfwatch-replica"] == owner[some], params
            for session, group in followers.items():
                assert {f.replicas[-1] for f in group} == {owner[session]}, "X-Wfwatch-Replica names the reader"
            # The replica id shows in /sessions and /devices too.
            served = processes[int(owner[some][1:]) - 1]
            rows = (await http.get(f"{served.url}/sessions")).json()["sessions"]
            assert {r["session_id"]: r["served_by"] for r in rows}[some] == owner[some]
            devices = (await http.get(f"{served.url}/devices", params={"session": some})).json()["devices"]
            assert len(devices) == per_session and {d["replica"] for d in devices} == {owner[some]}

            # Kill the busiest replica mid-stream: no goodbye to anyone.
            victim_id, _ = Counter(owner.values()).most_common(1)[0]
            victim = processes[int(victim_id[1:]) - 1]
            moved = [s for s, r in owner.items() if r == victim_id]
            moved_followers = [f for s in moved for f in followers[s]]

            async def mid_stream() -> bool:
                return all(len(f.offsets) >= 5 for f in moved_followers)

            await wait_for(mid_stream, 30, "the victim's clients to be mid-stream")
            assert all(f.ended is None for f in moved_followers), "the sessions ended before the kill"
            await victim.kill()

            async def resumed() -> bool:
                return all(len(f.replicas) >= 2 or f.ended for f in moved_followers)

            await wait_for(resumed, 30, "the victim's clients to reconnect")
            await close_all(handles)
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            # From the survivors' counters: no session has a reader (or a lingering feed) on two of them.
            survivors = [p for p in processes if p.running]
            holders: dict[str, set[str]] = {}
            for process in survivors:
                stats = (await http.get(f"{process.url}/stats")).json()
                for row in stats["sessions"]:
                    holders.setdefault(row["session_id"], set()).add(stats["replica"])
            assert all(len(h) == 1 for h in holders.values()), holders
        finally:
            for task in tasks:
                task.cancel()
    expected = {}
    for handle in handles:
        records, gaps, end = await read_all(client, handle.id, timeout=30)
        assert end is not None and not gaps
        expected[handle.id] = len(records)
    check_complete(everyone, expected)
    for f in moved_followers:
        assert f.resumes and max(f.resumes) < RESUME_WITHIN, f.resumes
        assert f.replicas[-1] != victim_id
    for session in moved:
        # All clients of a moved session moved to the same survivor: still one reader for it.
        assert len({f.replicas[-1] for f in followers[session]}) == 1
    untouched = [f for s, r in owner.items() if r != victim_id for f in followers[s]]
    assert all(len(f.replicas) == 1 for f in untouched), "consistent hashing moved only the victim's sessions"


async def test_a_sigterm_drains_clients_to_another_replica_with_a_retry_hint_and_exits_in_bounded_time(
    client: Client, task_queue: str, worker: Worker, tmp_path: Path, temporal_server: EmbeddedServer
) -> None:
    drain_delay = 1.5
    async with (
        fleet(temporal_server, tmp_path, 2, "--drain-delay", str(drain_delay)) as (processes, balancer),
        http_client() as http,
    ):
        handles = await asyncio.gather(*(start_session(client, task_queue, words=60) for _ in range(4)))
        followers = {h.id: [Follower(f"{balancer.url}/sessions/{h.id}/events") for _ in range(5)] for h in handles}
        everyone = [f for group in followers.values() for f in group]
        tasks = [asyncio.create_task(f.run(http, deadline=90)) for f in everyone]
        try:
            await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in everyone)), 60)
            owner = {s: group[0].replicas[-1] for s, group in followers.items()}
            victim_id, _ = Counter(owner.values()).most_common(1)[0]
            victim = processes[int(victim_id[1:]) - 1]
            drained = [f for s, r in owner.items() if r == victim_id for f in followers[s]]

            async def mid_stream() -> bool:
                return all(len(f.offsets) >= 3 for f in drained)

            await wait_for(mid_stream, 30, "the drained clients to be mid-stream")
            assert (await http.get(f"{victim.url}/healthz")).status_code == 200
            started = time.monotonic()
            stopping = asyncio.create_task(victim.terminate(timeout=30))

            async def unhealthy() -> bool:
                answer = await http.get(f"{victim.url}/healthz")
                return answer.status_code == 503 and answer.json()["status"] == "draining"

            await wait_for(unhealthy, 5, "the draining replica's /healthz to say 503")
            # While it drains its open streams go on: nobody has been moved yet.
            assert all(len(f.replicas) == 1 for f in drained)
            status = await stopping
            took = time.monotonic() - started
            await close_all(handles)
            await asyncio.wait_for(asyncio.gather(*tasks), 90)
        finally:
            for task in tasks:
                task.cancel()
    assert status == 0 and took < drain_delay + 5 + 3, (status, took)
    assert "Traceback" not in victim.log.read_text()
    expected = {h.id: len((await read_all(client, h.id, timeout=30))[0]) for h in handles}
    check_complete(everyone, expected)
    for f in drained:
        assert 250 in f.retries_seen, "a draining replica says: come back in 250 ms"
        assert f.replicas[-1] != victim_id and f.resumes and max(f.resumes) < RESUME_WITHIN
        assert not f.refusals, "the balancer re-sent refused reconnections to a healthy replica"
