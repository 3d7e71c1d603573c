"""The Temporal dev server dies (SIGKILL) or freezes (SIGSTOP 10 s) mid-stream.

Each test runs its own server on a fixed port and sqlite file, a worker in a
subprocess, and devices of both kinds: bare ``StreamReader`` devices (what
``wfwatch tail`` uses) and hub devices. After the fault every device must
end with the canonical view of an undisturbed run and with exactly the
records ``read_all()`` reads back from Temporal (offsets ``0..end-1``, each
once, same items), without a gap.
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
    start_session,
    undisturbed_text,
    verdict,
)
from temporalio.client import Client
from worker_process import worker_processes

from wfwatch.agents.shared import ModelSpec
from wfwatch.stream.reader import read_all

pytestmark = pytest.mark.slow

MODEL = ModelSpec(tokens_per_second=50, answer_words=150, reasoning_words=6)
PROMPTS = ["why did the nightly build fail", "what should we change first", "draft the status update"]


async def test_server_killed_and_restarted_on_the_same_db(tmp_path: Path, fault_result: FaultResult) -> None:
    fault_result.scenario = "server SIGKILLed and restarted"
    fault_result.what = (
        "dev server SIGKILLed twice mid-stream (down 1 s each) and restarted on the same sqlite db and port; "
        "worker in a subprocess; 2 StreamReader devices + 3 hub devices (one joins after the first restart)"
    )
    fault_result.contract = "exactly once"
    fault_result.checked = CHECK_EXACT_CANONICAL + "; the worker survived"
    expected = undisturbed_text(MODEL, PROMPTS)
    task_queue = f"tq-{uuid.uuid4()}"
    async with own_server(tmp_path / "temporal.db") as server:
        client = await Client.connect(server.address, namespace=server.namespace)
        async with worker_processes(server.address, server.namespace, task_queue) as spawn:
            worker = await spawn()
            worker_restarts = 0
            handle = await start_session(client, task_queue, messages=PROMPTS, model=MODEL)
            async with hub_for(client, tmp_path) as hub:
                readers = [ReaderTap(client, handle.id, "reader-1"), ReaderTap(client, handle.id, "reader-2")]
                hubs = [HubTap(hub, handle.id, "hub-1"), HubTap(hub, handle.id, "hub-2")]
                outages = []
                began = time.monotonic()
                await hubs[0].wait_records(60)
                outages.append(await server.restart(down_for=1.0))
                hubs.append(HubTap(hub, handle.id, "hub-late"))
                await hubs[0].wait_records(len(hubs[0].state.offsets) + 100, timeout=60)
                outages.append(await server.restart(down_for=1.0))
                if worker.returncode is not None:  # the worker must survive; restart it if not, but count it
                    worker_restarts += 1
                    worker = await spawn()
                taps = [*readers, *hubs]
                states = [await tap.finish(timeout=90) for tap in taps]
                took = time.monotonic() - began
                stats = hub.upstream_stats(handle.id)
            # Bounded: a session stuck behind a failing workflow task fails here, with the worker's log shown.
            await asyncio.wait_for(handle.result(), 120)
            truth, truth_gaps, end = await read_all(client, handle.id, timeout=30)
    head = end.next_offset if end is not None else len(truth)
    problems = [p for s in states for p in verdict(s, head, expected, truth=truth)]
    fault_result.count(
        records=head,
        truth_gaps=len(truth_gaps),
        devices=len(states),
        server_restarts=len(outages),
        outage_s=round(max(outages), 2),
        wall_s=round(took, 1),
        gaps=sum(len(s.gaps) for s in states),
        missing=sum(len(offset_audit(s.offsets, head).missing) for s in states),
        duplicates=sum(offset_audit(s.offsets, head).duplicates for s in states),
        devices_differing_from_truth=sum(1 for s in states if record_mismatch(s.records, truth)),
        reader_errors=sum(len(s.errors) for s in states),
        hub_upstream_errors=stats.errors,
        worker_restarts=worker_restarts,
    )
    assert end is not None and end.status == "completed" and not truth_gaps, (end, truth_gaps)
    assert offset_audit([r.offset for r in truth], head).clean
    fault_result.notes.extend(problems[:5])
    assert problems == []
    assert worker_restarts == 0, "the worker died with the server"


async def test_server_frozen_for_10_seconds(tmp_path: Path, fault_result: FaultResult) -> None:
    fault_result.scenario = "server unreachable for 10 s"
    fault_result.what = (
        "dev server SIGSTOPped for 10 s mid-stream, then SIGCONT (a partition that loses no state); "
        "worker in a subprocess; 1 StreamReader device + 2 hub devices"
    )
    fault_result.contract = "exactly once"
    fault_result.checked = CHECK_EXACT_CANONICAL + "; the worker survived"
    expected = undisturbed_text(MODEL, PROMPTS)
    task_queue = f"tq-{uuid.uuid4()}"
    async with own_server(tmp_path / "temporal.db") as server:
        client = await Client.connect(server.address, namespace=server.namespace)
        async with worker_processes(server.address, server.namespace, task_queue) as spawn:
            worker = await spawn()
            handle = await start_session(client, task_queue, messages=PROMPTS, model=MODEL)
            async with hub_for(client, tmp_path) as hub:
                taps = [ReaderTap(client, handle.id, "reader"), HubTap(hub, handle.id, "hub-1")]
                await taps[1].wait_records(60)
                frozen_at = len(taps[1].state.offsets)
                began = time.monotonic()
                await server.freeze(10.0)
                taps.append(HubTap(hub, handle.id, "hub-after"))
                states = [await tap.finish(timeout=90) for tap in taps]
                took = time.monotonic() - began
                stats = hub.upstream_stats(handle.id)
            # Bounded: a session stuck behind a failing workflow task fails here, with the worker's log shown.
            await asyncio.wait_for(handle.result(), 120)
            truth, truth_gaps, end = await read_all(client, handle.id, timeout=30)
            worker_alive = worker.returncode is None
    head = end.next_offset if end is not None else len(truth)
    problems = [p for s in states for p in verdict(s, head, expected, truth=truth)]
    fault_result.count(
        records=head,
        truth_gaps=len(truth_gaps),
        devices=len(states),
        frozen_s=10,
        delivered_before_freeze=frozen_at,
        recovered_and_finished_s=round(took, 1),
        gaps=sum(len(s.gaps) for s in states),
        missing=sum(len(offset_audit(s.offsets, head).missing) for s in states),
        duplicates=sum(offset_audit(s.offsets, head).duplicates for s in states),
        devices_differing_from_truth=sum(1 for s in states if record_mismatch(s.records, truth)),
        reader_errors=sum(len(s.errors) for s in states),
        hub_upstream_errors=stats.errors,
    )
    # The partition loses no state: Temporal still holds every offset, and no device saw a gap.
    assert end is not None and end.status == "completed" and not truth_gaps, (end, truth_gaps)
    assert offset_audit([r.offset for r in truth], head).clean
    fault_result.notes.extend(problems[:5])
    assert problems == []
    assert worker_alive
