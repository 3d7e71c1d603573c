"""Soak: many sessions, many hub devices, for minutes; memory must stay flat, nothing lost.

    uv run python benchmarks/soak.py [--quick] [--minutes 10] [--sessions 50] [--devices 10]

Starts a private dev server and a worker subprocess, then ``--sessions``
agent sessions that keep making up turns (a slow scripted model, so the
load is steady rather than a burst) and one hub in this process with
``--devices`` devices on every session, all from offset 0. Every
``--sample`` seconds it records the resident memory (RSS) of this process
(the hub and its devices), the dev server and the worker. After
``--minutes`` every session is asked to close; each device must then reach
its end-of-stream having received every offset ``0..end-1`` exactly once,
and all devices of a session must have seen identical records.

Memory is "flat" when the hub process's RSS in the last quarter of the run
is within ``--flat-mb`` (default 40 MB) of its level at the end of the first
quarter (after warm-up). Writes ``benchmarks/results/soak.json``.
``--quick`` is 1 minute, 5 sessions x 3 devices.

Every loop is bounded: the run stops at ``--minutes`` and the drain after
closing is capped at ``--drain`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hub_common import worker_process

from wfwatch.agents.shared import SEARCH_ATTRIBUTES, ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import Delivery, EndOfStream, GapNotice, Hub, Join
from wfwatch.temporal.server import EmbeddedServer

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
TASK_QUEUE = "soak"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb(pid: int, *, whole_group: bool = False) -> float:
    """Resident memory of ``pid`` (and, with ``whole_group``, of every process in its group), MB."""
    pids = [pid]
    if whole_group:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) == pid:
                    pids.append(int(entry))
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
    return total / 1e6


@dataclass
class DeviceCount:
    """What one device received, kept small (the soak measures the hub's memory, not ours)."""

    session: str
    name: str
    next_offset: int = 0
    records: int = 0
    duplicates: int = 0
    holes: int = 0
    gaps: int = 0
    end: str | None = None
    end_offset: int | None = None
    error: str = ""
    digest: Any = field(default_factory=hashlib.sha256)

    def take(self, offset: int, kind: str) -> None:
        if offset < self.next_offset:
            self.duplicates += 1
            return
        if offset > self.next_offset:
            self.holes += offset - self.next_offset
        self.next_offset = offset + 1
        self.records += 1
        self.digest.update(f"{offset}:{kind};".encode())


async def follow(hub: Hub, device: DeviceCount) -> None:
    try:
        opened = await hub.open_device(device.session, name=device.name, join=Join("start"))
        async for event in opened:
            if isinstance(event, Delivery):
                for record in event.records:
                    device.take(record.offset, type(record.item).__name__)
            elif isinstance(event, GapNotice):
                device.gaps += 1
                device.next_offset = event.end
            elif isinstance(event, EndOfStream):
                device.end, device.end_offset = event.status, event.next_offset
                return
    except Exception as err:  # counted: the soak reports errors instead of stopping at the first
        device.error = f"{type(err).__name__}: {err}"


async def soak(minutes: float, sessions: int, devices: int, sample: float, drain: float) -> dict[str, Any]:
    model = ModelSpec(tokens_per_second=6, answer_words=24, reasoning_words=4)
    spec = SessionInput(title="soak", model=model, auto_turns=1_000_000, pause_between_turns=2.0, publish_linger=0.25)
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="wfwatch-soak-") as tmp:
        root = Path(tmp)
        async with EmbeddedServer(db_path=root / "temporal.db", search_attributes=SEARCH_ATTRIBUTES) as server:
            assert server.pid is not None
            client = await Client.connect(server.address, namespace=server.namespace)
            async with worker_process(server.address, server.namespace, TASK_QUEUE) as worker_pid:
                ids = [f"soak-{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(sessions)]
                for workflow_id in ids:
                    await client.start_workflow(AgentSession.run, spec, id=workflow_id, task_queue=TASK_QUEUE)
                async with Hub(client, state_dir=root / "state", cache_dir=root / "cache") as hub:
                    counts = [DeviceCount(s, f"d{d}") for s in ids for d in range(devices)]
                    tasks = [asyncio.create_task(follow(hub, c)) for c in counts]
                    began = time.monotonic()
                    stop_at = began + minutes * 60
                    print(f"{sessions} sessions x {devices} devices for {minutes:g} min; sampling every {sample:g} s")
                    print(f"{'t s':>6} {'hub MB':>8} {'server MB':>10} {'worker MB':>10} {'records':>10}")
                    while True:
                        now = time.monotonic()
                        row = {
                            "t": round(now - began, 1),
                            "hub_mb": round(rss_mb(os.getpid()), 1),
                            "server_mb": round(rss_mb(server.pid, whole_group=True), 1),
                            "worker_mb": round(rss_mb(worker_pid), 1),
                            "records": sum(c.records for c in counts),
                        }
                        samples.append(row)
                        print(
                            f"{row['t']:>6.0f} {row['hub_mb']:>8.1f} {row['server_mb']:>10.1f} "
                            f"{row['worker_mb']:>10.1f} {row['records']:>10,}"
                        )
                        if now >= stop_at:
                            break
                        await asyncio.sleep(min(sample, max(0.0, stop_at - time.monotonic())))
                    for workflow_id in ids:
                        await client.get_workflow_handle(workflow_id).signal(AgentSession.close)
                    drain_began = time.monotonic()
                    _, pending = await asyncio.wait(tasks, timeout=drain)
                    drained_in = time.monotonic() - drain_began
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    upstream = [hub.upstream_stats(i) for i in ids]
    return summarize(minutes, sessions, devices, samples, counts, upstream, drained_in, len(pending))


def summarize(
    minutes: float,
    sessions: int,
    devices: int,
    samples: list[dict[str, float]],
    counts: list[DeviceCount],
    upstream: list[Any],
    drained_in: float,
    stuck: int,
) -> dict[str, Any]:
    quarter = max(1, len(samples) // 4)
    warm = samples[quarter - 1] if len(samples) > 1 else samples[0]
    tail = samples[-quarter:]
    growth = {key: round(max(s[key] for s in tail) - warm[key], 1) for key in ("hub_mb", "server_mb", "worker_mb")}
    by_session: dict[str, list[DeviceCount]] = {}
    for c in counts:
        by_session.setdefault(c.session, []).append(c)
    incomplete = [
        c.session + "/" + c.name
        for c in counts
        if c.end != "completed"
        or c.end_offset is None
        or c.records != c.end_offset
        or c.duplicates
        or c.holes
        or c.gaps
        or c.error
    ]
    disagree = [s for s, group in by_session.items() if len({c.digest.hexdigest() for c in group}) != 1]
    return {
        "benchmark": "soak",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "minutes": minutes,
        "sessions": sessions,
        "devices_per_session": devices,
        "devices": len(counts),
        "records_per_session": round(sum(c.end_offset or 0 for c in counts) / max(1, len(counts))),
        "records_delivered": sum(c.records for c in counts),
        "lost": sum(max(0, (c.end_offset or c.next_offset) - c.records) for c in counts),
        "duplicates": sum(c.duplicates for c in counts),
        "gaps": sum(c.gaps for c in counts),
        "device_errors": sum(1 for c in counts if c.error),
        "upstream_errors": sum(u.errors for u in upstream),
        "upstream_updates": sum(u.updates for u in upstream),
        "incomplete_devices": incomplete[:20],
        "incomplete_count": len(incomplete),
        "sessions_whose_devices_disagree": disagree,
        "stuck_after_drain": stuck,
        "drain_s": round(drained_in, 1),
        "rss_growth_after_warmup_mb": growth,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 minute, 5 sessions x 3 devices")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--drain", type=float, default=120.0, help="most seconds to wait for the ends after closing")
    parser.add_argument("--flat-mb", type=float, default=40.0, help="allowed hub RSS growth after warm-up")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.sessions, args.devices = 1.0, 5, 3
    if args.minutes <= 0 or args.sessions < 1 or args.devices < 1 or args.sample <= 0:
        parser.error("--minutes and --sample must be > 0, --sessions and --devices >= 1")
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(soak(args.minutes, args.sessions, args.devices, args.sample, args.drain))
    result["flat_mb_limit"] = args.flat_mb
    result["flat"] = result["rss_growth_after_warmup_mb"]["hub_mb"] <= args.flat_mb
    ok = (
        result["flat"]
        and result["lost"] == 0
        and result["duplicates"] == 0
        and result["incomplete_count"] == 0
        and not result["sessions_whose_devices_disagree"]
    )
    result["ok"] = ok
    print()
    for key in (
        "devices",
        "records_per_session",
        "records_delivered",
        "lost",
        "duplicates",
        "gaps",
        "device_errors",
        "upstream_errors",
        "incomplete_count",
        "stuck_after_drain",
        "drain_s",
        "rss_growth_after_warmup_mb",
        "flat",
    ):
        print(f"{key:<28} {result[key]}")
    print("OK" if ok else "NOT OK")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
