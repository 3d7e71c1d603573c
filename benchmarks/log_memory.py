"""What one retained stream item costs a worker's memory, next to its wire size.

    uv run python benchmarks/log_memory.py [--items 50000]

A Workflow Stream keeps its log in the workflow: every item the run still
holds (and every item carried across continue-as-new) lives in the worker's
memory as a ``WorkflowStreamItem`` around a protobuf ``Payload``, decoded the
way the SDK's publish handler decodes it. This builds such a log from real
wfwatch events (a token, a step, a tool result) and reports the resident
memory each item adds, against the bytes it takes on the wire (the baseline:
what ``carry_log_bytes`` budgets). No Temporal server is needed: it measures
the representation, which is the SDK's, not wfwatch's.

Use it to size workers: sessions per worker x items a session retains x the
per-item figure. ``carry_log_bytes`` bounds what a session keeps across a
rollover.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys

from temporalio.api.common.v1 import Payload
from temporalio.contrib.workflow_streams._types import WorkflowStreamItem

from wfwatch import events
from wfwatch.stream.publisher import event_payload

SAMPLES: dict[str, events.Event] = {
    "token (1 word)": events.TokenDelta(message_id="t12-answer", text=" durable", lane="main", turn=12, ts=1.7e9),
    "step finished": events.StepFinished(turn=12, step_id="t12-plan", status="completed", duration_ms=812.5, ts=1.7e9),
    "tool result (2 KB)": events.ToolResult(call_id="t12-search", result="x" * 2000, lane="main", ts=1.7e9),
}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(event: events.Event, items: int) -> tuple[int, float]:
    """Wire bytes of one item, and resident bytes per item of a log of ``items``."""
    wire = event_payload(event).SerializeToString()
    gc.collect()
    before = rss_mb()
    log: list[WorkflowStreamItem[Payload]] = []
    for _ in range(items):
        payload = Payload()
        payload.ParseFromString(wire)  # as the SDK's publish handler does for every entry
        log.append(WorkflowStreamItem(topic=events.TOPIC, data=payload))
    gc.collect()
    per_item = (rss_mb() - before) * 1024 * 1024 / items
    del log
    return len(wire), per_item


def measure_apart(name: str, items: int) -> tuple[int, float]:
    """``measure`` in a fresh interpreter, so memory freed by one sample does not hide the next."""
    out = subprocess.run(
        [sys.executable, __file__, "--items", str(items), "--one", name], check=True, capture_output=True, text=True
    )
    wire, resident = json.loads(out.stdout)
    return int(wire), float(resident)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--one", choices=list(SAMPLES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.items < 1_000:
        parser.error("--items must be >= 1000 (fewer items are lost in the noise of RSS pages)")
    if args.one:
        print(json.dumps(measure(SAMPLES[args.one], args.items)))
        return
    print(f"log of {args.items:,} items, resident memory per item vs bytes on the wire")
    print(f"{'item':<20} {'wire B':>8} {'in worker B':>12} {'ratio':>7}")
    results = {name: measure_apart(name, args.items) for name in SAMPLES}
    for name, (wire, resident) in results.items():
        print(f"{name:<20} {wire:>8} {resident:>12.0f} {resident / wire:>6.1f}x")
    default_carry = 1_000_000
    wire, resident = results["token (1 word)"]
    # The session's _trim_log budget counts each item as its base64 wire form + topic + 16.
    carried = default_carry // (4 * -(-wire // 3) + len(events.TOPIC) + 16)
    print(
        f"\ncarry_log_bytes=1,000,000 (the default) carries ~{carried:,} token items: "
        f"~{carried * resident / 1e6:.0f} MB of worker memory a session"
    )


if __name__ == "__main__":
    main()
