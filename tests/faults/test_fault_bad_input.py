"""Bad input through the real surfaces: ``wfwatch tail`` in a subprocess, the reducer, the hub, a pane.

Every case must end with a clear one-line message (or a clean end) and no
traceback; payloads that are not wfwatch events must be shown as odd items
while the session itself completes and reads back canonically; hostile text
must never reach the terminal as control bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from faultkit import (
    CHECK_EXACT,
    FaultResult,
    HubTap,
    free_port,
    hub_for,
    offset_audit,
    own_server,
    record_mismatch,
    start_session,
    undisturbed_text,
    verdict,
)
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker

from wfwatch import events
from wfwatch.agents.shared import ModelSpec
from wfwatch.agents.worker import create_worker
from wfwatch.agents.workflows import AgentSession
from wfwatch.reducer import SessionView, reduce
from wfwatch.stream.reader import StreamReader, read_all
from wfwatch.temporal.server import EmbeddedServer

pytestmark = pytest.mark.slow

CONTROL_BYTES = (b"\x1b", b"\x07", b"\x08", b"\r", b"\xc2\x9b", b"\xc2\x9d", b"\xc2\x9c")


# --- a workflow that hosts no stream ---------------------------------------------------


@workflow.defn(sandboxed=False)
class PlainWorkflow:
    """Runs for a minute and publishes nothing: a workflow without a Workflow Stream."""

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: False, timeout=timedelta(seconds=60))
        return "done"


# --- running the CLI ---------------------------------------------------------------------


@dataclass
class CliRun:
    code: int | None
    stdout: bytes
    stderr: bytes

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.decode("utf-8", "replace").splitlines() if line.strip()]


def cli_env(home: Path) -> dict[str, str]:
    """The environment a user has: no TEMPORAL_* settings and no RUST_LOG to quiet the SDK core."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_") and k != "RUST_LOG"}
    env["WFWATCH_HOME"] = str(home)
    return env


async def start_cli(home: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfwatch.cli import entry; entry()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(home),
    )


async def run_cli(home: Path, *args: str, timeout: float = 60) -> CliRun:
    proc = await start_cli(home, *args)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return CliRun(None, out, err)
    return CliRun(proc.returncode, out, err)


def noise_lines(run: CliRun) -> list[str]:
    """stderr lines besides the one ``Error:`` line (and click's own usage lines for a usage error)."""
    usage = run.code == 2
    return [
        line
        for line in run.err_lines
        if not line.startswith("Error:") and not (usage and (line.startswith("Usage:") or line.startswith("Try '")))
    ]


def assert_one_line_error(run: CliRun, *fragments: str, code: int = 1) -> str:
    """Exit ``code``, no traceback, and stderr is one error line containing ``fragments``, nothing else.

    Nothing else means no warnings either (the reader's retries, Temporal
    core's): a user should see one line that says what is wrong.
    """
    text = run.stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    assert run.code == code, (run.code, text)
    errors = [line for line in run.err_lines if line.startswith("Error:")]
    assert len(errors) == 1, text
    assert noise_lines(run) == [], text
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


# --- fixtures: a worker for this module, a plain workflow, a finished session -------------


@pytest.fixture(scope="module")
async def module_queue(client: Client) -> AsyncIterator[str]:
    """A task queue served for the whole module (closed sessions are read by Query: a worker must run)."""
    queue = f"tq-bad-{uuid.uuid4()}"
    async with (
        create_worker(client, queue),
        Worker(client, task_queue=f"{queue}-plain", workflows=[PlainWorkflow]),
    ):
        yield queue


@pytest.fixture(scope="module")
async def plain_workflow(client: Client, module_queue: str) -> str:
    handle = await client.start_workflow(
        PlainWorkflow.run, id=f"plain-{uuid.uuid4().hex[:8]}", task_queue=f"{module_queue}-plain"
    )
    return handle.id


@pytest.fixture(scope="module")
async def finished_session(client: Client, module_queue: str) -> str:
    model = ModelSpec(tokens_per_second=0, answer_words=20, reasoning_words=2)
    handle = await start_session(client, module_queue, messages=["hello"], model=model)
    await handle.result()
    return handle.id


# --- 1. clear errors from `wfwatch tail` ----------------------------------------------------

CASES: dict[str, tuple[str, ...]] = {
    "unknown workflow id": ("tail", "no-such-workflow", "--address", "{address}"),
    "wrong namespace": ("tail", "{session}", "--address", "{address}", "--namespace", "no-such-namespace"),
    "server unreachable at start": ("tail", "{session}", "--address", "127.0.0.1:{dead_port}"),
    "dashboard, server unreachable at start": ("--address", "127.0.0.1:{dead_port}"),
    "negative --from offset": ("tail", "{session}", "--address", "{address}", "--from", "-5"),
    "non-numeric --from offset": ("tail", "{session}", "--address", "{address}", "--from", "abc"),
    "workflow without a stream (--live)": ("tail", "{plain}", "--address", "{address}", "--live"),
    "workflow without a stream (--mode query)": ("tail", "{plain}", "--address", "{address}", "--mode", "query"),
}
EXPECTED: dict[str, tuple[int, tuple[str, ...]]] = {
    "unknown workflow id": (4, ("no workflow 'no-such-workflow' in namespace 'default'",)),
    "wrong namespace": (4, ("namespace 'no-such-namespace' not found",)),
    "server unreachable at start": (4, ("cannot reach Temporal at 127.0.0.1:",)),
    "dashboard, server unreachable at start": (1, ("cannot reach Temporal at 127.0.0.1:",)),
    "negative --from offset": (2, ("--from", ">= 0")),
    "non-numeric --from offset": (2, ("--from", "abc")),
    "workflow without a stream (--live)": (4, ("does not host a Workflow Stream",)),
    "workflow without a stream (--mode query)": (4, ("does not host a Workflow Stream",)),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_tail_gives_one_clear_line(
    case: str,
    temporal_server: EmbeddedServer,
    finished_session: str,
    plain_workflow: str,
    tmp_path: Path,
    fault_result: FaultResult,
) -> None:
    args = [
        a.format(address=temporal_server.address, session=finished_session, plain=plain_workflow, dead_port=free_port())
        for a in CASES[case]
    ]
    fault_result.scenario = f"bad input: {case}"
    fault_result.what = "wfwatch " + " ".join(a if not a.startswith("127.0.0.1") else "<addr>" for a in args)
    code, fragments = EXPECTED[case]
    fault_result.checked = f"exit {code}, no traceback, one `Error:` line naming the problem, no other stderr line" + (
        " (besides click's usage lines)" if code == 2 else ""
    )
    run = await run_cli(tmp_path, *args)
    fault_result.count(
        exit_code=run.code if run.code is not None else "hung",
        stderr_lines=len(run.err_lines),
        noise_lines=len(noise_lines(run)),
    )
    line = assert_one_line_error(run, *fragments, code=code)
    fault_result.notes.append(line)


async def test_tail_of_a_workflow_without_a_stream_says_so(
    temporal_server: EmbeddedServer, plain_workflow: str, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: workflow without a stream (default mode)"
    fault_result.what = "wfwatch tail <workflow hosting no stream> (update mode, the default)"
    fault_result.checked = "exit 4, no traceback, one `Error:` line naming the problem, no other stderr line"
    run = await run_cli(tmp_path, "tail", plain_workflow, "--address", temporal_server.address)
    fault_result.count(exit_code=run.code if run.code is not None else "hung", stderr_lines=len(run.err_lines))
    fault_result.notes.append(assert_one_line_error(run, "does not host a Workflow Stream", code=4))


async def test_tail_from_beyond_the_head_of_a_closed_session_ends_cleanly(
    temporal_server: EmbeddedServer, client: Client, finished_session: str, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: --from beyond the head (closed session)"
    fault_result.what = "wfwatch tail <completed session> --from 100000 [--json]"
    fault_result.checked = (
        "exit 0 both ways, one stderr line saying the offset is beyond the head, "
        "only the end line, naming the real head (text and JSON)"
    )
    text = await run_cli(tmp_path, "tail", finished_session, "--address", temporal_server.address, "--from", "100000")
    as_json = await run_cli(
        tmp_path, "tail", finished_session, "--address", temporal_server.address, "--from", "100000", "--json"
    )
    fault_result.count(exit_code=text.code or 0, json_exit_code=as_json.code or 0)
    assert text.code == 0 and as_json.code == 0, (text, as_json)
    records, _, _ = await read_all(client, finished_session, timeout=30)
    head = len(records)
    assert text.stdout.strip() == f"[end: workflow completed; next offset {head}]".encode()
    assert text.err_lines == [f"offset 100000 is beyond the head ({head}) of the stream"], text.stderr
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert lines == [{"end": "completed", "next_offset": head}]


async def _tail_beyond_running_head(client: Client, module_queue: str, home: Path) -> tuple[CliRun, bool, float]:
    """Tail --from far beyond the head of a running session, then let the session finish."""
    model = ModelSpec(tokens_per_second=100, answer_words=30, reasoning_words=2)
    # Running until closed below, however long the CLI takes to start.
    handle = await start_session(client, module_queue, messages=["hi"], model=model, idle_timeout=600)
    address = client.service_client.config.target_host
    proc = await start_cli(home, "tail", handle.id, "--address", address, "--from", "100000")
    await asyncio.sleep(2.0)
    waited = proc.returncode is None
    await handle.signal(AgentSession.close)
    await handle.result()
    finished = asyncio.get_running_loop().time()
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return CliRun(None, out, err), waited, 30.0
    return CliRun(proc.returncode, out, err), waited, asyncio.get_running_loop().time() - finished


async def test_tail_from_beyond_the_head_of_a_running_session_waits_without_crashing(
    client: Client, module_queue: str, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: --from beyond the head (running session)"
    fault_result.what = "wfwatch tail <running session> --from 100000, then the session completes"
    fault_result.checked = (
        "still waiting after 2 s, exits within 30 s of the completion, no traceback, "
        "one stderr line: waiting for offset N (head M)"
    )
    run, waited, _ = await _tail_beyond_running_head(client, module_queue, tmp_path)
    fault_result.count(waited=int(waited), exit_code=run.code if run.code is not None else "hung")
    fault_result.notes.extend(run.err_lines)
    assert waited, "tail exited while the session was still running"
    assert run.code is not None, "tail still waiting 30 s after the session completed"
    assert b"Traceback" not in run.stderr and len(run.err_lines) == 1, run.stderr
    assert re.fullmatch(r"waiting for offset 100000 \(head \d+\): .*", run.err_lines[0]), run.err_lines
    assert not run.stdout.strip() or b"[end:" in run.stdout


async def test_tail_from_beyond_the_head_ends_cleanly_when_the_session_completes(
    client: Client, module_queue: str, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: --from beyond the head, then the session completes"
    fault_result.what = "wfwatch tail <running session> --from 100000; the session completes meanwhile"
    fault_result.checked = "exit 0 and the end line"
    run, _, _ = await _tail_beyond_running_head(client, module_queue, tmp_path)
    fault_result.count(exit_code=run.code if run.code is not None else "hung", stderr_lines=len(run.err_lines))
    assert run.code == 0, run.stderr
    assert b"[end: workflow completed" in run.stdout


# --- 2. the server goes away under a running tail ---------------------------------------------


async def test_tail_when_the_server_is_lost_mid_run(tmp_path: Path, fault_result: FaultResult) -> None:
    fault_result.scenario = "bad input: server lost mid-run (CLI and pane)"
    fault_result.what = (
        "dev server SIGKILLed for good while `wfwatch tail` and a dashboard pane follow a running session"
    )
    fault_result.checked = (
        "tail: exit 4, no traceback, one `Error:` line naming the session, no other stderr line "
        "(no retry warnings: a user's environment, RUST_LOG unset); pane: 'reconnecting' with a one-line "
        "error mentioning the connection; the app keeps answering keys"
    )
    from wfwatch.tui.app import WfwatchApp
    from wfwatch.tui.screens.watch import WatchScreen

    queue = f"tq-{uuid.uuid4()}"
    async with own_server(tmp_path / "t.db") as server:
        client = await Client.connect(server.address, namespace=server.namespace)
        async with create_worker(client, queue):
            model = ModelSpec(tokens_per_second=30, answer_words=300, reasoning_words=2)
            handle = await start_session(client, queue, messages=["a long answer"], model=model)
            proc = await start_cli(tmp_path, "tail", handle.id, "--address", server.address)
            assert proc.stdout is not None
            first = await asyncio.wait_for(proc.stdout.readline(), 30)  # tail is connected and reading
            app = WfwatchApp(client, open_session=handle.id)
            async with app.run_test(size=(140, 40)) as pilot:
                for _ in range(100):
                    await pilot.pause(0.05)
                    if isinstance(app.screen, WatchScreen) and app.screen.panes[0].reducer.next_offset > 5:
                        break
                screen = app.screen
                assert isinstance(screen, WatchScreen)
                pane = screen.panes[0]
                assert pane.reducer.next_offset > 5
                await server.kill()
                lost_at = asyncio.get_running_loop().time()
                out, err = await asyncio.wait_for(proc.communicate(), 60)
                tail_took = asyncio.get_running_loop().time() - lost_at
                # The pane is a hub device: the hub rides the outage out, and the
                # pane says what is wrong instead of a silent "live".
                for _ in range(600):
                    if pane.stats.state == "reconnecting":
                        break
                    await pilot.pause(0.1)
                pane_took = asyncio.get_running_loop().time() - lost_at
                pane_state, pane_error = pane.stats.state, pane.stats.error
                await pilot.press("a")  # the app still answers keys
                await pilot.pause(0.2)
                still_running = app.is_running and len(screen.panes) == 2
    run = CliRun(proc.returncode, first + out, err)
    fault_result.count(
        tail_exit_code=run.code or 0,
        tail_gave_up_after_s=round(tail_took, 1),
        pane_error_after_s=round(pane_took, 1),
        stderr_lines=len(run.err_lines),
        noise_lines=len(noise_lines(run)),
    )
    fault_result.notes.extend([*run.err_lines, f"pane: {pane_error}"])
    line = assert_one_line_error(run, handle.id, code=4)
    assert "Traceback" not in line
    assert pane_state == "reconnecting" and "connect" in pane_error, (pane_state, pane_error)
    assert "\n" not in pane_error
    assert still_running


async def test_tail_survives_a_short_server_restart(tmp_path: Path, fault_result: FaultResult) -> None:
    fault_result.scenario = "`wfwatch tail` through a 2 s server restart"
    fault_result.what = "dev server SIGKILLed and restarted (down 2 s) under a running `wfwatch tail --json`"
    fault_result.contract = "exactly once"
    fault_result.checked = (
        "exit 0, nothing on stderr; the printed records (offset and item) equal read_all()'s, "
        "offsets exactly 0..end-1 each once; no gap line; the end line at end; text an undisturbed run's"
    )
    queue = f"tq-{uuid.uuid4()}"
    model = ModelSpec(tokens_per_second=40, answer_words=100, reasoning_words=2)
    prompts = ["restart under me"]
    async with own_server(tmp_path / "t.db") as server:
        client = await Client.connect(server.address, namespace=server.namespace)
        async with create_worker(client, queue):
            handle = await start_session(client, queue, messages=prompts, model=model)
            proc = await start_cli(tmp_path, "tail", handle.id, "--address", server.address, "--json")
            # Restart only once tail is reading (its first record printed): a loaded machine can take
            # seconds to start the CLI, and a server down at start is another row's scenario.
            assert proc.stdout is not None
            first = await asyncio.wait_for(proc.stdout.readline(), 60)
            await asyncio.sleep(0.5)
            outage = await server.restart(down_for=2.0)
            rest, err = await asyncio.wait_for(proc.communicate(), 60)
            out = first + rest
            await handle.result()
            truth, truth_gaps, end = await read_all(client, handle.id, timeout=30)
    run = CliRun(proc.returncode, out, err)
    lines = [json.loads(line) for line in out.splitlines()]
    printed = [line for line in lines if "offset" in line]
    records = [
        events.Record(line["offset"], events.decode_value({k: v for k, v in line.items() if k != "offset"}))
        for line in printed
    ]
    head = end.next_offset if end is not None else len(truth)
    audit = offset_audit([r.offset for r in records], head)
    mismatch = record_mismatch(records, truth)
    fault_result.count(
        exit_code=run.code if run.code is not None else "hung",
        outage_s=round(outage, 1),
        records=head,
        printed=len(printed),
        missing=len(audit.missing),
        duplicates=audit.duplicates,
        out_of_order=audit.out_of_order,
        gap_lines=sum(1 for line in lines if "gap" in line),
        stderr_lines=len(run.err_lines),
    )
    fault_result.notes.extend([*run.err_lines[:5], *([mismatch] if mismatch else [])])
    assert run.code == 0, err.decode()
    assert end is not None and end.status == "completed" and not truth_gaps, (end, truth_gaps)
    assert lines[-1] == {"end": "completed", "next_offset": head}
    assert audit.clean, audit.describe()
    assert mismatch == ""
    assert not any("gap" in line for line in lines)
    assert reduce(records).canonical_text() == undisturbed_text(model, prompts)
    assert run.err_lines == [], err.decode()  # a recovered outage is not worth a word on stderr


# --- 3. a payload corpus published into a running session --------------------------------------

HOSTILE = (
    "[red]not red[/red] [link=https://example.invalid]link[/link] [/nope] "
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write the clipboard
    "\x1b]0;title\x1b\\"  # OSC 0: window title, ST-terminated
    "\x1b[5A\x1b[10;20H\x1b7\x1b8"  # cursor movement, save/restore
    "\x9b31m\x9d0;c1\x9c"  # C1 CSI and OSC
    "\x07\x08\r\x00"  # BEL, backspace, carriage return, NUL
    "\u202egnp.exe\u202c end"  # bidi override
)
LONG_TOKEN = "".join(f"{i % 10}" for i in range(10_000))
BIG_RESULT = "x" * 1_000_000
EVIL_LANE = "\x1b[31mevil"
MARKUP_LANE = "[/nope] [b]lane[/b]"


def _json_payload(data: bytes, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=data)


def _event(event: events.Event) -> Payload:
    return _json_payload(events.encode(event))


#: (topic, value or Payload, what the reducer must make of it: "event" or an odd-item kind).
CORPUS: list[tuple[str, Any, str]] = [
    ("other-topic", {"hello": "world", "n": 1}, "unknown"),
    ("other-topic", {"hostile": HOSTILE}, "unknown"),
    ("binary-topic", b"\x00\x01\xff\xfe", "unknown"),
    (events.TOPIC, _json_payload(b'{"kind": "token", "text": '), "invalid"),
    (events.TOPIC, _json_payload(b"\xff\xfe\x00 not utf-8"), "invalid"),
    (events.TOPIC, _json_payload(b"[" * 100_000), "invalid"),
    (events.TOPIC, _json_payload(b"abc", encoding=b"binary/plain"), "invalid"),
    (events.TOPIC, {"kind": "telepathy", "v": 1, "mind": "read"}, "unknown"),
    (events.TOPIC, {"kind": "token", "message_id": 5, "text": None}, "unknown"),
    (events.TOPIC, {"no_kind": True}, "unknown"),
    (events.TOPIC, [1, 2, 3], "unknown"),
    (events.TOPIC, "just a string", "unknown"),
    (
        events.TOPIC,
        _event(events.ToolCall(call_id="corpus-tool", name=HOSTILE[:40], arguments=HOSTILE, lane="corpus")),
        "event",
    ),
    (events.TOPIC, _event(events.TokenDelta(message_id="corpus-long", text=LONG_TOKEN, lane="corpus")), "event"),
    (events.TOPIC, _event(events.TokenDelta(message_id="corpus-hostile", text=HOSTILE, lane="corpus")), "event"),
    (
        events.TOPIC,
        {"kind": "token", "v": 99, "message_id": "corpus-v99", "text": "from v99", "lane": "corpus", "new": [1]},
        "event",
    ),
    (
        events.TOPIC,
        _event(events.TokenDelta(message_id="\x1b]52;c;eA==\x07", text="lane injection", lane=EVIL_LANE)),
        "event",
    ),
    (
        events.TOPIC,
        _event(events.TokenDelta(message_id="corpus-markup", text="markup lane", lane=MARKUP_LANE)),
        "event",
    ),
]
#: Published alone (a Signal of its own): the 1 MB event.
BIG = _event(events.ToolResult(call_id="corpus-tool", ok=True, result=BIG_RESULT, lane="corpus"))
MODEL = ModelSpec(tokens_per_second=60, answer_words=60, reasoning_words=4)
PROMPT = "take this corpus"
EXPECTED_TEXT = (
    undisturbed_text(MODEL, [PROMPT])
    + f"\n[corpus]\n{LONG_TOKEN}\n\n{HOSTILE}\n\nfrom v99"
    + f"\n[{EVIL_LANE}]\nlane injection"
    + f"\n[{MARKUP_LANE}]\nmarkup lane"
)


@dataclass
class Corpus:
    handle: WorkflowHandle[Any, Any]
    records: list[events.Record]
    view: SessionView
    head: int


@pytest.fixture(scope="module")
async def corpus_session(client: Client, module_queue: str) -> Corpus:
    handle = await start_session(client, module_queue, messages=[PROMPT], model=MODEL)
    stream = WorkflowStreamClient.create(client, handle.id, batch_interval=timedelta(milliseconds=50))
    async with stream:
        for topic, value, _ in CORPUS:
            stream.topic(topic).publish(value)
        await stream.flush()
        stream.topic(events.TOPIC).publish(BIG)
        await stream.flush()
    result = await handle.result()
    assert result.status == "completed"
    records, gaps, end = await read_all(client, handle.id, timeout=60)
    assert end is not None and end.status == "completed" and not gaps
    return Corpus(handle, records, reduce(records), end.next_offset)


async def test_corpus_is_read_and_reduced_without_harm(corpus_session: Corpus, fault_result: FaultResult) -> None:
    fault_result.scenario = "bad input: payload corpus in a running session"
    fault_result.what = (
        f"{len(CORPUS) + 1} payloads published with WorkflowStreamClient into a running AgentSession: foreign "
        "topics, binary, invalid JSON, non-UTF-8, a nesting bomb, unknown kind, wrong field types, v=99, "
        "non-objects, hostile text, a 10,000-char token, a hostile lane name, a 1 MB event"
    )
    fault_result.checked = (
        "read_all(): offsets 0..end-1 each once; odd items of the expected kinds in order; "
        "the session completed; canonical text as expected; the hostile tool call kept verbatim"
    )
    view = corpus_session.view
    odd_expected = [kind for _, _, kind in CORPUS if kind != "event"]
    fault_result.count(
        records=corpus_session.head,
        odd_items=len(view.odd_items),
        invalid=sum(1 for o in view.odd_items if o.kind == "invalid"),
        unknown=sum(1 for o in view.odd_items if o.kind == "unknown"),
        lanes=len(view.lanes),
    )
    assert offset_audit([r.offset for r in corpus_session.records], corpus_session.head).clean
    assert [o.kind for o in view.odd_items] == odd_expected, view.odd_items
    assert view.status == "completed" and [t.status for t in view.turns] == ["completed"]
    assert view.canonical_text() == EXPECTED_TEXT
    tool = next(t for t in view.tool_calls if t.call_id == "corpus-tool")
    assert tool.arguments == HOSTILE and tool.result == BIG_RESULT


async def test_corpus_through_tail_json_round_trips(
    temporal_server: EmbeddedServer, corpus_session: Corpus, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: corpus through `wfwatch tail --json`"
    fault_result.what = "wfwatch tail <corpus session> --json, each line parsed and reduced again"
    fault_result.checked = "exit 0; printed offsets exactly 0..end-1; the end line; canonical text as expected"
    run = await run_cli(tmp_path, "tail", corpus_session.handle.id, "--address", temporal_server.address, "--json")
    assert run.code == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines[-1] == {"end": "completed", "next_offset": corpus_session.head}
    records = [
        events.Record(line["offset"], events.decode_value({k: v for k, v in line.items() if k != "offset"}))
        for line in lines[:-1]
    ]
    fault_result.count(lines=len(lines), bytes=len(run.stdout))
    assert [r.offset for r in records] == list(range(corpus_session.head))
    assert reduce(records).canonical_text() == EXPECTED_TEXT


async def test_tail_json_prints_no_terminal_controls(
    temporal_server: EmbeddedServer, corpus_session: Corpus, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: hostile text through `wfwatch tail --json`"
    fault_result.what = "wfwatch tail <corpus session> --json: raw C1 control characters in stdout"
    fault_result.checked = "exit 0; none of ESC, BEL, BS, CR, C1 CSI/OSC/ST bytes in stdout"
    run = await run_cli(tmp_path, "tail", corpus_session.handle.id, "--address", temporal_server.address, "--json")
    found = [c for c in CONTROL_BYTES if c in run.stdout]
    fault_result.count(exit_code=run.code or 0, bytes=len(run.stdout), control_bytes_found=len(found))
    assert run.code == 0
    assert found == []


@pytest.mark.parametrize("mode", ["text", "raw"])
async def test_corpus_through_tail_text_prints_no_control_bytes(
    mode: str, temporal_server: EmbeddedServer, corpus_session: Corpus, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = f"bad input: hostile text through `wfwatch tail` ({mode})"
    fault_result.what = (
        f"wfwatch tail <corpus session>{' --raw' if mode == 'raw' else ''}: ESC/BEL/C1/CR bytes in stdout"
    )
    fault_result.checked = "exit 0; no control bytes in stdout; markup and escapes shown literally; the end line"
    args = ["tail", corpus_session.handle.id, "--address", temporal_server.address]
    run = await run_cli(tmp_path, *args, *(["--raw"] if mode == "raw" else []))
    found = [c for c in CONTROL_BYTES if c in run.stdout]
    fault_result.count(exit_code=run.code or 0, bytes=len(run.stdout), control_bytes_found=len(found))
    assert run.code == 0, run.stderr
    assert found == []
    shown = run.stdout.decode("utf-8")
    assert "[red]not red[/red]" in shown and "\\x1b" in shown  # shown literally, escapes made visible
    assert LONG_TOKEN in shown
    assert b"[end: workflow completed" in run.stdout


@pytest.mark.parametrize("fmt", ["markdown", "html", "raw markdown"])
async def test_corpus_through_export_prints_no_control_bytes(
    fmt: str, temporal_server: EmbeddedServer, corpus_session: Corpus, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = f"bad input: hostile text through `wfwatch export` ({fmt})"
    fault_result.what = f"wfwatch export <corpus session> --format {fmt.split()[-1]}{' --raw' * fmt.startswith('raw')}"
    fault_result.checked = "exit 0; no control bytes in the transcript; markup and escapes shown literally"
    args = ["export", corpus_session.handle.id, "--address", temporal_server.address, "--format", fmt.split()[-1]]
    run = await run_cli(tmp_path, *args, *(["--raw"] if fmt.startswith("raw") else []))
    found = [c for c in CONTROL_BYTES if c in run.stdout]
    fault_result.count(exit_code=run.code or 0, bytes=len(run.stdout), control_bytes_found=len(found))
    assert run.code == 0, run.stderr
    assert found == []
    shown = run.stdout.decode("utf-8")
    assert "\\x1b" in shown and LONG_TOKEN in shown
    assert "[red]not red[/red]" in shown  # model text sits in a fence (Markdown) or a <pre> (HTML), as written


def hub_truth(records: list[events.Record]) -> tuple[list[events.Record], int]:
    """``read_all()``'s records as a hub device must see them, and how many items differ.

    One known, deliberate difference: for a foreign (non-wfwatch-topic) payload
    whose encoding is not JSON, the hub keeps the bytes in ``UnknownItem.data``
    (``hub.codec.decode_item``: a generic pass-through) where ``StreamReader``
    gives ``data=None``. Everything else must be identical.
    """
    foreign = {topic: value for topic, value, _ in CORPUS if isinstance(value, bytes)}
    adjusted: list[events.Record] = []
    changed = 0
    for record in records:
        item = record.item
        if isinstance(item, events.UnknownItem) and item.data is None and item.topic in foreign:
            item = msgspec.structs.replace(item, data=foreign[item.topic])
            changed += 1
        adjusted.append(events.Record(record.offset, item))
    return adjusted, changed


async def test_corpus_through_hub_devices(
    client: Client, corpus_session: Corpus, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: corpus through hub devices (and its sqlite cache)"
    fault_result.what = "two hub devices read the corpus session; a second hub replays it from the cache"
    fault_result.contract = "exactly once"
    fault_result.checked = (
        CHECK_EXACT + " (except that the hub keeps a foreign binary payload's bytes where StreamReader gives none); "
        "canonical text as expected; the same odd items"
    )
    async with hub_for(client, tmp_path) as hub:
        states = [await HubTap(hub, corpus_session.handle.id, name).finish(60) for name in ("hub-1", "hub-2")]
    async with hub_for(client, tmp_path) as again:
        states.append(await HubTap(again, corpus_session.handle.id, "from-cache").finish(60))
    truth, kept_bytes = hub_truth(corpus_session.records)
    problems = [p for s in states for p in verdict(s, corpus_session.head, EXPECTED_TEXT, truth=truth)]
    fault_result.count(
        devices=len(states),
        records=corpus_session.head,
        devices_differing_from_truth=sum(1 for s in states if record_mismatch(s.records, truth)),
        foreign_binary_items_with_bytes_kept=kept_bytes,
    )
    fault_result.notes.extend(problems[:5])
    assert kept_bytes == 1
    assert problems == []
    for state in states:
        assert [o.kind for o in state.view.odd_items] == [o.kind for o in corpus_session.view.odd_items]


# --- 4. the same through a dashboard pane ----------------------------------------------------------


async def _pane_outcome(client: Client, session_id: str) -> tuple[str, str, bool, str]:
    """Open the dashboard on ``session_id``; return the pane's state and error, whether the app runs, its text."""
    from wfwatch.tui.app import WfwatchApp
    from wfwatch.tui.screens.watch import WatchScreen
    from wfwatch.tui.widgets.lane import LaneColumn

    app = WfwatchApp(client, open_session=session_id)
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(300):
            await pilot.pause(0.1)
            if not app.is_running:
                break
            screen = app.screen
            if isinstance(screen, WatchScreen) and screen.panes and screen.panes[0].stats.state in ("ended", "error"):
                break
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        pane = screen.panes[0]
        await pilot.pause(0.3)
        shown = "\n".join(c.shown_text for c in screen.query(LaneColumn))
        shown += "\n".join(str(c.border_title or "") for c in screen.query(LaneColumn))
        await pilot.press("a")
        await pilot.pause(0.2)
        return pane.stats.state, pane.stats.error, app.is_running and len(screen.panes) == 2, shown


@pytest.mark.parametrize("which", ["unknown workflow", "workflow without a stream"])
async def test_pane_shows_a_clear_error_and_the_app_keeps_running(
    which: str, client: Client, plain_workflow: str, fault_result: FaultResult
) -> None:
    fault_result.scenario = f"bad input: dashboard pane on {which}"
    target = "no-such-workflow" if which == "unknown workflow" else plain_workflow
    fault_result.what = f"wfwatch dashboard opened on {which}; then a second pane is added"
    fault_result.checked = (
        "the pane's state is 'error' with a one-line message naming the workflow; a second pane opens; "
        "the app keeps running"
    )
    state, error, running, _ = await _pane_outcome(client, target)
    fault_result.notes.append(error)
    fault_result.count(pane_state=state, app_running=int(running))
    assert state == "error" and error and "\n" not in error
    assert target in error
    assert running


async def test_lane_column_shows_no_control_characters(corpus_session: Corpus, fault_result: FaultResult) -> None:
    fault_result.scenario = "bad input: hostile message id in a lane column"
    fault_result.what = "render_lane() of the corpus session, whose message ids carry OSC 52 / BEL"
    fault_result.checked = "no ESC or BEL in any rendered lane"
    from wfwatch.tui.widgets.lane import render_lane

    shown = "\n".join(render_lane(lane).plain for lane in corpus_session.view.lanes)
    fault_result.count(lanes=len(corpus_session.view.lanes), chars=len(shown))
    assert "\x1b" not in shown and "\x07" not in shown


async def test_pane_renders_the_corpus_session(
    client: Client, corpus_session: Corpus, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: dashboard pane on the corpus session (hostile lane name)"
    fault_result.what = "wfwatch dashboard opened on the corpus session, which has a lane named '[/nope]'"
    fault_result.checked = (
        "the pane reads to the end ('ended'); no ESC or BEL in the lanes' text or titles; a second pane opens"
    )
    state, _, running, shown = await _pane_outcome(client, corpus_session.handle.id)
    fault_result.count(pane_state=state, app_running=int(running))
    assert state == "ended" and running
    assert "\x1b" not in shown and "\x07" not in shown


# --- 5. negative and beyond-head offsets through the hub --------------------------------------------


async def test_hub_rejects_negative_offsets_clearly(fault_result: FaultResult) -> None:
    fault_result.scenario = "bad input: negative offset to the hub and to StreamReader"
    fault_result.what = "Join.at(-1) and StreamReader(..., from_offset=-1)"
    fault_result.checked = "each raises ValueError saying the offset must be >= 0 (no Temporal call)"
    from wfwatch.hub import Join

    with pytest.raises(ValueError, match="offset >= 0") as join_error:
        Join.at(-1)
    with pytest.raises(ValueError, match=">= 0") as reader_error:
        StreamReader(None, "x", from_offset=-1)  # type: ignore[arg-type]
    fault_result.count(rejected=2)
    fault_result.notes.extend([str(join_error.value), str(reader_error.value)])


async def test_hub_device_beyond_the_head_of_a_closed_session_ends(
    client: Client, finished_session: str, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: hub device joining beyond the head (closed session)"
    fault_result.what = "Hub.open_device(<completed session>, Join.at(100000)) on a fresh hub"
    fault_result.checked = "no records, end-of-stream 'completed'"
    from wfwatch.hub import Join

    async with hub_for(client, tmp_path) as hub:
        state = await HubTap(hub, finished_session, "far", join=Join.at(100_000)).finish(30)
    fault_result.count(records=len(state.offsets), end=str(state.end_status))
    assert state.offsets == [] and state.end_status == "completed"


async def test_hub_device_beyond_the_head_does_not_stall_the_others(
    client: Client, module_queue: str, tmp_path: Path, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: hub device joining beyond the head (running session)"
    fault_result.what = (
        "on a running session, a hub device joins at offset 100000 first, then a device joins at 0; "
        "the session completes"
    )
    fault_result.contract = "exactly once"
    fault_result.checked = (
        "the far device ends 'completed' with no records; the near device: "
        + CHECK_EXACT
        + "; text an undisturbed run's"
    )
    from wfwatch.hub import Join

    model = ModelSpec(tokens_per_second=80, answer_words=40, reasoning_words=2)
    handle = await start_session(client, module_queue, messages=["far away"], model=model)
    async with hub_for(client, tmp_path) as hub:
        far = HubTap(hub, handle.id, "far", join=Join.at(100_000))
        await asyncio.sleep(0.5)
        near = HubTap(hub, handle.id, "near")
        near_state = await near.finish(20)
        far_state = await far.finish(15)
    truth, _, end = await read_all(client, handle.id, timeout=30)
    assert end is not None
    fault_result.count(
        records=end.next_offset,
        near_received=len(near_state.offsets),
        far_received=len(far_state.offsets),
        far_end=str(far_state.end_status),
    )
    problems = verdict(near_state, end.next_offset, undisturbed_text(model, ["far away"]), truth=truth)
    fault_result.notes.extend(problems[:5])
    assert problems == []
    assert far_state.offsets == [] and far_state.end_status == "completed"
