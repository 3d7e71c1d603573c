"""The CLI as a user runs it: a real process against the real dev server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer


async def run_cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfwatch.cli import entry; entry()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_tail_unknown_workflow_exits_nonzero_with_one_line(temporal_server: EmbeddedServer) -> None:
    code, out, err = await run_cli("tail", "no-such-id", "--address", temporal_server.address)
    assert code == 4
    assert out == ""
    assert err.strip().splitlines() == [
        "Error: no workflow 'no-such-id' in namespace 'default' (is the id right? is --address/--namespace right?)"
    ]


async def test_tail_unreachable_server_is_one_line() -> None:
    code, _, err = await run_cli("tail", "x", "--address", "127.0.0.1:9")
    assert code == 4
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


async def test_while_a_demo_runs_other_commands_find_its_server_and_info_shows_it(tmp_path: Path) -> None:
    """The README's second shell: `wfwatch tail demo-live --from 0` reaches the demo's server, not localhost:7233."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["WFWATCH_HOME"] = str(tmp_path / "home")
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfwatch.cli import entry; entry()",
        "demo",
        "--headless",
        "--seconds",
        "120",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    state = tmp_path / "home" / "data" / "demo-server.json"
    # Read the demo's stderr all along: a full pipe would block it (CI saw it ignore SIGINT for 60 s).
    assert demo.stderr is not None
    demo_stderr = asyncio.create_task(demo.stderr.read())
    try:
        for _ in range(1800):  # the demo starts a server and five sessions (two on agent frameworks)
            if state.exists() or demo.returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert state.exists(), "the demo never said where its server is"
        address = json.loads(state.read_text())["address"]
        assert address != "localhost:7233"

        code, out, err = await run_cli("info", env=env)
        assert code == 0, err
        assert f"demo server      {address} namespace default (pid {demo.pid}; used by default)" in out

        tail = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from wfwatch.cli import entry; entry()",
            "tail",
            "demo-live",
            "--from",
            "0",
            "--json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert tail.stdout is not None and tail.stderr is not None
            first = json.loads(await asyncio.wait_for(tail.stdout.readline(), 60))
            assert first == {"offset": 0, **first} and first["kind"] == "session_started"
        finally:
            if tail.returncode is None:
                tail.terminate()
            await tail.wait()
        note = (await tail.stderr.read()).decode().splitlines()
        assert note[:1] == [
            f"using the running wfwatch demo's server at {address} (pid {demo.pid}; "
            "--address or --profile to choose another)"
        ]
        # Explicit flags win over the demo.
        code, _, err = await run_cli("tail", "demo-live", "--address", "127.0.0.1:9", env=env)
        assert code == 4 and "cannot reach Temporal at 127.0.0.1:9" in err and "demo" not in err
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(demo.wait(), 60)
        finally:
            if demo.returncode is None:
                demo.kill()
            said = (await demo_stderr).decode(errors="replace")
    assert demo.returncode == 130, said[-3000:]
    assert "Traceback" not in said, "the headless demo logs one line a record"
    assert not state.exists(), "a stopped demo leaves no state behind"
    code, out, _ = await run_cli("info", env=env)
    assert "demo server      not running" in out


async def _finished_session(client: Client, task_queue: str) -> tuple[str, int]:
    """A completed session and its stream's head."""
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["hi"], idle_timeout=0.5, model=ModelSpec(tokens_per_second=0, answer_words=3)),
        id=f"cli-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    records, _, end = await read_all(client, handle.id, timeout=30)
    assert end is not None and end.next_offset == len(records)
    return handle.id, len(records)


async def test_tail_beyond_the_head_of_a_closed_stream_ends_at_the_real_head(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    workflow_id, head = await _finished_session(client, task_queue)
    beyond = head + 94
    code, out, err = await run_cli("tail", workflow_id, "--from", str(beyond), "--address", temporal_server.address)
    assert code == 0, err
    assert out.strip() == f"[end: workflow completed; next offset {head}]"
    assert err.strip() == f"offset {beyond} is beyond the head ({head}) of the stream"
    code, out, err = await run_cli(
        "tail", workflow_id, "--from", str(beyond), "--json", "--address", temporal_server.address
    )
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [{"end": "completed", "next_offset": head}]


async def test_tail_beyond_the_head_of_a_running_stream_says_what_it_waits_for(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run, SessionInput(idle_timeout=60), id=f"cli-{uuid.uuid4()}", task_queue=task_queue
    )
    head = 0
    for _ in range(100):  # until session_started is in the stream
        records, _, _ = await read_all(client, handle.id, timeout=0.5)
        head = len(records)
        if head:
            break
    assert head == 1
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfwatch.cli import entry; entry()",
        "tail",
        handle.id,
        "--from",
        "100",
        "--address",
        temporal_server.address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode().strip()
        assert line == "waiting for offset 100 (head 1): nothing is printed until the stream gets there"
    finally:
        proc.terminate()
        await proc.wait()
        await handle.terminate("test over")
