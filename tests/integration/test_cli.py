"""The CLI as a user runs it: a real process against the real dev server."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.temporal.server import EmbeddedServer


async def run_cli(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfwatch.cli import entry; entry()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_tail_unknown_workflow_exits_nonzero_with_one_line(temporal_server: EmbeddedServer) -> None:
    code, out, err = await run_cli("tail", "no-such-id", "--address", temporal_server.address)
    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        "Error: no workflow 'no-such-id' in namespace 'default' (is the id right? is --address/--namespace right?)"
    ]


async def test_tail_unreachable_server_is_one_line() -> None:
    code, _, err = await run_cli("tail", "x", "--address", "127.0.0.1:9")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "cannot reach Temporal at 127.0.0.1:9" in err


async def test_tail_json_prints_every_offset_then_end(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["hi"], idle_timeout=0.5, model=ModelSpec(tokens_per_second=500, answer_words=20)),
        id=f"cli-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    code, out, err = await run_cli("tail", handle.id, "--json", "--from", "2", "--address", temporal_server.address)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    offsets = [line["offset"] for line in lines if "offset" in line]
    assert offsets == list(range(2, 2 + len(offsets)))
    assert lines[-1]["end"] == "completed"


async def test_tail_rejects_negative_offset() -> None:
    code, _, err = await run_cli("tail", "x", "--from", "-3")
    assert code == 2
    assert "must be >= 0" in err
