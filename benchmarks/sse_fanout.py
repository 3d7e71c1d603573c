"""SSE fan-out of the bridge: N browser-like clients on one streaming session, one server process.

    uv run python benchmarks/sse_fanout.py            # rows: 1, 100, 1000 clients; 2,000 tokens at 200/s
    uv run python benchmarks/sse_fanout.py --quick    # same rows, 400 tokens per turn (< 2 min)
    ... --loop asyncio --http h11                     # compare: without uvloop / httptools

Setup: a private dev server (``EmbeddedServer``), the agent worker in a
subprocess (``_hub_common.worker_process``, so its CPU is not the
bridge's), and the bridge (``BridgeServer`` with its own hub) in *this*
process, so this process's CPU is the server's: uvicorn + the bridge's SSE
responses + the hub's single upstream reader for the session. Like
``wfwatch serve``, it runs on uvloop where installed, uvicorn picks
httptools, and the collector is settled (``settle_gc``) once it is up. The clients run in a
second subprocess (``--client``): plain asyncio sockets speaking HTTP/1.1
and parsing SSE frames — lighter than httpx/aiohttp, so on a 2-core machine
the client side steals as little CPU from the server as possible; its CPU
is reported too.

Per row: a fresh AgentSession idles; N clients connect with ``join=start``
(each gets offset 0 — the "connected" handshake); then one message starts a
turn whose scripted model emits tokens at 200/s, and the session is asked to
close after it, so every stream ends with an ``end`` event. Measured from
the first turn record received to the last:

* **delivered events/s** — SSE record events received by all clients
  together (the publisher coalesces tokens, so one event may hold several);
* **p50/p99/max latency** — for every token event at every client,
  ``receive wall time − TokenDelta.ts`` (the publish time of the event's
  first token: an upper bound for coalesced events), same clock;
* **complete** — clients that got every offset exactly once, in order, then ``end``;
* **CPU** — this process (server) and the client process, in seconds and as
  % of one core over the streaming window; the worker and dev server for context.

Goal (issue 6): p99 < 250 ms with 1,000 clients at 200 tokens/s.

Writes ``benchmarks/results/sse_fanout.json`` (a ``--quick`` run does not
overwrite a full run's results).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "sse_fanout.json"
TASK_QUEUE = "sse-bench"
GOAL_P99_MS = 250.0
TOKENS_PER_SECOND = 200
PROMPT = "stream a long answer"


def raise_fd_limit() -> None:
    """1,000 sockets per process need more than the common 1,024-descriptor default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# --- the client process ----------------------------------------------------------------


class ClientStats:
    def __init__(self) -> None:
        self.first: float = math.inf  # first turn record (offset >= 1) received
        self.last: float = 0.0
        self.delivered = 0
        self.expected = 0
        self.contiguous = True
        self.ended = False
        self.error = ""


async def sse_client(
    host: str,
    port: int,
    path: str,
    stats: ClientStats,
    latencies: list[float],
    connected: asyncio.Event,
    count: list[int],
) -> None:
    """One SSE connection: HTTP/1.1 by hand, chunked decoding, frame parsing."""
    import msgspec

    decode = msgspec.json.decode
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
    except OSError as err:
        stats.error = f"connect: {err}"
        count[0] += 1
        if count[0] == count[1]:
            connected.set()
        return
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    announced = False
    try:
        status = await reader.readline()
        if b" 200 " not in status:
            stats.error = status.decode(errors="replace").strip()
            return
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        pending = b""
        while not stats.ended:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                break
            chunk = (await reader.readexactly(size + 2))[:-2]
            now = time.time()
            frames = (pending + chunk).split(b"\n\n")
            pending = frames.pop()
            for frame in frames:
                if frame.startswith(b"event: end"):
                    stats.ended = True
                    break
                start = frame.find(b"data: ")
                if start < 0 or frame.startswith(b"event:"):
                    continue  # retry / heartbeat / gap / reset
                event = decode(frame[start + 6 :])
                offset = event["offset"]
                if offset != stats.expected:
                    stats.contiguous = False
                stats.expected = offset + 1
                if offset == 0:
                    if not announced:
                        announced = True
                        count[0] += 1
                        if count[0] == count[1]:
                            connected.set()
                    continue
                stats.delivered += 1
                stats.first = min(stats.first, now)
                stats.last = now
                if event.get("kind") == "token" and event.get("ts"):
                    latencies.append(now - event["ts"])
    except (OSError, asyncio.IncompleteReadError, ValueError) as err:
        stats.error = f"{type(err).__name__}: {err}"
    finally:
        if not announced:
            count[0] += 1
            if count[0] == count[1]:
                connected.set()
        writer.close()


async def client_main(url: str, session_id: str, n: int) -> None:
    """Open ``n`` streams; say ``connected`` once all have offset 0; print stats as JSON at the end."""
    raise_fd_limit()
    host, port = url.removeprefix("http://").rsplit(":", 1)
    path = f"/sessions/{session_id}/events?join=start"
    stats = [ClientStats() for _ in range(n)]
    latencies: list[float] = []
    connected = asyncio.Event()
    count = [0, n]
    cpu0 = time.process_time()
    tasks = [asyncio.create_task(sse_client(host, int(port), path, s, latencies, connected, count)) for s in stats]
    await connected.wait()
    print("connected", flush=True)
    cpu1 = time.process_time()
    await asyncio.gather(*tasks)
    cpu2 = time.process_time()
    ok = [s for s in stats if not s.error]
    latencies.sort()
    result = {
        "clients": n,
        "errors": sorted({s.error for s in stats if s.error})[:5],
        "complete": sum(1 for s in ok if s.ended and s.contiguous),
        "delivered": sum(s.delivered for s in stats),
        "first": min((s.first for s in ok), default=0.0),
        "last": max((s.last for s in ok), default=0.0),
        "samples": len(latencies),
        "p50_ms": _pct(latencies, 50) * 1000,
        "p99_ms": _pct(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else math.nan) * 1000,
        "connect_cpu_s": cpu1 - cpu0,
        "stream_cpu_s": cpu2 - cpu1,
    }
    print(json.dumps(result), flush=True)


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# --- the server side ----------------------------------------------------------------------


@dataclass
class Row:
    clients: int
    events: int = 0  # records of the turn (per client)
    tokens: int = 0
    delivered: int = 0
    window_s: float = 0.0
    delivered_per_s: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    samples: int = 0
    complete: int = 0
    connect_s: float = 0.0
    server_cpu_s: float = 0.0
    server_pct: float = 0.0
    client_cpu_s: float = 0.0
    client_pct: float = 0.0
    worker_cpu_s: float = 0.0
    devserver_cpu_s: float = 0.0
    hub_p50_ms: float = math.nan
    hub_p99_ms: float = math.nan
    upstream_updates: int = 0
    upstream_queries: int = 0
    leaked_streams: int = 0
    errors: list[str] | None = None

    @property
    def goal_met(self) -> bool:
        return self.complete == self.clients and self.p99_ms < GOAL_P99_MS and not self.leaked_streams


def model_for(quick: bool) -> Any:
    from wfwatch.agents.shared import ModelSpec

    # Two LLM messages per turn (plan, answer): (reasoning + answer) words each, one token per word.
    words = 190 if quick else 950
    return ModelSpec(tokens_per_second=TOKENS_PER_SECOND, answer_words=words, reasoning_words=10)


async def run_row(client: Any, server: Any, hub: Any, pids: tuple[int, int], n: int, quick: bool) -> Row:
    from _common import process_cpu_seconds
    from _hub_common import cpu_seconds

    from wfwatch.agents.shared import SessionInput
    from wfwatch.agents.workflows import AgentSession
    from wfwatch.hub import Join
    from wfwatch.steering import send_message

    devserver_pid, worker_pid = pids
    row = Row(clients=n)
    spec = SessionInput(title=f"sse-bench-{n}", model=model_for(quick), idle_timeout=0.0)
    handle = await client.start_workflow(
        AgentSession.run, spec, id=f"sse-bench-{n}-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--client",
        server.url,
        handle.id,
        str(n),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    # A device inside the server process: what reaches the hub, before any HTTP.
    probe = await hub.open_device(handle.id, name="probe", join=Join("start"))
    probe_latencies: list[float] = []
    probe_task = asyncio.create_task(consume(probe, probe_latencies))
    started = time.monotonic()
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 180)
        if line.strip() != b"connected":
            raise RuntimeError(f"the client process said {line!r}")
        row.connect_s = time.monotonic() - started
        cpu0 = time.process_time()
        worker0, dev0 = cpu_seconds(worker_pid), process_cpu_seconds(devserver_pid)
        wall0 = time.monotonic()
        await send_message(client, handle.id, PROMPT)
        await handle.signal(AgentSession.close)
        out = await asyncio.wait_for(proc.stdout.readline(), 300)
        wall = time.monotonic() - wall0
        row.server_cpu_s = time.process_time() - cpu0
        row.worker_cpu_s = cpu_seconds(worker_pid) - worker0
        row.devserver_cpu_s = process_cpu_seconds(devserver_pid) - dev0
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result = json.loads(out)
    await handle.result()
    await asyncio.wait_for(probe_task, 30)
    probe_latencies.sort()
    row.hub_p50_ms, row.hub_p99_ms = _pct(probe_latencies, 50) * 1000, _pct(probe_latencies, 99) * 1000
    stats = hub.upstream_stats(handle.id)
    row.upstream_updates, row.upstream_queries = stats.updates, stats.queries
    row.events = (result["delivered"] // n) if n else 0
    row.delivered = result["delivered"]
    row.window_s = max(result["last"] - result["first"], 1e-9)
    row.delivered_per_s = row.delivered / row.window_s
    row.p50_ms, row.p99_ms, row.max_ms = result["p50_ms"], result["p99_ms"], result["max_ms"]
    row.samples = result["samples"] // max(n, 1)
    row.complete = result["complete"]
    row.client_cpu_s = result["stream_cpu_s"]
    row.server_pct = 100 * row.server_cpu_s / wall
    row.client_pct = 100 * row.client_cpu_s / wall
    row.errors = result["errors"] or None
    row.tokens = turn_tokens(spec.model)
    for _ in range(100):  # every closed connection must have released its hub device
        if not server.bridge.streams:
            break
        await asyncio.sleep(0.05)
    row.leaked_streams = len(server.bridge.streams)
    return row


async def consume(device: Any, latencies: list[float]) -> None:
    from wfwatch.hub import Delivery

    async for event in device:
        if isinstance(event, Delivery):
            now = time.time()
            for record in event.records:
                ts = getattr(record.item, "ts", 0.0)
                if record.offset > 0 and type(record.item).__name__ == "TokenDelta" and ts:
                    latencies.append(now - ts)
    await device.close()


def turn_tokens(model: Any) -> int:
    """Tokens the scripted model emits in one turn (a plan and an answer message)."""
    from wfwatch.agents.model import scripted_texts, tokenize

    texts = [t for role in ("planner", "writer") for t in scripted_texts(model, PROMPT, role)]
    return sum(len(tokenize(text)) for text in texts)


def render(rows: list[Row]) -> str:
    headers = [
        "clients",
        "events/client",
        "delivered ev/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "hub p50/p99 ms",
        "complete",
        "connect s",
        "server CPU s (%core)",
        "client CPU s (%core)",
        "worker CPU s",
        "devserver CPU s",
        "goal",
    ]
    body = [
        [
            f"{r.clients:,}",
            f"{r.events:,}",
            f"{r.delivered_per_s:,.0f}",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            f"{r.max_ms:.0f}",
            f"{r.hub_p50_ms:.0f}/{r.hub_p99_ms:.0f}",
            f"{r.complete}/{r.clients}",
            f"{r.connect_s:.1f}",
            f"{r.server_cpu_s:.2f} ({r.server_pct:.0f}%)",
            f"{r.client_cpu_s:.2f} ({r.client_pct:.0f}%)",
            f"{r.worker_cpu_s:.2f}",
            f"{r.devserver_cpu_s:.2f}",
            "met" if r.goal_met else "MISSED",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join(lines)


def write_json(path: Path, quick: bool, meta: dict[str, Any], rows: list[Row]) -> Path | None:
    if quick and path.exists():
        with contextlib.suppress(OSError, ValueError):
            if not json.loads(path.read_text()).get("quick", False):
                return None  # keep the full run's results
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        **meta,
        "quick": quick,
        "goal": {"p99_ms": GOAL_P99_MS, "clients": 1000, "tokens_per_second": TOKENS_PER_SECOND},
        "rows": [{**asdict(r), "goal_met": r.goal_met} for r in rows],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    path.write_text(text.replace("NaN", "null") + "\n")
    return path


async def main(quick: bool, counts: list[int], http: Literal["auto", "h11", "httptools"] = "auto") -> int:
    import logging

    from temporalio.client import Client

    sys.path.insert(0, str(HERE))
    from _hub_common import worker_process

    from wfwatch.agents.shared import SEARCH_ATTRIBUTES
    from wfwatch.bridge.server import BridgeServer, settle_gc
    from wfwatch.hub import Hub
    from wfwatch.temporal.server import EmbeddedServer

    logging.basicConfig(level=logging.ERROR)
    raise_fd_limit()
    load_at_start = os.getloadavg()  # a 2-core box shared with others: say how busy it was
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"event loop: {loop_name}; HTTP: {http}", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wfwatch-sse-bench-") as name:
        tmp = Path(name)
        async with EmbeddedServer(db_path=tmp / "temporal.db", search_attributes=SEARCH_ATTRIBUTES) as devserver:
            assert devserver.pid is not None
            client = await Client.connect(devserver.address, namespace=devserver.namespace)
            async with (
                worker_process(devserver.address, devserver.namespace, TASK_QUEUE) as worker_pid,
                Hub(client, state_dir=tmp / "state", cache_dir=tmp / "cache", grace=1.0) as hub,
                BridgeServer(client, hub, port=0, max_streams=5000, http=http) as server,
            ):
                pids = (devserver.pid, worker_pid)
                settle_gc()  # as `wfwatch serve` does once it is up
                print(f"bridge at {server.url}; warming up...", flush=True)
                await run_row(client, server, hub, pids, 1, True)  # the first workflow on a fresh server is slow
                for n in counts:
                    print(f"{n} clients...", flush=True)
                    rows.append(await run_row(client, server, hub, pids, n, quick))
                    print(render(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(render(rows))
    tokens = rows[0].tokens if rows else 0
    print(
        f"\nOne turn of ~{tokens:,} tokens at {TOKENS_PER_SECOND}/s; latency = receive − TokenDelta.ts "
        f"(upper bound for coalesced events). Goal: p99 < {GOAL_P99_MS:.0f} ms at 1,000 clients."
    )
    meta = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "server": {"event_loop": loop_name, "http": http, "load_average": [load_at_start, os.getloadavg()]},
        "tokens_per_turn": tokens,
        "p99_spread_ms": statistics.pstdev([r.p99_ms for r in rows]) if len(rows) > 1 else 0.0,
    }
    written = write_json(RESULTS, quick, meta, rows)
    if written is not None:
        print(f"results: {written}")
    big = [r for r in rows if r.clients >= 1000]
    return 0 if all(r.complete == r.clients for r in rows) and all(r.goal_met for r in big) else 1


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="400-token turns (a smoke run)")
    parser.add_argument("--clients", default="1,100,1000", help="comma-separated client counts per row")
    parser.add_argument("--client", nargs=3, metavar=("URL", "SESSION", "N"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop (auto: as `wfwatch serve`)"
    )
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto", help="uvicorn's HTTP protocol")
    args = parser.parse_args()
    if args.client:
        url, session_id, n = args.client
        asyncio.run(client_main(url, session_id, int(n)))
        return
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    from wfwatch.bridge.server import event_loop_factory

    factory = event_loop_factory() if args.loop == "auto" else None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        code = runner.run(main(args.quick, counts, args.http))
    sys.stdout.flush()
    os._exit(code)  # see wfwatch.cli.entry: a live temporalio client can crash at interpreter exit


if __name__ == "__main__":
    cli()
