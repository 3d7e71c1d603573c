"""Hub fan-out vs direct Workflow Streams readers, in one run.

    uv run python benchmarks/hub_fanout.py [--quick]

Starts a private dev server and a worker (in its own process, so this
process's CPU is the hub's), then measures:

1. **Upstream mode** for the live tail (hub, 10 devices): long-poll Updates
   vs poll Query: Updates and bytes added to the workflow's history, server
   and worker CPU, publish→device latency. The hub's default comes from this.
2. **Fan-out**: one streaming agent session per row, N = 1, 10, 100, 1000
   devices joining at offset 0: Updates recorded in the workflow's history,
   dev-server CPU s, worker CPU s, hub CPU s, deliveries/s, latency p50/p99
   — hub vs direct (every device long-polling on its own) in the same run.
   Direct stops at N = 10 (16 in the full run): past 10 in-flight Updates
   the server rejects polls and readers starve, which is the point.
3. **In-process fan-out** without Temporal: events/s per CPU core, for a
   catch-up (100 devices reading a 100k-record buffer) and for a live tail
   (1000 devices woken by small batches).
4. **Catch-up of 100k events**: from the workflow (poll Query), from the
   hub's buffer, and — after the workflow completed — from the sqlite cache
   of a new hub (no Temporal call on that path).

Writes ``benchmarks/results/hub_fanout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hub_common import (
    StreamGenerator,
    count_until,
    cpu_seconds,
    offline_device,
    offline_feed,
    percentile,
    worker_process,
)

from wfwatch import events
from wfwatch.agents.shared import SEARCH_ATTRIBUTES, ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import DEFAULT_UPSTREAM_MODE, Delivery, Device, EndOfStream, Hub, Join
from wfwatch.hub.codec import JSON_ENCODING, RawItem, decode_raw
from wfwatch.hub.history import history_cost
from wfwatch.temporal.server import EmbeddedServer

RESULTS = Path(__file__).resolve().parent / "results" / "hub_fanout.json"
TASK_QUEUE = "hub-bench"
LATENCY_SAMPLE_DEVICES = 12


@dataclass
class Phase:
    """One streaming session watched by N devices, through the hub or directly."""

    label: str
    devices: int
    how: str  # "hub", "direct" or "none"
    mode: str = ""
    items: int = 0
    delivered: int = 0
    complete: int = 0  # devices that received every offset
    wall_s: float = 0.0
    history_updates: int = 0
    history_signals: int = 0
    history_events: int = 0
    history_kb: float = 0.0
    max_concurrent_updates: int = 0
    server_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0
    hub_cpu_s: float = 0.0
    deliveries_per_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    hub_updates: int = 0
    hub_queries: int = 0
    note: str = ""


@dataclass
class Report:
    quick: bool
    machine: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    modes: list[Phase] = field(default_factory=list)
    idle: list[Phase] = field(default_factory=list)
    fanout: list[Phase] = field(default_factory=list)
    micro: dict[str, Any] = field(default_factory=dict)
    catchup: dict[str, Any] = field(default_factory=dict)


# --- one streaming session ------------------------------------------------------------


def session_input(quick: bool, idle: float = 0.0) -> SessionInput:
    if idle:
        # No messages: the session sits waiting for a user, then closes.
        return SessionInput(title="bench-idle", messages=[], idle_timeout=idle)
    model = ModelSpec(tokens_per_second=200, answer_words=150 if quick else 400, reasoning_words=50 if quick else 100)
    messages = ["summarize the run"] if quick else ["summarize the run", "which step was slowest"]
    return SessionInput(title="bench", model=model, messages=messages, idle_timeout=0.3, publish_linger=0.02)


async def consume(device: Device, latencies: list[float] | None) -> tuple[int, bool]:
    """Read to the end; returns (records, contiguous from 0 to the end)."""
    delivered = 0
    expected = device.position
    contiguous = True
    async for event in device:
        if isinstance(event, Delivery):
            if event.records[0].offset != expected:
                contiguous = False
            expected = event.next_offset
            delivered += len(event.records)
            if latencies is not None:
                now = time.time()
                for record in event.records:
                    ts = getattr(record.item, "ts", 0.0)
                    if ts:
                        latencies.append(now - ts)
        elif isinstance(event, EndOfStream):
            contiguous = contiguous and expected == event.next_offset
    return delivered, contiguous


async def run_phase(
    client: Client,
    pids: tuple[int, int],
    tmp: Path,
    *,
    label: str,
    n: int,
    how: str,
    mode: str,
    quick: bool,
    idle: float = 0.0,
) -> Phase:
    server_pid, worker_pid = pids
    phase = Phase(label=label, devices=n, how=how, mode=mode if how == "hub" else "")
    hub = Hub(
        client,
        state_dir=tmp / f"state-{uuid.uuid4().hex[:6]}",
        cache_dir=tmp / f"cache-{uuid.uuid4().hex[:6]}",
        upstream_mode=mode if mode in ("update", "query") else DEFAULT_UPSTREAM_MODE,  # type: ignore[arg-type]
        grace=0.5,
    )
    server0, worker0, hub0 = cpu_seconds(server_pid), cpu_seconds(worker_pid), time.process_time()
    started = time.monotonic()
    handle = await client.start_workflow(
        AgentSession.run, session_input(quick, idle), id=f"bench-{label}-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE
    )
    sampled = (
        {round(i * (n - 1) / max(1, LATENCY_SAMPLE_DEVICES - 1)) for i in range(LATENCY_SAMPLE_DEVICES)} if n else set()
    )
    samples: list[list[float]] = []
    tasks = []
    for index in range(n):
        device = await hub.open_device(handle.id, name=f"d{index}", join=Join("start"), direct=how == "direct")
        latencies: list[float] | None = None
        if index in sampled:
            latencies = []
            samples.append(latencies)
        tasks.append(asyncio.create_task(consume(device, latencies)))
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=120) if tasks else []
    await handle.result()
    phase.wall_s = time.monotonic() - started
    if how == "hub":
        stats = hub.upstream_stats(handle.id)
        phase.hub_updates, phase.hub_queries = stats.updates, stats.queries
    await hub.aclose()
    phase.hub_cpu_s = time.process_time() - hub0
    phase.server_cpu_s = cpu_seconds(server_pid) - server0
    phase.worker_cpu_s = cpu_seconds(worker_pid) - worker0
    cost = await history_cost(client, handle.id)
    phase.history_updates = cost.updates
    phase.history_signals = cost.signals
    phase.history_events = cost.events
    phase.history_kb = cost.bytes / 1024
    phase.max_concurrent_updates = cost.max_concurrent_updates
    phase.delivered = sum(r[0] for r in results)
    phase.complete = sum(1 for r in results if r[1])
    phase.items = max((r[0] for r in results), default=0)
    phase.deliveries_per_s = phase.delivered / phase.wall_s if phase.wall_s else 0.0
    flat = [x for s in samples for x in s]
    if flat:
        phase.p50_ms = percentile(flat, 50) * 1000
        phase.p99_ms = percentile(flat, 99) * 1000
        phase.max_ms = max(flat) * 1000
    return phase


# --- in-process fan-out (no Temporal) --------------------------------------------------


def synthetic(count: int, start: int = 0) -> tuple[list[events.Record], list[RawItem]]:
    raw = [
        RawItem(
            offset,
            events.TOPIC,
            JSON_ENCODING,
            events.encode(events.TokenDelta(message_id="m", text=f"token {offset} ", turn=1, ts=1.0)),
        )
        for offset in range(start, start + count)
    ]
    return [decode_raw(item) for item in raw], raw


async def micro(tmp: Path, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # (a) catch-up: 100 devices read a 100k-record buffer from offset 0.
    feed, cache = await offline_feed(tmp, "micro-catchup")
    records, raw = synthetic(100_000)
    feed.append(records, raw)
    await feed.drain_writes()
    devices = [offline_device(feed, i) for i in range(100)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    delivered = sum(await asyncio.gather(*(count_until(d, 100_000) for d in devices)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    out["catchup_100_devices_100k"] = {
        "delivered": delivered,
        "cpu_s": cpu,
        "wall_s": wall,
        "events_per_cpu_s": delivered / cpu if cpu else float("inf"),
    }
    await feed.close()
    await cache.close()

    # (b) live tail: N devices waiting; batches of B records appended one at a time.
    for n, batches, size in ((1000, 100 if quick else 300, 10), (100, 300 if quick else 1000, 10)):
        feed, cache = await offline_feed(tmp, f"micro-live-{n}")
        devices = [offline_device(feed, i) for i in range(n)]
        total = batches * size
        readers = [asyncio.create_task(count_until(d, total)) for d in devices]
        await asyncio.sleep(0)
        all_records, all_raw = synthetic(total)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for b in range(batches):
            feed.append(all_records[b * size : (b + 1) * size], all_raw[b * size : (b + 1) * size])
            await asyncio.sleep(0)  # let the devices run, as the upstream reader's awaits do
        delivered = sum(await asyncio.gather(*readers))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out[f"live_{n}_devices_batches_of_{size}"] = {
            "delivered": delivered,
            "cpu_s": cpu,
            "wall_s": wall,
            "events_per_cpu_s": delivered / cpu if cpu else float("inf"),
            "wakeups_per_cpu_s": n * batches / cpu if cpu else float("inf"),
        }
        await feed.close()
        await cache.close()
    return out


# --- catch-up of 100k events -------------------------------------------------------------


async def time_to(device: Device, target: int) -> float:
    started = time.perf_counter()
    await count_until(device, target)
    return time.perf_counter() - started


async def catchup(client: Client, tmp: Path, quick: bool) -> dict[str, Any]:
    count = 100_000
    out: dict[str, Any] = {"events": count}
    wf_id = f"bench-bulk-{uuid.uuid4().hex[:6]}"
    handle = await client.start_workflow(StreamGenerator.run, count, id=wf_id, task_queue=TASK_QUEUE)
    started = time.perf_counter()
    while await handle.query(StreamGenerator.published) < count:
        await asyncio.sleep(0.2)
    out["generate_s"] = time.perf_counter() - started
    state, cache_dir = tmp / "catchup-state", tmp / "catchup-cache"
    before = await history_cost(client, wf_id)

    hub = Hub(client, state_dir=state, cache_dir=cache_dir)
    first = await hub.open_device(wf_id, name="first", join=Join("start"))
    out["from_workflow_s"] = await time_to(first, count)
    stats = hub.upstream_stats(wf_id)
    out["from_workflow_queries"] = stats.queries
    out["from_workflow_updates"] = stats.updates
    second = await hub.open_device(wf_id, name="second", join=Join("start"))
    out["from_buffer_s"] = await time_to(second, count)
    after = await history_cost(client, wf_id)
    out["history_kb_added_by_hub"] = (after.bytes - before.bytes) / 1024
    if not quick:
        direct = await hub.open_device(wf_id, name="direct", join=Join("start"), direct=True)
        out["direct_from_workflow_s"] = await time_to(direct, count)
        direct_cost = await history_cost(client, wf_id)
        out["history_kb_added_by_direct"] = (direct_cost.bytes - after.bytes) / 1024
        out["direct_updates"] = direct_cost.updates - after.updates
        await direct.close()
    await handle.signal(StreamGenerator.finish)
    await handle.result()
    async for event in first:
        if isinstance(event, EndOfStream):
            break
    await hub.aclose()

    hub = Hub(client, state_dir=state, cache_dir=cache_dir)
    started = time.perf_counter()
    replay = await hub.open_device(wf_id, name="replay", join=Join("start"))
    delivered = 0
    end: EndOfStream | None = None
    async for event in replay:
        if isinstance(event, Delivery):
            delivered += len(event.records)
        elif isinstance(event, EndOfStream):
            end = event
    out["from_cache_completed_s"] = time.perf_counter() - started
    out["from_cache_delivered"] = delivered
    out["from_cache_end"] = end.status if end else None
    stats = hub.upstream_stats(wf_id)
    out["from_cache_temporal_reads"] = stats.updates + stats.queries + stats.backfill_queries
    await hub.aclose()
    return out


# --- output ---------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:,.{digits}f}"


def pair(hub: Phase | None, direct: Phase | None, value: str) -> str:
    """``hub / direct`` for one column, ``n/a`` where a side was not run."""

    def one(p: Phase | None) -> str:
        if p is None:
            return "n/a"
        v = getattr(p, value)
        if value in ("p50_ms", "p99_ms"):
            return fmt(v, 0)
        if isinstance(v, float):
            return fmt(v, 0 if value == "deliveries_per_s" else 2)
        return f"{v:,}"

    return f"{one(hub)} / {one(direct)}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, rule, *body])


def render(report: Report) -> str:
    parts = []
    parts.append("Upstream mode for the live tail (hub, 10 devices, same session shape):")
    parts.append(
        table(
            ["mode", "Updates in history", "history KB", "server CPU s", "worker CPU s", "p50/p99 ms", "complete"],
            [
                [
                    p.mode,
                    str(p.history_updates),
                    fmt(p.history_kb, 0),
                    fmt(p.server_cpu_s, 2),
                    fmt(p.worker_cpu_s, 2),
                    f"{fmt(p.p50_ms, 0)}/{fmt(p.p99_ms, 0)}",
                    f"{p.complete}/{p.devices}",
                ]
                for p in report.modes
            ],
        )
    )
    if report.idle:
        parts.append("Idle session (waiting for a user message), hub with 10 devices, CPU per minute of idling:")
        parts.append(
            table(
                ["mode", "idle s", "Updates in history", "server CPU s/min", "worker CPU s/min", "hub CPU s/min"],
                [
                    [
                        p.mode,
                        fmt(p.wall_s, 1),
                        str(p.history_updates),
                        fmt(p.server_cpu_s * 60 / p.wall_s, 2),
                        fmt(p.worker_cpu_s * 60 / p.wall_s, 2),
                        fmt(p.hub_cpu_s * 60 / p.wall_s, 2),
                    ]
                    for p in report.idle
                ],
            )
        )
    parts.append(f"Chosen default upstream mode: {DEFAULT_UPSTREAM_MODE}")
    parts.append("")
    parts.append(f"Fan-out, one streaming session per row (hub upstream mode: {DEFAULT_UPSTREAM_MODE}):")
    by_n: dict[int, dict[str, Phase]] = {}
    for p in report.fanout:
        by_n.setdefault(p.devices, {})[p.how] = p
    headers = [
        "N",
        "publish Signals",
        "Updates in history",
        "server CPU s",
        "worker CPU s",
        "reader proc CPU s",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "devices with every offset",
    ]
    rows = []
    for n in sorted(by_n):
        if n == 0:
            continue
        hub, direct = by_n[n].get("hub"), by_n[n].get("direct")
        rows.append(
            [
                str(n),
                pair(hub, direct, "history_signals"),
                pair(hub, direct, "history_updates"),
                pair(hub, direct, "server_cpu_s"),
                pair(hub, direct, "worker_cpu_s"),
                pair(hub, direct, "hub_cpu_s"),
                pair(hub, direct, "deliveries_per_s"),
                pair(hub, direct, "p50_ms"),
                pair(hub, direct, "p99_ms"),
                pair(hub, direct, "complete"),
            ]
        )
    parts.append("each cell: hub / direct")
    parts.append(table(headers, rows))
    baseline = by_n.get(0, {}).get("none")
    if baseline is not None:
        parts.append(
            f"Baseline (same session, no reader): server CPU {fmt(baseline.server_cpu_s, 2)} s, "
            f"worker CPU {fmt(baseline.worker_cpu_s, 2)} s, wall {fmt(baseline.wall_s, 1)} s."
        )
    parts.append(
        "Updates track publish Signals (one poll per published batch), not N. direct n/a: more than 10 "
        "long-poll readers exceed history.maxInFlightUpdates; the server rejects the extra polls and readers "
        "starve (see N=16 p99), so direct is not run beyond 16."
    )
    parts.append("")
    parts.append("In-process fan-out (no Temporal):")
    micro_rows = [
        [name, f"{v['delivered']:,}", fmt(v["cpu_s"], 3), fmt(v["events_per_cpu_s"], 0)]
        for name, v in report.micro.items()
    ]
    parts.append(table(["case", "records delivered", "CPU s", "events/s per core"], micro_rows))
    parts.append("")
    c = report.catchup
    parts.append(f"Catch-up of {c.get('events', 0):,} events to one new device:")
    catch_rows = [
        [
            "from the workflow (poll Query)",
            fmt(c.get("from_workflow_s", float("nan")), 2),
            f"{c.get('from_workflow_queries')} queries, {c.get('from_workflow_updates')} Update (the live tail "
            f"after), +{fmt(c.get('history_kb_added_by_hub', float('nan')), 1)} KB history",
        ],
        ["from the hub's buffer", fmt(c.get("from_buffer_s", float("nan")), 3), "goal < 1 s"],
        [
            "completed session, new hub, sqlite cache",
            fmt(c.get("from_cache_completed_s", float("nan")), 3),
            f"{c.get('from_cache_temporal_reads')} Temporal reads; goal < 2 s",
        ],
    ]
    if "direct_from_workflow_s" in c:
        catch_rows.append(
            [
                "direct reader (long-poll Updates)",
                fmt(c["direct_from_workflow_s"], 2),
                f"{c['direct_updates']} Updates, +{fmt(c['history_kb_added_by_direct'], 0)} KB history",
            ]
        )
    parts.append(table(["path", "seconds", "notes"], catch_rows))
    return "\n".join(parts)


async def main(quick: bool) -> Report:
    logging.basicConfig(level=logging.ERROR)
    report = Report(quick=quick)
    report.machine = {
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
        "platform": platform.platform(),
    }
    report.session = {
        k: v for k, v in asdict(session_input(quick)).items() if k in ("model", "messages", "publish_linger")
    }
    with tempfile.TemporaryDirectory(prefix="wfwatch-hub-bench-") as name:
        tmp = Path(name)
        print("in-process fan-out...", flush=True)
        report.micro = await micro(tmp, quick)
        async with EmbeddedServer(db_path=tmp / "temporal.db", search_attributes=SEARCH_ATTRIBUTES) as server:
            assert server.pid is not None
            client = await Client.connect(server.address, namespace=server.namespace)
            async with worker_process(server.address, server.namespace, TASK_QUEUE) as worker_pid:
                pids = (server.pid, worker_pid)
                # Warm up (first workflow on a fresh server is slower).
                await run_phase(client, pids, tmp, label="warmup", n=1, how="hub", mode="update", quick=True)
                print("baseline...", flush=True)
                report.fanout.append(
                    await run_phase(client, pids, tmp, label="base", n=0, how="none", mode="", quick=quick)
                )
                for mode in ("update", "query"):
                    print(f"upstream mode {mode}...", flush=True)
                    report.modes.append(
                        await run_phase(
                            client, pids, tmp, label=f"mode-{mode}", n=10, how="hub", mode=mode, quick=quick
                        )
                    )
                for mode in ("update", "query"):
                    print(f"idle session, upstream mode {mode}...", flush=True)
                    report.idle.append(
                        await run_phase(
                            client,
                            pids,
                            tmp,
                            label=f"idle-{mode}",
                            n=10,
                            how="hub",
                            mode=mode,
                            quick=quick,
                            idle=5.0 if quick else 20.0,
                        )
                    )
                for n in (1, 10, 16, 100, 1000):
                    if n == 16 and quick:
                        continue
                    print(f"N={n}...", flush=True)
                    if n == 10:
                        reused = [p for p in report.modes if p.mode == DEFAULT_UPSTREAM_MODE]
                        report.fanout.append(reused[0])
                    else:
                        report.fanout.append(
                            await run_phase(
                                client,
                                pids,
                                tmp,
                                label=f"hub-{n}",
                                n=n,
                                how="hub",
                                mode=DEFAULT_UPSTREAM_MODE,
                                quick=quick,
                            )
                        )
                    if n <= 16:
                        report.fanout.append(
                            await run_phase(
                                client, pids, tmp, label=f"direct-{n}", n=n, how="direct", mode="", quick=quick
                            )
                        )
                print("catch-up...", flush=True)
                report.catchup = await catchup(client, tmp, quick)
    return report


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter sessions, fewer rows")
    args = parser.parse_args()
    report = asyncio.run(main(args.quick))
    print()
    print(render(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(asdict(report), indent=2, default=str))
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    cli()
