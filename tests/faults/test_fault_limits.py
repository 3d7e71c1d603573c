"""Temporal's per-run limits: a session that continues-as-new many times, readers at the Update cap.

A private server lowers ``history.maxTotalUpdates`` so the per-run Update
cap (2,000 by default) is hit within seconds, and the session rolls over
every ~300 history events, so one test crosses both limits several times.
Devices attached from the start (bare readers and hub devices) and devices
joining late must all hold exactly the records ``read_all()`` reads back
(gapless, without duplicates, same items), with the canonical text of an
undisturbed run; a device joining ``live`` must hold exactly the truth from
its join position on; nothing may get stuck.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from faultkit import (
    CHECK_EXACT_CANONICAL,
    FaultResult,
    HubTap,
    ReaderTap,
    hub_for,
    offset_audit,
    own_server,
    record_mismatch,
    run_chain,
    start_session,
    undisturbed_text,
    verdict,
)
from temporalio.client import Client

from wfwatch.agents.shared import ModelSpec
from wfwatch.agents.worker import create_worker
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import Join
from wfwatch.stream.reader import read_all

pytestmark = pytest.mark.slow

MODEL = ModelSpec(tokens_per_second=80, answer_words=100, reasoning_words=6)
PROMPTS = ["plan the migration", "list the risks", "write the rollout note", "who signs off", "what is left"]
UPDATE_CAP = 20


async def test_rollovers_and_update_cap_with_devices_attached(tmp_path: Path, fault_result: FaultResult) -> None:
    fault_result.scenario = "continue-as-new x N and the per-run Update cap"
    fault_result.what = (
        f"session with rollover_history_events=300 on a server with history.maxTotalUpdates={UPDATE_CAP}; "
        "2 StreamReader + 2 hub devices from the start, 1 hub device (from 0) and 1 hub device (live) "
        "plus 1 StreamReader joining after the 2nd rollover"
    )
    fault_result.contract = "exactly once"
    fault_result.checked = (
        CHECK_EXACT_CANONICAL + " (the live device: from its join offset, no text check); "
        ">= 4 runs; the Update cap was hit and readers fell back to Query"
    )
    expected = undisturbed_text(MODEL, PROMPTS)
    task_queue = f"tq-{uuid.uuid4()}"
    async with own_server(tmp_path / "temporal.db", dynamic_config={"history.maxTotalUpdates": UPDATE_CAP}) as server:
        client = await Client.connect(server.address, namespace=server.namespace)
        async with create_worker(client, task_queue):
            handle = await start_session(client, task_queue, messages=PROMPTS, model=MODEL, rollover_history_events=300)
            began = time.monotonic()
            async with hub_for(client, tmp_path) as hub:
                early = [
                    ReaderTap(client, handle.id, "reader-1"),
                    ReaderTap(client, handle.id, "reader-2"),
                    HubTap(hub, handle.id, "hub-1"),
                    HubTap(hub, handle.id, "hub-2"),
                ]
                deadline = time.monotonic() + 40
                while (info := await handle.query(AgentSession.info)).runs < 3:
                    assert time.monotonic() < deadline, f"no 2nd rollover: {info}"
                    assert not early[0].done, "the session ended before its 2nd rollover"
                    await asyncio.sleep(0.1)
                joined_at = info.head_offset
                late = [
                    HubTap(hub, handle.id, "hub-late"),
                    ReaderTap(client, handle.id, "reader-late"),
                ]
                live = HubTap(hub, handle.id, "hub-live", join=Join("live"))
                states = [await tap.finish(timeout=60) for tap in [*early, *late]]
                live_state = await live.finish(timeout=60)
                took = time.monotonic() - began
                stats = hub.upstream_stats(handle.id)
            result = await handle.result()
            truth, truth_gaps, end = await read_all(client, handle.id, timeout=30)
            chain = await run_chain(client, handle.id)
    head = end.next_offset if end is not None else len(truth)
    readers = [tap for tap in [*early, *late] if isinstance(tap, ReaderTap)]
    problems = [p for s in states for p in verdict(s, head, expected, truth=truth)]
    live_start = live_state.joined_at if live_state.joined_at is not None else head
    problems += verdict(live_state, head, None, truth=truth, start=live_start)
    every = [*states, live_state]
    fault_result.count(
        records=head,
        truth_gaps=len(truth_gaps),
        runs=len(chain),
        rollovers=len(chain) - 1,
        max_history_events=max(r.history_length for r in chain),
        max_history_kb=round(max(r.history_bytes for r in chain) / 1024),
        update_cap_fallbacks=sum(t.update_limit_fallbacks for t in readers),
        late_joined_at=joined_at,
        live_joined_at=live_start,
        devices=len(every),
        gaps=sum(len(s.gaps) for s in every),
        missing=sum(len(offset_audit(s.offsets, head).missing) for s in states)
        + len(offset_audit(live_state.offsets, head, live_start).missing),
        duplicates=sum(offset_audit(s.offsets, head).duplicates for s in every),
        devices_differing_from_truth=sum(1 for s in states if record_mismatch(s.records, truth))
        + bool(record_mismatch(live_state.records, truth, live_start)),
        reader_errors=sum(len(s.errors) for s in states),
        hub_upstream_errors=stats.errors,
        wall_s=round(took, 1),
    )
    fault_result.notes.append(
        "history per run (events/KB): " + ", ".join(f"{r.history_length}/{r.history_bytes // 1024}" for r in chain)
    )
    fault_result.notes.extend(problems[:5])
    assert end is not None and end.status == "completed" and not truth_gaps, (end, truth_gaps)
    assert result.runs == len(chain) >= 4, chain
    assert all(r.status in ("CONTINUED_AS_NEW", "COMPLETED") for r in chain)
    assert offset_audit([r.offset for r in truth], head).clean
    assert problems == []
    # The cap was really reached, and the readers went on by Query instead of getting stuck.
    assert sum(t.update_limit_fallbacks for t in readers) >= 1


async def test_reader_reports_the_rollovers_it_followed(
    client: Client, task_queue: str, worker: object, fault_result: FaultResult
) -> None:
    fault_result.scenario = "StreamReader counts the rollovers it follows"
    fault_result.what = "a session continuing-as-new after every step, read live by one StreamReader"
    fault_result.contract = "exactly once"
    fault_result.checked = (
        "the reader's rollover count and the runs it read from (>= 3 / >= 4 of >= 5 runs); "
        "its records equal read_all()'s, 0..end-1 each once; its text an undisturbed run's"
    )
    model = ModelSpec(tokens_per_second=40, answer_words=30, reasoning_words=2)
    prompts = ["a", "b"]
    handle = await start_session(client, task_queue, messages=prompts, model=model, rollover_after_steps=1)
    tap = ReaderTap(client, handle.id, "reader")
    state = await tap.finish(timeout=60)
    chain = await run_chain(client, handle.id)
    truth, truth_gaps, end = await read_all(client, handle.id, timeout=30)
    head = end.next_offset if end is not None else len(truth)
    problems = verdict(state, head, undisturbed_text(model, prompts), truth=truth)
    fault_result.count(
        records=head,
        runs=len(chain),
        rollovers_followed=tap.reader.stats.rollovers,
        runs_read_from=len(state.runs),
        truth_gaps=len(truth_gaps),
        gaps=len(state.gaps),
        duplicates=offset_audit(state.offsets, head).duplicates,
    )
    fault_result.notes.extend(problems[:5])
    assert end is not None and end.status == "completed" and not truth_gaps, (end, truth_gaps)
    assert problems == []
    assert len(chain) >= 5, chain
    # Each run streamed for ~1 s while the reader was live, so it saw most of them.
    assert tap.reader.stats.rollovers >= 3, (tap.reader.stats, len(chain))
    assert len(tap.state.runs) >= 4, (tap.state.runs, len(chain))
