"""One agent session streaming "30 minutes" of work, read live the whole time.

    uv run python benchmarks/long_session.py [--quick] [--minutes 30] [--rate 50] [--speedup 10]

The work is *simulated*: the session streams as many tokens as ``--minutes``
of a model producing ``--rate`` tokens/s would (30 min x 50 tok/s = 90,000
tokens), emitted ``--speedup`` times faster than real time by the scripted
model, in turns of ~1,000 tokens (plan + answer) with a tool call between.
The session keeps the default rollover settings (continue-as-new at 4,000
history events, 1 MB of log carried), so it continues-as-new many times.

Read while it streams by three hub devices and one bare ``StreamReader``
(all from offset 0, attached from the start), then, once the session has
completed, by two late devices from offset 0:

* a hub device on the same hub. The hub read every offset live and keeps
  them in its sqlite cache, so this device gets the whole log, ``0..end-1``,
  with no gap, even where Temporal has truncated the log since;
* a bare ``StreamReader`` (``read_all``): it can only get what the last run
  of the workflow still holds, so when the rollovers truncated the log
  (each run carries at most ``carry_log_bytes``, 1 MB by default) it gets
  an explicit gap for the truncated offsets and then the retained tail.
  ``late_reader`` in the result says which happened.

The reference is the live ``StreamReader``: it read Temporal directly while
every offset was still there. It must itself equal ``read_all`` on the
offsets Temporal still holds and show the scripted model's canonical text.
Every other device, the late hub device included, must equal it record for
record (offset and item), each offset once, no gap, and show the same text.

Reported: rollovers, history events and size per run (from the run chain in
visibility), reader errors and Update-cap fallbacks, wall time, per device
what it got, and ``every_device_complete`` over all five full devices.

Writes ``benchmarks/results/long_session.json``. Goal: 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hub_common import worker_process

from wfwatch import events
from wfwatch.agents.model import scripted_texts, tokenize
from wfwatch.agents.scenarios import AUTO_PROMPTS, auto_prompt
from wfwatch.agents.shared import SEARCH_ATTRIBUTES, ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import Delivery, EndOfStream, GapNotice, Hub, Join
from wfwatch.reducer import Reducer
from wfwatch.stream.reader import Batch, End, Gap, StreamReader, read_all
from wfwatch.temporal.server import EmbeddedServer

RESULTS = Path(__file__).resolve().parent / "results" / "long_session.json"
TASK_QUEUE = "long-session"
REASONING_WORDS = 50
ANSWER_WORDS = 450


@dataclass
class DeviceResult:
    name: str
    kind: str
    first_offset: int | None = None
    records: int = 0
    duplicates: int = 0
    holes: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    end: str | None = None
    end_offset: int | None = None
    errors: list[str] = field(default_factory=list)
    text_ok: bool | None = None
    #: Whether its records equal the reference's (offset and item); None: not compared.
    matches_reference: bool | None = None
    _next: int | None = None
    _records: list[events.Record] = field(default_factory=list)

    def take(self, records: list[events.Record]) -> None:
        self._records.extend(records)
        for record in records:
            if self.first_offset is None:
                self.first_offset = record.offset
            elif self._next is not None:
                if record.offset < self._next:
                    self.duplicates += 1
                elif record.offset > self._next:
                    self.holes += record.offset - self._next
            self._next = record.offset + 1
            self.records += 1

    def gap(self, start: int, end: int) -> None:
        self.gaps.append((start, end))
        if self._next is None or self._next == start:
            self._next = end
        if self.first_offset is None:
            self.first_offset = start


def turn_plan(minutes: float, rate: float) -> tuple[int, int]:
    """(turns, tokens): enough ~1,000-token turns to equal ``minutes`` of output at ``rate`` tokens/s."""
    spec = ModelSpec(reasoning_words=REASONING_WORDS, answer_words=ANSWER_WORDS)
    per_turn = 0
    for role in ("planner", "writer"):
        reasoning, answer = scripted_texts(spec, AUTO_PROMPTS[0], role)
        per_turn += len(tokenize(reasoning)) + len(tokenize(answer))
    target = int(minutes * 60 * rate)
    turns = max(1, -(-target // per_turn))
    return turns, turns * per_turn


def expected_text(model: ModelSpec, turns: int, workflow_id: str) -> str:
    texts: list[str] = []
    for turn in range(turns):
        prompt = auto_prompt(workflow_id, turn)
        texts += [scripted_texts(model, prompt, "planner")[1], scripted_texts(model, prompt, "writer")[1]]
    return "[main]\n" + "\n\n".join(texts)


async def run_chain(client: Client, workflow_id: str) -> list[dict[str, Any]]:
    """Each run of the continue-as-new chain, oldest first (visibility; waits until all are closed)."""
    deadline = time.monotonic() + 15
    while True:
        rows = [row async for row in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        rows.sort(key=lambda row: row.start_time)
        chain = [
            {
                "run_id": row.run_id,
                "status": row.status.name if row.status is not None else "?",
                "history_events": row.history_length,
                "history_bytes": row.raw_info.history_size_bytes,
                "seconds": round(((row.close_time or row.start_time) - row.start_time).total_seconds(), 1),
            }
            for row in rows
        ]
        if (chain and all(r["status"] != "RUNNING" for r in chain)) or time.monotonic() > deadline:
            return chain
        await asyncio.sleep(0.3)


async def hub_device(hub: Hub, workflow_id: str, result: DeviceResult, reducer: Reducer | None, join: Join) -> None:
    try:
        device = await hub.open_device(workflow_id, name=result.name, join=join)
        async for event in device:
            if isinstance(event, Delivery):
                result.take(event.records)
                if reducer is not None:
                    reducer.feed(event.records)
            elif isinstance(event, GapNotice):
                result.gap(event.start, event.end)
            elif isinstance(event, EndOfStream):
                result.end, result.end_offset = event.status, event.next_offset
                return
    except Exception as err:  # reported, not raised: the benchmark's point is to count them
        result.errors.append(f"{type(err).__name__}: {err}")


async def reader_device(
    client: Client, workflow_id: str, result: DeviceResult, reducer: Reducer, stats: dict[str, int]
) -> None:
    reader = StreamReader(client, workflow_id)
    try:
        async for item in reader:
            if isinstance(item, Batch):
                result.take(item.records)
                reducer.feed(item.records)
            elif isinstance(item, Gap):
                result.gap(item.start, item.end)
            elif isinstance(item, End):
                result.end, result.end_offset = item.status, item.next_offset
                break
    except Exception as err:
        result.errors.append(f"{type(err).__name__}: {err}")
    finally:
        stats.update(
            updates=reader.stats.updates,
            queries=reader.stats.queries,
            retried_errors=reader.stats.errors,
            update_limit_fallbacks=reader.stats.update_limit_fallbacks,
        )


async def run(minutes: float, rate: float, speedup: float, carry_log_bytes: int | None = None) -> dict[str, Any]:
    turns, tokens = turn_plan(minutes, rate)
    model = ModelSpec(tokens_per_second=rate * speedup, reasoning_words=REASONING_WORDS, answer_words=ANSWER_WORDS)
    spec = SessionInput(title="long session", model=model, auto_turns=turns, pause_between_turns=0.0)
    if carry_log_bytes is not None:
        spec = dataclasses.replace(spec, carry_log_bytes=carry_log_bytes)
    print(f"simulating {minutes:g} min at {rate:g} tok/s = {tokens:,} tokens in {turns} turns, {speedup:g}x faster")
    with tempfile.TemporaryDirectory(prefix="wfwatch-long-") as tmp:
        root = Path(tmp)
        async with EmbeddedServer(db_path=root / "temporal.db", search_attributes=SEARCH_ATTRIBUTES) as server:
            client = await Client.connect(server.address, namespace=server.namespace)
            async with worker_process(server.address, server.namespace, TASK_QUEUE):
                workflow_id = f"long-{uuid.uuid4().hex[:8]}"
                expected = expected_text(model, turns, workflow_id)
                began = time.monotonic()
                await client.start_workflow(AgentSession.run, spec, id=workflow_id, task_queue=TASK_QUEUE)
                async with Hub(client, state_dir=root / "state", cache_dir=root / "cache") as hub:
                    devices = [DeviceResult(f"hub-{i}", "hub") for i in range(1, 4)]
                    reducers = [Reducer() for _ in devices]
                    direct = DeviceResult("reader", "StreamReader")
                    direct_reducer = Reducer()
                    reader_stats: dict[str, int] = {}
                    tasks = [
                        asyncio.create_task(hub_device(hub, workflow_id, d, r, Join("start")))
                        for d, r in zip(devices, reducers, strict=True)
                    ]
                    tasks.append(
                        asyncio.create_task(reader_device(client, workflow_id, direct, direct_reducer, reader_stats))
                    )
                    last = time.monotonic()
                    while not all(t.done() for t in tasks):
                        await asyncio.sleep(1.0)
                        if time.monotonic() - last >= 15:
                            last = time.monotonic()
                            print(f"  {time.monotonic() - began:6.0f}s  {devices[0].records:,} records read")
                    wall = time.monotonic() - began
                    late = DeviceResult("hub-late-from-0", "hub")
                    late_reducer = Reducer()
                    await hub_device(hub, workflow_id, late, late_reducer, Join("start"))
                    upstream = hub.upstream_stats(workflow_id)
                # A bare reader from 0 once the session closed: what Temporal itself still holds.
                truth, truth_gaps, truth_end = await read_all(client, workflow_id, timeout=120)
                chain = await run_chain(client, workflow_id)
    all_devices = [*devices, direct, late]
    for device, reducer in zip(all_devices, [*reducers, direct_reducer, late_reducer], strict=True):
        device.text_ok = reducer.view().canonical_text() == expected
    head = direct.end_offset or 0
    retained_from = truth[0].offset if truth else head
    reference = _pairs(direct._records)
    # The reference read Temporal live; on the offsets Temporal still holds it must equal read_all().
    reference_matches_truth = [p for p in reference if p[0] >= retained_from] == _pairs(truth)
    for device in all_devices:
        device.matches_reference = _pairs(device._records) == reference
    direct.matches_reference = reference_matches_truth  # the reference itself: against read_all()
    late_reader = {
        "gaps": [[g.start, g.end] for g in truth_gaps],
        "records": len(truth),
        "first_offset": truth[0].offset if truth else None,
        "end": truth_end.status if truth_end is not None else None,
        "end_offset": truth_end.next_offset if truth_end is not None else None,
        "got_a_gap": bool(truth_gaps),
        "truncated_offsets": sum(g.end - g.start for g in truth_gaps),
        # What it holds must be the reference's records for the same offsets, and the gap must
        # account for exactly the offsets before them.
        "matches_reference": reference_matches_truth
        and sum(g.end - g.start for g in truth_gaps) == retained_from
        and (truth_end is not None and truth_end.next_offset == head),
    }
    errors = sum(len(d.errors) for d in all_devices) + upstream.errors
    return {
        "benchmark": "long_session",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
        "simulated_minutes": minutes,
        "rate_tokens_per_s": rate,
        "speedup": speedup,
        "carry_log_bytes": spec.carry_log_bytes,
        "turns": turns,
        "tokens": tokens,
        "records": head,
        "wall_s": round(wall, 1),
        "runs": len(chain),
        "rollovers": max(0, len(chain) - 1),
        "chain": chain,
        "max_history_events": max((r["history_events"] for r in chain), default=0),
        "max_history_mb": round(max((r["history_bytes"] for r in chain), default=0) / 1e6, 2),
        "errors": errors,
        "reader": reader_stats,
        "hub_upstream": {"updates": upstream.updates, "queries": upstream.queries, "errors": upstream.errors},
        "reference": "the live StreamReader, checked against read_all() on the offsets Temporal still holds",
        "reference_matches_truth": reference_matches_truth,
        "devices": [_device_row(d, head) for d in all_devices],
        "late_reader": late_reader,
        "every_device_complete": reference_matches_truth
        and all(
            d.records == head
            and d.first_offset == 0
            and not d.gaps
            and not d.duplicates
            and not d.holes
            and d.text_ok
            and d.matches_reference
            and d.end == "completed"
            for d in all_devices
        ),
    }


def _pairs(records: list[events.Record]) -> list[tuple[int, object]]:
    return [(r.offset, r.item) for r in records]


def _device_row(device: DeviceResult, head: int) -> dict[str, Any]:
    row = {f.name: getattr(device, f.name) for f in fields(device) if not f.name.startswith("_")}
    row["missing"] = head - (device.first_offset or 0) - device.records - sum(e - s for s, e in device.gaps)
    return row


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def print_report(result: dict[str, Any]) -> None:
    print()
    print(
        f"runs {result['runs']} (rollovers {result['rollovers']}), records {result['records']:,}, "
        f"wall {result['wall_s']} s, errors {result['errors']}"
    )
    print(f"{'run':>4} {'status':<17} {'events':>7} {'MB':>6} {'s':>6}")
    for index, run in enumerate(result["chain"], start=1):
        print(
            f"{index:>4} {run['status']:<17} {run['history_events']:>7} {run['history_bytes'] / 1e6:>6.2f} {run['seconds']:>6}"
        )
    print(
        f"{'device':<16} {'first':>6} {'records':>8} {'gaps':>5} {'dups':>5} {'missing':>7} {'end':<10} "
        "text  same as reference"
    )
    for d in result["devices"]:
        print(
            f"{d['name']:<16} {d['first_offset']!s:>6} {d['records']:>8} {len(d['gaps']):>5} {d['duplicates']:>5} "
            f"{d['missing']:>7} {d['end']!s:<10} {d['text_ok']!s:<5} {d['matches_reference']}"
        )
    late = result["late_reader"]
    print(
        f"late StreamReader from 0 (read_all): {late['records']} records from offset {late['first_offset']}, "
        f"gaps {late['gaps'] or 'none'}, end {late['end']} at {late['end_offset']}, "
        f"consistent with the reference: {late['matches_reference']}"
    )
    print(
        f"reference (live StreamReader) equals read_all() where Temporal still holds it: {result['reference_matches_truth']}"
    )
    print(f"reader: {result['reader']}; hub upstream: {result['hub_upstream']}")
    print("every device complete, canonical and identical to the reference:", result["every_device_complete"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 simulated minutes instead of 30")
    parser.add_argument("--minutes", type=float, default=30.0, help="simulated minutes of model output")
    parser.add_argument("--rate", type=float, default=50.0, help="realistic model rate, tokens/s")
    parser.add_argument("--speedup", type=float, default=10.0, help="how much faster than real time to emit")
    parser.add_argument(
        "--carry-log-bytes",
        type=int,
        default=None,
        help="log carried across continue-as-new (default: the session's, 1 MB); small values force truncation",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    minutes = 3.0 if args.quick else args.minutes
    if minutes <= 0 or args.rate <= 0 or args.speedup <= 0:
        parser.error("--minutes, --rate and --speedup must be > 0")
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(minutes, args.rate, args.speedup, args.carry_log_bytes))
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    ok = result["errors"] == 0 and result["every_device_complete"] and result["late_reader"]["matches_reference"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
