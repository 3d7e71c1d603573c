"""A fleet of ``wfwatch serve`` replicas behind HAProxy: round-robin vs hashing on the session id.

    uv run python benchmarks/fleet.py            # 10 sessions x 50 clients, ~800 tokens per turn at 100/s
    uv run python benchmarks/fleet.py --quick    # 4 sessions x 25 clients, ~200 tokens per turn (~2 min)

Setup, all on loopback: a private dev server, the agent worker in a
subprocess, three replica processes (``python -m wfwatch.bridge``, each with
its own hub), HAProxy on the configuration :mod:`wfwatch.bridge.haproxy`
writes (the one deploy/haproxy/ ships) with ``balance roundrobin`` or
``balance uri depth 2 path-only`` + ``hash-type consistent``, in front of
the first 1 or 3 replicas. The clients run in a subprocess (the raw-socket
SSE client of ``sse_fanout.py``), all through HAProxy, ``join=start``.

Per row, fresh sessions: every client connects (offset 0), then each
session gets one message and is asked to close after it. Measured:

* **readers/session**: replicas that ran an upstream reader for the
  session, from each replica's ``/stats`` (sampled every 0.2 s);
* **Updates/session**: Temporal Updates (long polls) those readers made,
  summed over replicas — what the workflow's history pays for;
* **delivered events/s**, **p50/p99 latency** (receive − ``TokenDelta.ts``),
  **complete** (every offset once, in order, then ``end``), as in sse_fanout.

Writes ``benchmarks/results/fleet.json`` (a ``--quick`` run does not overwrite a full run's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "fleet.json"
TASK_QUEUE = "fleet-bench"
TOKENS_PER_SECOND = 100
PROMPT = "stream a long answer"
READY = re.compile(r"wfwatch serve: (http://\S+?)/?[ ;]")
#: ``direct``: the clients talk to one replica, no balancer (what HAProxy itself costs).
ROWS = (("direct", 1), ("roundrobin", 1), ("hash", 1), ("roundrobin", 3), ("hash", 3))


# --- the client process: many SSE streams over several sessions ------------------------------


async def client_main(url: str, session_ids: list[str], per_session: int) -> None:
    sys.path.insert(0, str(HERE))
    from sse_fanout import ClientStats, _pct, raise_fd_limit, sse_client

    raise_fd_limit()
    host, port = url.removeprefix("http://").rsplit(":", 1)
    n = len(session_ids) * per_session
    stats = [ClientStats() for _ in range(n)]
    latencies: list[float] = []
    connected = asyncio.Event()
    count = [0, n]
    paths = [f"/sessions/{s}/events?join=start" for s in session_ids for _ in range(per_session)]
    tasks = [
        asyncio.create_task(sse_client(host, int(port), path, s, latencies, connected, count))
        for path, s in zip(paths, stats, strict=True)
    ]
    await connected.wait()
    print("connected", flush=True)
    cpu0 = time.process_time()
    await asyncio.gather(*tasks)
    latencies.sort()
    ok = [s for s in stats if not s.error]
    print(
        json.dumps(
            {
                "clients": n,
                "errors": sorted({s.error for s in stats if s.error})[:5],
                "complete": sum(1 for s in ok if s.ended and s.contiguous),
                "delivered": sum(s.delivered for s in stats),
                "first": min((s.first for s in ok), default=0.0),
                "last": max((s.last for s in ok), default=0.0),
                "p50_ms": _pct(latencies, 50) * 1000,
                "p99_ms": _pct(latencies, 99) * 1000,
                "client_cpu_s": time.process_time() - cpu0,
            }
        ),
        flush=True,
    )


# --- replicas -------------------------------------------------------------------------------


class Replica:
    """``python -m wfwatch.bridge`` on a free loopback port, its output in files."""

    def __init__(self, address: str, namespace: str, home: Path, replica_id: str) -> None:
        self.args = [
            sys.executable,
            "-m",
            "wfwatch.bridge",
            "--address",
            address,
            "--namespace",
            namespace,
            "--port",
            "0",
            "--replica-id",
            replica_id,
        ]
        self.home = home
        self.replica_id = replica_id
        self.url = ""
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        out_path = self.home / "stdout"
        with open(out_path, "wb") as out, open(self.home / "stderr", "wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *self.args, stdout=out, stderr=err, env={**os.environ, "WFWATCH_HOME": str(self.home)}
            )
        for _ in range(600):
            if match := READY.search(out_path.read_text(errors="replace")):
                self.url = match.group(1)
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"replica {self.replica_id} did not start: {(self.home / 'stderr').read_text()[-1000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@dataclass
class Row:
    routing: str
    replicas: int
    sessions: int
    clients: int
    readers_per_session: float = 0.0
    max_readers_per_session: int = 0
    updates_per_session: float = 0.0
    events_per_client: int = 0
    delivered: int = 0
    window_s: float = 0.0
    delivered_per_s: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    complete: int = 0
    client_cpu_s: float = 0.0
    #: CPU seconds of the row's replicas together, over the whole row (connect + stream).
    replicas_cpu_s: float = 0.0
    #: The largest replica's resident memory at the end of the row.
    max_replica_rss_mb: float = 0.0
    errors: list[str] = field(default_factory=list)


class Sampler:
    """Polls every replica's ``/stats``: which replica read which session, and its Update count."""

    def __init__(self, replicas: list[Replica], sessions: set[str]) -> None:
        self.replicas = replicas
        self.sessions = sessions
        self.readers: dict[str, set[str]] = {s: set() for s in sessions}
        #: (replica, session, epoch) -> the most Updates seen (a feed's counter only grows).
        self.updates: dict[tuple[str, str, str], int] = {}

    async def sample(self, http: Any) -> None:
        for replica in self.replicas:
            with contextlib.suppress(Exception):
                stats = (await http.get(f"{replica.url}/stats")).json()
                for row in stats["sessions"]:
                    if row["session_id"] not in self.sessions:
                        continue
                    if row["reader_running"] or row["updates"]:
                        self.readers[row["session_id"]].add(stats["replica"])
                    key = (stats["replica"], row["session_id"], row["epoch"])
                    self.updates[key] = max(self.updates.get(key, 0), row["updates"])

    async def run(self, http: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sample(http)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
        await self.sample(http)

    def updates_of(self, session: str) -> int:
        return sum(n for (_, s, _), n in self.updates.items() if s == session)


async def run_row(
    client: Any,
    replicas: list[Replica],
    tmp: Path,
    routing: str,
    count: int,
    sessions: int,
    per_session: int,
    quick: bool,
) -> Row:
    import httpx
    from _hub_common import cpu_seconds

    from wfwatch.agents.shared import ModelSpec, SessionInput
    from wfwatch.agents.workflows import AgentSession
    from wfwatch.bridge.haproxy import HAProxy, free_port, render_config
    from wfwatch.steering import send_message

    row = Row(routing=routing, replicas=count, sessions=sessions, clients=sessions * per_session)
    words = 90 if quick else 390
    model = ModelSpec(tokens_per_second=TOKENS_PER_SECOND, answer_words=words, reasoning_words=10)
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                AgentSession.run,
                SessionInput(title=f"fleet-{i}", model=model, idle_timeout=0.0),
                id=f"fleet-bench-{routing}-{count}-{i}-{uuid.uuid4().hex[:6]}",
                task_queue=TASK_QUEUE,
            )
            for i in range(sessions)
        )
    )
    ids = [h.id for h in handles]
    cpu0 = sum(cpu_seconds(r.pid) for r in replicas[:count])
    port = free_port()
    config = render_config(
        [r.url.removeprefix("http://") for r in replicas[:count]],
        bind=f"127.0.0.1:{port}",
        routing="hash" if routing == "direct" else routing,  # type: ignore[arg-type]
        log=False,
    )
    async with (
        HAProxy(config, tmp / f"haproxy-{routing}-{count}", port=port) as balancer,
        httpx.AsyncClient(timeout=10.0) as http,
    ):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--client",
            replicas[0].url if routing == "direct" else balancer.url,
            ",".join(ids),
            str(per_session),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        sampler = Sampler(replicas[:count], set(ids))
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(http, stop))
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 180)
            if line.strip() != b"connected":
                raise RuntimeError(f"the client process said {line!r}")
            for handle in handles:
                await send_message(client, handle.id, PROMPT)
                await handle.signal(AgentSession.close)
            out = await asyncio.wait_for(proc.stdout.readline(), 600)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            stop.set()
            await sampling
    result = json.loads(out)
    row.replicas_cpu_s = sum(cpu_seconds(r.pid) for r in replicas[:count]) - cpu0
    row.max_replica_rss_mb = max(rss_mb(r.pid) for r in replicas[:count])
    await asyncio.gather(*(h.result() for h in handles))
    readers = [len(sampler.readers[s]) for s in ids]
    row.readers_per_session = sum(readers) / len(readers)
    row.max_readers_per_session = max(readers)
    row.updates_per_session = sum(sampler.updates_of(s) for s in ids) / len(ids)
    row.delivered = result["delivered"]
    row.events_per_client = row.delivered // max(row.clients, 1)
    row.window_s = max(result["last"] - result["first"], 1e-9)
    row.delivered_per_s = row.delivered / row.window_s
    row.p50_ms, row.p99_ms = result["p50_ms"], result["p99_ms"]
    row.complete = result["complete"]
    row.client_cpu_s = result["client_cpu_s"]
    row.errors = result["errors"]
    return row


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def render(rows: list[Row]) -> str:
    headers = [
        "routing",
        "replicas",
        "sessions x clients",
        "readers/session (max)",
        "Updates/session",
        "events/client",
        "delivered ev/s",
        "p50 ms",
        "p99 ms",
        "complete",
        "replicas CPU s",
        "max RSS MB",
    ]
    body = [
        [
            r.routing,
            str(r.replicas),
            f"{r.sessions} x {r.clients // max(r.sessions, 1)}",
            f"{r.readers_per_session:.1f} ({r.max_readers_per_session})",
            f"{r.updates_per_session:.0f}",
            f"{r.events_per_client:,}",
            f"{r.delivered_per_s:,.0f}",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            f"{r.complete}/{r.clients}",
            f"{r.replicas_cpu_s:.1f}",
            f"{r.max_replica_rss_mb:.0f}",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join(lines)


def write_json(quick: bool, meta: dict[str, Any], rows: list[Row]) -> Path | None:
    if quick and RESULTS.exists():
        with contextlib.suppress(OSError, ValueError):
            if not json.loads(RESULTS.read_text()).get("quick", False):
                return None  # keep the full run's results
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    doc = {**meta, "quick": quick, "rows": [asdict(r) for r in rows]}
    RESULTS.write_text(json.dumps(doc, indent=2, default=str).replace("NaN", "null") + "\n")
    return RESULTS


async def main(quick: bool, sessions: int, per_session: int) -> int:
    import logging

    from temporalio.client import Client

    sys.path.insert(0, str(HERE))
    from _hub_common import worker_process

    from wfwatch.agents.shared import SEARCH_ATTRIBUTES
    from wfwatch.bridge.haproxy import find_haproxy
    from wfwatch.temporal.server import EmbeddedServer

    logging.basicConfig(level=logging.ERROR)
    haproxy = find_haproxy()
    if haproxy is None:
        print("haproxy is not installed (apt-get install -y haproxy)", file=sys.stderr)
        return 2
    load_at_start = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wfwatch-fleet-bench-") as name:
        tmp = Path(name)
        async with EmbeddedServer(db_path=tmp / "temporal.db", search_attributes=SEARCH_ATTRIBUTES) as devserver:
            client = await Client.connect(devserver.address, namespace=devserver.namespace)
            replicas = [Replica(devserver.address, devserver.namespace, tmp / f"r{i}", f"r{i}") for i in (1, 2, 3)]
            async with worker_process(devserver.address, devserver.namespace, TASK_QUEUE):
                try:
                    await asyncio.gather(*(r.start() for r in replicas))
                    print(f"replicas at {', '.join(r.url for r in replicas)}; warming up...", flush=True)
                    await run_row(client, replicas, tmp, "hash", 1, 1, 1, True)
                    for routing, count in ROWS:
                        print(f"{routing}, {count} replica(s)...", flush=True)
                        rows.append(await run_row(client, replicas, tmp, routing, count, sessions, per_session, quick))
                        print(render(rows[-1:]).splitlines()[-1], flush=True)
                finally:
                    await asyncio.gather(*(r.stop() for r in replicas))
    print()
    print(render(rows))
    print(
        f"\n{sessions} sessions x {per_session} clients through HAProxy, one turn per session at "
        f"{TOKENS_PER_SECOND} tokens/s; readers and Updates from the replicas' /stats; "
        "latency = receive - TokenDelta.ts.\n"
        f"Load average at start / end: {load_at_start[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(a shared box: latencies are relative, compare rows of one run)."
    )
    meta = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "haproxy": shutil.which("haproxy"),
        "load_average": [load_at_start, os.getloadavg()],
        "tokens_per_second": TOKENS_PER_SECOND,
    }
    written = write_json(quick, meta, rows)
    if written is not None:
        print(f"results: {written}")
    hashed = [r for r in rows if r.routing == "hash"]
    ok = all(r.complete == r.clients for r in rows) and all(r.max_readers_per_session == 1 for r in hashed)
    return 0 if ok else 1


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer sessions and clients, shorter turns")
    parser.add_argument("--sessions", type=int, default=None, help="sessions per row (default 10; quick 4)")
    parser.add_argument("--clients", type=int, default=None, help="clients per session (default 50; quick 25)")
    parser.add_argument("--client", nargs=3, metavar=("URL", "SESSIONS", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, sessions, n = args.client
        asyncio.run(client_main(url, sessions.split(","), int(n)))
        return
    sessions = args.sessions or (4 if args.quick else 10)
    per_session = args.clients or (25 if args.quick else 50)
    from wfwatch.bridge.server import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        code = runner.run(main(args.quick, sessions, per_session))
    sys.stdout.flush()
    os._exit(code)  # a live temporalio client can crash at interpreter exit


if __name__ == "__main__":
    cli()
