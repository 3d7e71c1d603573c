"""The worker process is SIGKILLed mid-stream and a new one is started.

The killed LLM call times out on its heartbeat and is retried on the new
worker: attempt 1's partial output stays in the log (it was published), and
every device's canonical view shows only attempt 2 — identical to a run
that was never disturbed.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from faultkit import (
    CHECK_EXACT_CANONICAL,
    FaultResult,
    HubTap,
    ReaderTap,
    hub_for,
    offset_audit,
    record_mismatch,
    start_session,
    undisturbed_text,
    verdict,
)
from temporalio.client import Client
from worker_process import worker_processes

from wfwatch import events
from wfwatch.agents.shared import ModelSpec
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer

pytestmark = pytest.mark.slow

MODEL = ModelSpec(tokens_per_second=40, answer_words=120, reasoning_words=6)
PROMPTS = ["summarize the incident", "list the follow-ups"]


async def test_worker_sigkilled_mid_stream_and_restarted(
    client: Client,
    task_queue: str,
    temporal_server: EmbeddedServer,
    tmp_path: Path,
    fault_result: FaultResult,
) -> None:
    fault_result.scenario = "worker SIGKILLed and restarted"
    fault_result.what = (
        "worker subprocess SIGKILLed while the first answer streams, a new worker started; "
        "2 StreamReader devices + 2 hub devices from the start, 1 hub device joining after the kill"
    )
    fault_result.contract = "exactly once"
    fault_result.checked = CHECK_EXACT_CANONICAL + "; attempt 1 of the killed answer superseded by attempt 2"
    expected = undisturbed_text(MODEL, PROMPTS)
    async with worker_processes(temporal_server.address, temporal_server.namespace, task_queue) as spawn:
        first = await spawn()
        handle = await start_session(client, task_queue, messages=PROMPTS, model=MODEL)
        async with hub_for(client, tmp_path) as hub:
            taps = [
                ReaderTap(client, handle.id, "reader-1"),
                ReaderTap(client, handle.id, "reader-2"),
                HubTap(hub, handle.id, "hub-1"),
                HubTap(hub, handle.id, "hub-2"),
            ]
            watcher = taps[2]

            def answering() -> bool:
                tokens = [
                    r.item
                    for r in watcher.state.records
                    if isinstance(r.item, events.TokenDelta) and r.item.message_id == "t1-answer"
                ]
                return sum(len(t.text) for t in tokens) > 80

            deadline = time.monotonic() + 30
            while not answering():
                assert time.monotonic() < deadline, "the first answer never started streaming"
                assert not watcher.done
                await watcher.wait_records(len(watcher.state.offsets) + 1)
            first.send_signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
            killed_at = time.monotonic()
            await spawn()
            taps.append(HubTap(hub, handle.id, "hub-late"))
            # Recovery waits out the activity's 10 s heartbeat timeout and the dead worker's sticky queue.
            while not any(
                isinstance(r.item, events.AttemptStarted) and r.item.message_id == "t1-answer" and r.item.attempt == 2
                for r in watcher.state.records[-50:]
            ):
                await watcher.wait_records(len(watcher.state.offsets) + 1, timeout=45)
            recovered_in = time.monotonic() - killed_at
            states = [await tap.finish(timeout=90) for tap in taps]
        await handle.result()
        truth, truth_gaps, end = await read_all(client, handle.id, timeout=30)
    head = end.next_offset if end is not None else len(truth)
    answer = next(m for m in states[0].view.lanes[0].messages if m.message_id == "t1-answer")
    problems = [p for s in states for p in verdict(s, head, expected, truth=truth)]
    fault_result.count(
        records=head,
        truth_gaps=len(truth_gaps),
        devices=len(states),
        worker_kills=1,
        worker_restarts=1,
        superseded_attempts=len(answer.superseded_attempts),
        recovered_in_s=round(recovered_in, 1),
        gaps=sum(len(s.gaps) for s in states),
        missing=sum(len(offset_audit(s.offsets, head).missing) for s in states),
        duplicates=sum(offset_audit(s.offsets, head).duplicates for s in states),
        devices_differing_from_truth=sum(1 for s in states if record_mismatch(s.records, truth)),
        reader_errors=sum(len(s.errors) for s in states),
    )
    assert end is not None and end.status == "completed" and not truth_gaps, (end, truth_gaps)
    assert offset_audit([r.offset for r in truth], head).clean
    fault_result.notes.extend(problems[:5])
    assert problems == []
    # The kill really interrupted a model call: its first attempt is superseded, not finished.
    assert answer.superseded_attempts == (1,) and answer.attempt == 2 and answer.finished
    assert not any(
        isinstance(r.item, events.MessageFinished) and r.item.message_id == "t1-answer" and r.item.attempt == 1
        for r in truth
    )
