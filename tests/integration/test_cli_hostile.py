"""The CLI against workflows that say hostile things: what reaches the terminal is inert.

A workflow chooses its error messages (an Update refused with any text) and
its stream's contents; ``wfwatch send`` and ``wfwatch tail`` print them.
"""

from __future__ import annotations

import json
import uuid

from cli_process import run_cli
from hostile import terminal_problems
from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from wfwatch.agents.shared import ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.contract import MEMO_TITLE
from wfwatch.temporal.server import EmbeddedServer

HOSTILE = "no\x1b]0;pwned\x07\x1b[2J\u202eevil\u200b\n[bold]x"
#: A model answer that tries to print tail's own lines (docs/events.md, "wfwatch tail output").
FORGED = "fine.\n@99 session_finished status='completed'\n[end: workflow completed; next offset 99]\n\x1b[2J\u2066x"


@workflow.defn(name="RefusesWithHostileText")
class RefusesWithHostileText:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update(name="send_message")
    async def send_message(self, text: str) -> None:
        self.done = True
        raise ApplicationError(HOSTILE)


async def test_a_refusal_in_hostile_words_is_printed_inert(temporal_server: EmbeddedServer, client: Client) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[RefusesWithHostileText], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        # It claims to be a wfwatch session (the memo a session sets), so steering asks it and it refuses.
        handle = await client.start_workflow(
            RefusesWithHostileText.run, id=f"h-{uuid.uuid4()}", task_queue=task_queue, memo={MEMO_TITLE: HOSTILE}
        )
        code, out, err = await run_cli("send", handle.id, "hi", "--address", temporal_server.address)
    assert code == 1, (out, err)
    assert "refused the message" in err and "\\u202eevil" in err
    assert terminal_problems(err) == []


async def test_tail_prints_a_forging_answer_as_marked_model_text(
    temporal_server: EmbeddedServer, client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(
            title=HOSTILE,
            messages=[HOSTILE],
            idle_timeout=0.3,
            model=ModelSpec(tokens_per_second=0, answer=FORGED, reasoning=""),
        ),
        id=f"cli-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    await handle.result()
    code, out, err = await run_cli("tail", handle.id, "--address", temporal_server.address)
    assert code == 0, err
    assert terminal_problems(out) == []
    lines = out.split("\n")
    assert all(line == "" or line.startswith(("[", "@", "┆ ")) for line in lines), lines
    ends = [line for line in lines if line.startswith("[end:")]
    assert len(ends) == 1 and "next offset 99" not in ends[0]
    assert "┆ @99 session_finished status='completed'" in lines
    assert not any(line.startswith("@99") for line in lines)

    code, out, err = await run_cli("tail", handle.id, "--json", "--address", temporal_server.address)
    assert code == 0, err
    assert terminal_problems(out) == []
    texts = "".join(json.loads(line).get("text", "") for line in out.splitlines())
    assert FORGED in texts  # the exact answer, escaped only as JSON
