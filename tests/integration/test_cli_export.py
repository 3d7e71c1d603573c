"""``wfwatch tail --no-follow``, its exit codes, and ``wfwatch export``: real processes, real dev server."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import shlex
import sys
import uuid
from pathlib import Path

import pytest
from cli_process import run_cli
from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.frameworks import FrameworkSessionInput, missing_framework
from wfwatch.agents.shared import ModelSpec, SessionInput, SubagentSpec
from wfwatch.agents.workflows import AgentSession
from wfwatch.events import TurnFinished
from wfwatch.export import md_inline
from wfwatch.reducer import Reducer, reduce
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer


def _fenced_blocks(markdown: str, label: str) -> list[str]:
    """The text of every fenced block that follows a ``label`` line, in document order."""
    found = []
    pattern = re.compile(rf"^{re.escape(label)}\n\n(`{{3,}})text\n(.*?)\n\1$", re.M | re.S)
    for match in pattern.finditer(markdown):
        found.append(match.group(2))
    return found


async def _completed_demo_session(client: Client, task_queue: str) -> str:
    """Two turns, a sub-agent, tool calls and a retried LLM call: every kind of transcript entry."""
    model = ModelSpec(
        tokens_per_second=0, answer_words=12, reasoning_words=6, fail_after_tokens=3, fail_on_attempts=[1]
    )
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(
            title="export me",
            messages=["summarise the deploy", "triage the incident"],
            subagents=[SubagentSpec(name="reviewer", model=ModelSpec(tokens_per_second=0, answer_words=8))],
            idle_timeout=0.5,
            model=model,
        ),
        id=f"export-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    return handle.id


async def test_export_of_a_completed_demo_session_is_the_canonical_text_and_matches_tail_jsonl(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker, tmp_path: Path
) -> None:
    workflow_id = await _completed_demo_session(client, task_queue)
    records, gaps, end = await read_all(client, workflow_id, timeout=60)
    assert end is not None and not gaps
    reducer = Reducer()
    reducer.feed(records)
    view = reducer.view()
    assert len(view.lanes) >= 2 and len(view.turns) == 2 and view.tool_calls
    assert any(m.superseded_attempts for lane in view.lanes for m in lane.messages), "the demo retried nothing"

    code, markdown, err = await run_cli("export", workflow_id, "--address", temporal_server.address)
    assert code == 0, err
    # Every lane's canonical text appears, message by message and in order: the answers of
    # each lane's messages, read from the document, joined as the reducer joins them.
    for lane in view.lanes:
        heading = re.compile(rf"^### Lane {re.escape(lane.name)} ", re.M)
        answers = []
        for section in re.split(r"^(?=### Lane )", markdown, flags=re.M):
            if heading.match(section):
                answers += [a for a in _fenced_blocks(section, "*Answer:*") if a]
        assert "\n\n".join(answers) == lane.text, lane.name
    joined = "\n".join(
        f"[{lane.name}]\n" + "\n\n".join(a for a in _lane_answers(markdown, lane.name) if a) for lane in view.lanes
    )
    assert joined == view.canonical_text()
    assert [m for m in _fenced_blocks(markdown, "**User:**")] == ["summarise the deploy", "triage the incident"]
    assert f"- **retries:** {sum(len(m.superseded_attempts) for lane in view.lanes for m in lane.messages)}" in markdown
    assert all(f"**Tool** {md_inline(call.name)}" in markdown for call in view.tool_calls)
    assert markdown.count("**Tool** ") == len(view.tool_calls)
    assert "| step | lane | status | started | duration |" in markdown

    # jsonl export == tail --jsonl, line for line: same offsets, same record count, same end.
    code, tail_out, err = await run_cli("tail", workflow_id, "--jsonl", "--address", temporal_server.address)
    assert code == 0, err
    out_file = tmp_path / "session.jsonl"
    code, stdout, err = await run_cli(
        "export", workflow_id, "--format", "jsonl", "-o", str(out_file), "--address", temporal_server.address
    )
    assert code == 0, err
    assert stdout == ""
    exported = out_file.read_text()
    assert exported == tail_out
    lines = [json.loads(line) for line in exported.splitlines()]
    offsets = [line["offset"] for line in lines if "offset" in line]
    assert offsets == [r.offset for r in records] == list(range(len(records)))
    assert view.record_count == len(offsets)
    assert lines[-1] == {"end": "completed", "next_offset": len(records)}

    # --raw shows the superseded attempts and every record, each offset once.
    code, raw, err = await run_cli("export", workflow_id, "--raw", "--address", temporal_server.address)
    assert code == 0, err
    assert "(superseded) answer:*" in raw
    assert [int(n) for n in re.findall(r"^@(\d+) ", raw, re.M)] == offsets

    code, page, err = await run_cli("export", workflow_id, "--format", "html", "--address", temporal_server.address)
    assert code == 0, err
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def _lane_answers(markdown: str, lane: str) -> list[str]:
    answers = []
    for section in re.split(r"^(?=### Lane )", markdown, flags=re.M):
        if section.startswith(f"### Lane {lane} "):
            answers += _fenced_blocks(section, "*Answer:*")
    return answers


async def test_tail_no_follow_on_a_running_session_prints_what_exists_and_exits_0(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["hi"], idle_timeout=300, model=ModelSpec(tokens_per_second=0, answer_words=5)),
        id=f"nofollow-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    try:
        for _ in range(600):  # until the first turn has finished: the session then idles, running
            records, _, _ = await read_all(client, handle.id, timeout=0.5)
            if any(isinstance(r.item, TurnFinished) for r in records):
                break
        head = len(records)
        assert head > 3
        code, out, err = await run_cli(
            "tail", handle.id, "--no-follow", "--jsonl", "--address", temporal_server.address, timeout=60
        )
        assert code == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        assert [line["offset"] for line in lines[:-1]] == list(range(head))
        assert lines[-1] == {"head": "running", "next_offset": head}

        code, out, err = await run_cli("tail", handle.id, "--no-follow", "--address", temporal_server.address)
        assert code == 0, err
        assert out.rstrip().endswith(f"[head: workflow running; next offset {head}]")
        # From the head itself: nothing but the head line.
        code, out, err = await run_cli(
            "tail", handle.id, "--no-follow", "--from", str(head), "--json", "--address", temporal_server.address
        )
        assert code == 0, err
        assert [json.loads(line) for line in out.splitlines()] == [{"head": "running", "next_offset": head}]
        # Export of a running session is read up to its head, too.
        code, out, err = await run_cli("export", handle.id, "--format", "jsonl", "--address", temporal_server.address)
        assert code == 0, err
        assert [json.loads(line).get("offset") for line in out.splitlines()][:-1] == list(range(head))
    finally:
        await handle.terminate()


async def test_tail_exit_codes_completed_failed_not_found(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    done = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["hi"], idle_timeout=0.5, model=ModelSpec(tokens_per_second=0, answer_words=3)),
        id=f"done-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await done.result()
    records, _, _ = await read_all(client, done.id, timeout=60)
    for follow in ("--follow", "--no-follow"):
        code, out, err = await run_cli("tail", done.id, follow, "--address", temporal_server.address)
        assert code == 0, err
        assert out.endswith(f"\n[end: workflow completed; next offset {len(records)}]\n")

    stopped = await client.start_workflow(
        AgentSession.run, SessionInput(idle_timeout=300), id=f"term-{uuid.uuid4()}", task_queue=task_queue
    )
    for _ in range(100):
        records, _, _ = await read_all(client, stopped.id, timeout=0.5)
        if records:
            break
    await stopped.terminate(reason="stop")
    for follow in ("--follow", "--no-follow"):
        code, out, err = await run_cli("tail", stopped.id, follow, "--json", "--address", temporal_server.address)
        assert code == 1, (out, err)
        assert json.loads(out.splitlines()[-1])["end"] == "terminated"

    code, out, err = await run_cli("tail", "no-such-id", "--no-follow", "--address", temporal_server.address)
    assert code == 4 and out == ""
    assert err.strip().splitlines() == [
        "Error: no workflow 'no-such-id' in namespace 'default' (is the id right? is --address/--namespace right?)"
    ]
    code, out, err = await run_cli("export", "no-such-id", "--address", temporal_server.address)
    assert code == 4 and out == "" and "no workflow 'no-such-id'" in err
    code, _, err = await run_cli("tail", "x", "--address", "127.0.0.1:9")
    assert code == 4 and "cannot reach Temporal at 127.0.0.1:9" in err
    code, _, err = await run_cli("export", "x", "--format", "pdf")
    assert code == 2


async def test_a_gap_exits_3_and_export_lists_it(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    # Every step continues-as-new carrying only ~200 bytes of log: old offsets are gone.
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(
            messages=["one", "two"],
            idle_timeout=0.5,
            model=ModelSpec(tokens_per_second=0, answer_words=30, reasoning_words=4),
            rollover_after_steps=1,
            carry_log_bytes=200,
        ),
        id=f"gap-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await asyncio.wait_for(handle.result(), 60)
    records, gaps, end = await read_all(client, handle.id, timeout=30)
    assert end is not None and gaps and gaps[0].start == 0, "the session must have truncated its log"
    code, out, err = await run_cli("tail", handle.id, "--jsonl", "--address", temporal_server.address)
    assert code == 3, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"gap": [0, gaps[0].end]}
    assert [line["offset"] for line in lines if "offset" in line] == [r.offset for r in records]
    assert lines[-1] == {"end": "completed", "next_offset": end.next_offset}
    code, exported, err = await run_cli("export", handle.id, "--format", "jsonl", "--address", temporal_server.address)
    assert code == 0, err
    assert exported == out
    code, markdown, err = await run_cli("export", handle.id, "--address", temporal_server.address)
    assert code == 0, err
    assert f"- **gap:** offsets 0..{gaps[0].end - 1} were gone\n" in markdown
    # --no-follow on the closed session reads to its end: the same lines, the same code.
    code, again, err = await run_cli("tail", handle.id, "--json", "--no-follow", "--address", temporal_server.address)
    assert (code, again) == (3, out), err


async def test_tail_into_head_exits_141_quietly(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    """`wfwatch tail ID --jsonl | head -1` must not say "failed" (1) or print a traceback."""
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(messages=["x"] * 10, idle_timeout=0.5, model=ModelSpec(tokens_per_second=0, answer_words=2000)),
        id=f"pipe-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await asyncio.wait_for(handle.result(), 120)
    command = (
        f"{shlex.quote(sys.executable)} -c 'from wfwatch.cli import entry; entry()' tail {handle.id} --jsonl "
        f"--address {temporal_server.address} | head -n 1; echo status=${{PIPESTATUS[0]}} >&2"
    )
    proc = await asyncio.create_subprocess_shell(
        command, executable="/bin/bash", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert json.loads(out.decode())["offset"] == 0
    assert err.decode().strip().splitlines() == ["status=141"]


@pytest.mark.parametrize("framework", ["pydantic_ai", "openai_agents"])
async def test_export_of_a_framework_session_is_its_canonical_text(
    framework: str, temporal_server: EmbeddedServer, client: Client
) -> None:
    """A PydanticAI / OpenAI Agents stream is folded by the reducer (wfwatch.schemas): export shows what it means."""
    reason = missing_framework(framework.replace("_", "-"))
    if reason is not None:
        pytest.skip(reason)
    module = importlib.import_module(f"wfwatch.agents.frameworks.{framework}_session")
    task_queue = f"tq-{uuid.uuid4()}"
    async with module.create_worker(client, task_queue):
        spec = FrameworkSessionInput(prompts=["Where is my order A-1042?"], delta_delay=0.0, drain_timeout=1.0)
        handle = await module.plugin_client(client).start_workflow(
            module.WORKFLOW_NAME, spec, id=f"fw-{uuid.uuid4()}", task_queue=task_queue
        )
        await asyncio.wait_for(handle.result(), 120)
        records, gaps, end = await read_all(client, handle.id, timeout=60)
        assert end is not None and not gaps
        view = reduce(records)
        assert view.schemas and view.tool_calls and any(lane.text for lane in view.lanes)
        code, markdown, err = await run_cli("export", handle.id, "--address", temporal_server.address)
        assert code == 0, err
        for lane in view.lanes:
            assert "\n\n".join(a for a in _lane_answers(markdown, lane.name) if a) == lane.text, lane.name
        assert markdown.count("**Tool** ") == len(view.tool_calls)
        code, tail_out, err = await run_cli("tail", handle.id, "--jsonl", "--address", temporal_server.address)
        assert code == 0, err
        code, exported, err = await run_cli(
            "export", handle.id, "--format", "jsonl", "--address", temporal_server.address
        )
        assert code == 0, err
    # Line for line the same, but for the framework's own payload: PydanticAI rebuilds a tool
    # return's timestamp when its workflow replays, so two reads of offset N may differ there.
    lines = [json.loads(line) for line in exported.splitlines()]
    tailed = [json.loads(line) for line in tail_out.splitlines()]
    assert [{k: v for k, v in line.items() if k != "data"} for line in lines] == [
        {k: v for k, v in line.items() if k != "data"} for line in tailed
    ]
    assert [line["offset"] for line in lines[:-1]] == [r.offset for r in records]
    assert any(line.get("derived") for line in lines)
