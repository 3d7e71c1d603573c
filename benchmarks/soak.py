"""Soak: many sessions, many hub devices, for minutes; memory must stay flat, nothing lost.

    uv run python benchmarks/soak.py [--quick] [--minutes 10] [--sessions 50] [--devices 10]

Starts a private dev server and a worker subprocess, then ``--sessions``
agent sessions that keep making up turns (a slow scripted model, so the
load is steady rather than a burst) and one hub in this process with
``--devices`` devices on every session, all from offset 0. Every
``--sample`` seconds it records the resident memory (RSS) of this process
(the hub and its devices), the dev server (its process group) and the
worker. After ``--minutes`` every session is asked to close; each device
must then reach its end-of-stream, and the truth is read back from Temporal
(``read_all`` per session once it closed): a device is complete only when
it received every offset ``0..end-1`` once, its records hash the same as
every other device's on that session, and the part Temporal still holds
hashes the same as the truth. ``lost`` counts offsets a device never
received.

The sessions run at a steady state, as long-lived sessions do: each one
continues-as-new every ``--rollover-events`` history events (default 1,000,
about every 2 minutes at the soak's pace) carrying ``--carry-log-bytes`` of its log (default
32 KB), and the hub keeps ``--warm`` records a session in memory (default
256). Every process then holds a bounded amount of session data, so memory
that still grows is a leak, not data. (With the shipped defaults, 4,000
events and 1 MB carried, a 10-minute session never sheds any of its log:
the worker's memory grows with it, about 1.3 KB per retained item, because
Workflow Streams keeps each item as a protobuf ``Payload``.) The offsets a
rollover drops are read back as a leading gap; the reference device on each
session (``d0``) writes a hash per record to disk (not to memory: this
process's memory is measured), and its part from the truth's first offset
on is what is compared with the truth.

``--devices 0`` is the baseline: the same sessions with nothing reading
them, so the server's and worker's own growth can be told from what the
hub's readers add.

Memory is judged for **every** sampled process, not only the hub: a least-
squares line is fitted to each half of the run and a process is "flat" when
its second-half slope is at most ``--slope-limit`` MB/min (default 1, i.e.
60 MB an hour). A warming cache that plateaus in the first half has a steep
first half and a flat second half, and passes; a steady slope fails. A
process still growing in the second half but at a quarter of the first
half's rate or less is marked "slowing" (maybe a cache still warming, maybe
not: a longer run tells) and fails all the same. Runs shorter than
``MIN_JUDGED_MINUTES`` are too short to tell warm-up from growth: their
slopes are reported but memory is not judged. The table and the JSON give
first/last/max RSS, both slopes and the second slope's standard error per
process.

Upstream errors (``upstream_errors``) are the hub's own count of failed
upstream reads (``UpstreamStats.errors``: a reader that raised and was
restarted, a failed catch-up query or cache write). The ones seen so far
all come from closing: once a session closes, the hub's reader reads the
closed run's tail by Query, a Query on a closed workflow makes the worker
replay that run, and with every session closing at once the one worker
cannot answer them all within the Query timeout (10 s); a reader that gets
no answer within its 30 s outage tolerance fails, and the hub restarts it,
which then finishes. Upstream reads failing that way ("has not
answered") during the closing phase are ``upstream_errors_while_closing``:
reported, not fatal (delivery is checked against Temporal all the same);
any other upstream error is ``upstream_errors_unexplained`` and fails the
run. The last
message of each session with errors is in ``upstream_error_sessions``, and
every warning wfwatch logged, by phase and shape, in ``wfwatch_warnings``.

Writes ``benchmarks/results/soak.json``. ``--quick`` is 1 minute, 5
sessions x 3 devices, sampled every 3 s.

Every loop is bounded: the run stops at ``--minutes``, the drain after
closing is capped at ``--drain`` seconds and reading the truth back at
``--drain`` (at least 120) seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hub_common import worker_process

from wfwatch import events
from wfwatch.agents.shared import SEARCH_ATTRIBUTES, ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import Delivery, EndOfStream, GapNotice, Hub, Join
from wfwatch.stream.reader import read_all
from wfwatch.temporal.server import EmbeddedServer

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
TASK_QUEUE = "soak"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PROCESSES = ("hub_mb", "server_mb", "worker_mb")
#: Shorter runs are mostly warm-up: their slopes are shown, memory is not judged.
MIN_JUDGED_MINUTES = 5.0


def rss_mb(pid: int, *, whole_group: bool = False) -> float:
    """Resident memory of ``pid`` (and, with ``whole_group``, of every process in its group), MB."""
    pids = _group(pid) if whole_group else [pid]
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
    return total / 1e6


def rss_parts_mb(pid: int) -> tuple[float, float]:
    """``pid``'s group's resident memory split into anonymous (heap) and file-backed/shared, MB.

    A growing server is either growing its heap or holding more of its files
    (an mmapped or cached SQLite db) in memory; the two mean different things.
    """
    anon = other = 0
    for p in _group(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name == "RssAnon":
                        anon += int(value.split()[0])
                    elif name in ("RssFile", "RssShmem"):
                        other += int(value.split()[0])
        except (OSError, ValueError):
            continue
    return anon / 1e3, other / 1e3


def _group(pid: int) -> list[int]:
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
    return pids


def files_mb(base: Path) -> float:
    """Size of the SQLite db at ``base`` with its -wal and -shm files, MB."""
    total = 0
    for path in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
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
    #: The reference device of a session writes ``offset hash`` lines here (on disk, not in memory).
    reference: TextIO | None = None

    def take(self, record: events.Record) -> None:
        offset = record.offset
        if offset < self.next_offset:
            self.duplicates += 1
            return
        if offset > self.next_offset:
            self.holes += offset - self.next_offset
        self.next_offset = offset + 1
        self.records += 1
        self.digest.update(record_key(record))
        if self.reference is not None:
            self.reference.write(f"{offset} {record_hash(record)}\n")


def reference_digest(path: Path, base: int) -> str:
    """The reference device's digest from offset ``base`` on (what Temporal still holds)."""
    hashes = []
    with path.open() as f:
        for line in f:
            offset, digest = line.split()
            if int(offset) >= base:
                hashes.append(digest)
    return suffix_digest(hashes)


def record_key(record: events.Record) -> bytes:
    """What a device's digest is made of: the offset and the whole item (its repr is every field)."""
    return f"{record.offset}:{record.item!r};".encode()


def record_hash(record: events.Record) -> str:
    """One line of the reference device's file: the record's key, hashed."""
    return hashlib.sha1(record_key(record)).hexdigest()


def suffix_digest(hashes: list[str]) -> str:
    """What the truth and the reference device are compared by, from the truth's first offset on."""
    return hashlib.sha256("".join(hashes).encode()).hexdigest()


@dataclass
class Truth:
    """One session as Temporal holds it once closed (``read_all``): the reference for its devices."""

    records: int
    end: int | None
    status: str | None
    #: Gaps other than the leading one a rollover's truncation leaves.
    gaps: int
    digest: str
    #: First offset Temporal still holds (offsets below it were dropped at a rollover).
    base: int = 0
    #: Why the truth could not be read ("" when it was); such a session's devices count as incomplete.
    error: str = ""


async def read_truth(client: Client, workflow_id: str, attempts: int = 2) -> Truth:
    """``read_all`` of a closed session, retried once: right after many sessions close, the worker may
    still be replaying a backlog of closing Queries (see ``upstream_errors`` in the module doc)."""
    for attempt in range(1, attempts + 1):
        try:
            records, gaps, end = await read_all(client, workflow_id, timeout=60)
            break
        except Exception as err:  # counted and reported: an unreadable truth fails the run, it does not hide it
            if attempt == attempts:
                return Truth(0, None, None, 0, "", error=f"{type(err).__name__}: {err}")
            await asyncio.sleep(5.0)
    base = records[0].offset if records else (end.next_offset if end is not None else 0)
    # A rollover's truncation shows as one gap from 0; any other gap is a hole in Temporal's log.
    other_gaps = [g for g in gaps if not (g.start == 0 and g.end == base)]
    return Truth(
        records=len(records),
        end=end.next_offset if end is not None else None,
        status=end.status if end is not None else None,
        gaps=len(other_gaps),
        digest=suffix_digest([record_hash(r) for r in records]),
        base=base,
        error="" if end is not None else "read_all() did not reach the end within 60 s",
    )


async def read_truths(client: Client, ids: list[str], budget: float) -> dict[str, Truth]:
    """Every session's truth, four reads at a time, within ``budget`` seconds (the rest: an error each)."""
    gate = asyncio.Semaphore(4)

    async def one(workflow_id: str) -> Truth:
        async with gate:
            return await read_truth(client, workflow_id)

    tasks = {workflow_id: asyncio.create_task(one(workflow_id)) for workflow_id in ids}
    await asyncio.wait(tasks.values(), timeout=budget)
    truths: dict[str, Truth] = {}
    for workflow_id, task in tasks.items():
        if task.done():
            truths[workflow_id] = task.result()
        else:
            task.cancel()
            truths[workflow_id] = Truth(0, None, None, 0, "", error=f"not read back within {budget:g} s")
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    return truths


class WarningLog(logging.Handler):
    """Counts wfwatch's warnings and errors by phase and message shape, so upstream errors can be explained."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()
        #: "streaming", then "closing" once every session was asked to close, then "reading back".
        self.phase = "streaming"
        #: Upstream readers the hub restarted after the server "has not answered" (the outage tolerance), by phase.
        self.upstream_failures: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "wfwatch.hub.feed" and message.startswith("upstream of") and "has not answered" in message:
            self.upstream_failures[self.phase] += 1
        # Session ids vary; the shape says what happened.
        shape = " ".join("<id>" if w.startswith(("soak-", "'soak-")) else w for w in message.split())
        self.counts[f"[{self.phase}] {record.name}: {shape}"[:300]] += 1


async def follow(hub: Hub, device: DeviceCount) -> None:
    try:
        opened = await hub.open_device(device.session, name=device.name, join=Join("start"))
        async for event in opened:
            if isinstance(event, Delivery):
                for record in event.records:
                    device.take(record)
            elif isinstance(event, GapNotice):
                device.gaps += 1
                device.next_offset = event.end
            elif isinstance(event, EndOfStream):
                device.end, device.end_offset = event.status, event.next_offset
                return
    except Exception as err:  # counted: the soak reports errors instead of stopping at the first
        device.error = f"{type(err).__name__}: {err}"


@dataclass
class SteadyState:
    """What bounds the session data each process holds (see the module doc)."""

    rollover_events: int
    carry_log_bytes: int
    warm: int
    #: The dev server's history cache, in runs (``history.cacheMaxSize``; 0: its default, 512).
    server_cache: int = 0


async def soak(
    minutes: float,
    sessions: int,
    devices: int,
    sample: float,
    drain: float,
    warnings: WarningLog,
    steady: SteadyState,
) -> dict[str, Any]:
    model = ModelSpec(tokens_per_second=6, answer_words=24, reasoning_words=4)
    spec = SessionInput(
        title="soak",
        model=model,
        auto_turns=1_000_000,
        pause_between_turns=2.0,
        publish_linger=0.25,
        rollover_history_events=steady.rollover_events,
        carry_log_bytes=steady.carry_log_bytes,
    )
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="wfwatch-soak-") as tmp:
        root = Path(tmp)
        dynamic_config = {"history.cacheMaxSize": steady.server_cache} if steady.server_cache else None
        async with EmbeddedServer(
            db_path=root / "temporal.db", search_attributes=SEARCH_ATTRIBUTES, dynamic_config=dynamic_config
        ) as server:
            assert server.pid is not None
            client = await Client.connect(server.address, namespace=server.namespace)
            async with worker_process(server.address, server.namespace, TASK_QUEUE) as worker_pid:
                ids = [f"soak-{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(sessions)]
                for workflow_id in ids:
                    await client.start_workflow(AgentSession.run, spec, id=workflow_id, task_queue=TASK_QUEUE)
                references = root / "reference"
                references.mkdir()
                async with (
                    Hub(client, state_dir=root / "state", cache_dir=root / "cache", warm=steady.warm) as hub,
                    contextlib.AsyncExitStack() as files,
                ):
                    counts = [
                        DeviceCount(
                            s, f"d{d}", reference=files.enter_context((references / s).open("w")) if d == 0 else None
                        )
                        for s in ids
                        for d in range(devices)
                    ]
                    tasks = [asyncio.create_task(follow(hub, c)) for c in counts]
                    began = time.monotonic()
                    stop_at = began + minutes * 60
                    print(
                        f"{sessions} sessions x {devices} devices for {minutes:g} min; sampling every {sample:g} s; "
                        f"a rollover every {steady.rollover_events:,} history events carrying "
                        f"{steady.carry_log_bytes:,} bytes of log; hub warm window {steady.warm} records; "
                        f"server history cache {steady.server_cache or 'default (512)'} runs"
                    )
                    print(
                        f"{'t s':>6} {'hub MB':>8} {'server MB':>10} {'worker MB':>10} {'records':>10}"
                        f"  {'server heap':>11} {'server file':>11} {'db MB':>7}"
                    )
                    while True:
                        now = time.monotonic()
                        server_anon, server_files = rss_parts_mb(server.pid)
                        row = {
                            "t": round(now - began, 1),
                            "hub_mb": round(rss_mb(os.getpid()), 1),
                            "server_mb": round(rss_mb(server.pid, whole_group=True), 1),
                            "worker_mb": round(rss_mb(worker_pid), 1),
                            "records": sum(c.records for c in counts),
                            # Where the server's memory is: heap, or its files held in memory.
                            "server_anon_mb": round(server_anon, 1),
                            "server_file_mb": round(server_files, 1),
                            "db_mb": round(files_mb(root / "temporal.db"), 1),
                        }
                        samples.append(row)
                        print(
                            f"{row['t']:>6.0f} {row['hub_mb']:>8.1f} {row['server_mb']:>10.1f} "
                            f"{row['worker_mb']:>10.1f} {row['records']:>10,}"
                            f"  {row['server_anon_mb']:>11.1f} {row['server_file_mb']:>11.1f} {row['db_mb']:>7.1f}"
                        )
                        if now >= stop_at:
                            break
                        await asyncio.sleep(min(sample, max(0.0, stop_at - time.monotonic())))
                    print("closing every session; waiting for every device's end-of-stream ...")
                    warnings.phase = "closing"
                    for workflow_id in ids:
                        await client.get_workflow_handle(workflow_id).signal(AgentSession.close)
                    drain_began = time.monotonic()
                    if tasks:
                        _, pending = await asyncio.wait(tasks, timeout=drain)
                    else:  # the baseline: no devices, so wait for the sessions themselves
                        pending = set()
                        results = (client.get_workflow_handle(i).result() for i in ids)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(asyncio.gather(*results, return_exceptions=True), drain)
                    drained_in = time.monotonic() - drain_began
                    print(f"drained in {drained_in:.1f} s ({len(pending)} devices still open)")
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    upstream = [hub.upstream_stats(i) for i in ids]
                # The truth, read back after the hub is gone (the worker still runs: closed runs answer Queries).
                print("reading every session back from Temporal (the truth) ...")
                warnings.phase = "reading back"
                truth_began = time.monotonic()
                truths = await read_truths(client, ids, budget=max(drain, 120.0))
                print(
                    f"read back in {time.monotonic() - truth_began:.1f} s "
                    f"({sum(1 for t in truths.values() if t.error)} sessions could not be read)"
                )
                runs = await count_runs(client, ids)
                matches = {
                    s: t.end is not None and (not devices or reference_digest(references / s, t.base) == t.digest)
                    for s, t in truths.items()
                }
    result = summarize(
        minutes, sessions, devices, samples, counts, upstream, truths, matches, warnings, drained_in, len(pending)
    )
    result["steady_state"] = dataclasses.asdict(steady)
    result["runs_per_session"] = {
        "min": min(runs.values(), default=0),
        "median": statistics.median(runs.values()) if runs else 0,
        "max": max(runs.values(), default=0),
    }
    return result


async def count_runs(client: Client, ids: list[str]) -> dict[str, int]:
    """Runs of each session (1 + its rollovers), from visibility: every run of an id is listed."""
    runs: dict[str, int] = {}
    async for execution in client.list_workflows("WorkflowType = 'AgentSession'"):
        runs[execution.id] = runs.get(execution.id, 0) + 1
    return {i: runs.get(i, 0) for i in ids}


def slope_mb_per_min(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope of ``(seconds, MB)`` points in MB/min, and its standard error."""
    n = len(points)
    if n < 3:
        return 0.0, float("inf")
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0, float("inf")
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
    residual = sum((v - mean_v - slope * (t - mean_t)) ** 2 for t, v in points) / (n - 2)
    return slope * 60, (residual / spread) ** 0.5 * 60


def judge_memory(samples: list[dict[str, float]], minutes: float, slope_limit: float) -> dict[str, dict[str, Any]]:
    """Per process: first/last/max RSS, each half's slope; ``flat`` from the second half (None: not judged)."""
    half = len(samples) // 2
    judged = minutes >= MIN_JUDGED_MINUTES
    memory: dict[str, dict[str, Any]] = {}
    for key in PROCESSES:
        values = [s[key] for s in samples]
        first_half, _ = slope_mb_per_min([(s["t"], s[key]) for s in samples[: half + 1]])
        second_half, error = slope_mb_per_min([(s["t"], s[key]) for s in samples[half:]])
        memory[key.removesuffix("_mb")] = {
            "first_mb": values[0],
            "last_mb": values[-1],
            "max_mb": max(values),
            "first_half_mb_per_min": round(first_half, 2),
            "second_half_mb_per_min": round(second_half, 2),
            "second_half_stderr": round(error, 2) if error != float("inf") else None,
            "flat": (second_half <= slope_limit) if judged else None,
            # Growing, but at a quarter of the first half's rate or less: perhaps a cache still warming.
            "slowing": judged and second_half > slope_limit and first_half > 0 and second_half <= 0.25 * first_half,
        }
    return memory


SERVER_PARTS = ("server_anon_mb", "server_file_mb", "db_mb")


def server_parts(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Second-half slopes of the server's heap, its files held in memory and its db on disk."""
    half = samples[len(samples) // 2 :]
    parts: dict[str, dict[str, float]] = {}
    for key in SERVER_PARTS:
        if all(key in s for s in half):
            slope, _ = slope_mb_per_min([(s["t"], s[key]) for s in half])
            parts[key.removesuffix("_mb")] = {
                "first_mb": samples[0].get(key, 0.0),
                "last_mb": half[-1][key],
                "second_half_mb_per_min": round(slope, 2),
            }
    return parts


def summarize(
    minutes: float,
    sessions: int,
    devices: int,
    samples: list[dict[str, float]],
    counts: list[DeviceCount],
    upstream: list[Any],
    truths: dict[str, Truth],
    matches: dict[str, bool],
    warnings: WarningLog,
    drained_in: float,
    stuck: int,
) -> dict[str, Any]:
    quarter = max(1, len(samples) // 4)
    warm = samples[quarter - 1] if len(samples) > 1 else samples[0]
    tail = samples[-quarter:]
    growth = {key: round(max(s[key] for s in tail) - warm[key], 1) for key in PROCESSES}
    by_session: dict[str, list[DeviceCount]] = {}
    for c in counts:
        by_session.setdefault(c.session, []).append(c)
    # Each session's reference device (d0): every other device must have received the same records.
    reference = {c.session: c.digest.hexdigest() for c in counts if c.reference is not None}

    def complete(c: DeviceCount) -> bool:
        truth = truths[c.session]
        return (
            c.end == "completed"
            and truth.status == "completed"
            and truth.gaps == 0
            and c.end_offset == truth.end
            and c.records == truth.end  # every offset 0..end-1, once (take() counts holes and duplicates)
            and c.digest.hexdigest() == reference[c.session]
            and matches[c.session]
            and not (c.duplicates or c.holes or c.gaps or c.error)
        )

    incomplete = [c.session + "/" + c.name for c in counts if not complete(c)]
    disagree = [s for s, group in by_session.items() if len({c.digest.hexdigest() for c in group}) != 1]
    return {
        "benchmark": "soak",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "minutes": minutes,
        "sessions": sessions,
        "devices_per_session": devices,
        "devices": len(counts),
        "records_per_session": round(sum(t.end or 0 for t in truths.values()) / max(1, len(truths))),
        "records_delivered": sum(c.records for c in counts),
        "truth": "read_all() per session after it closed (from the first offset Temporal still holds)",
        "truth_records": sum(t.records for t in truths.values()),
        "truth_offsets_dropped_at_rollovers": sum(t.base for t in truths.values()),
        "sessions_whose_reference_differs_from_truth": sorted(s for s, ok in matches.items() if not ok),
        "truth_gaps": sum(t.gaps for t in truths.values()),
        "sessions_not_completed": sum(1 for t in truths.values() if t.status != "completed"),
        "truth_errors": {s: t.error for s, t in truths.items() if t.error},
        # Offsets Temporal holds that a device never received (a device counts each offset once).
        "lost": sum(max(0, (truths[c.session].end or 0) - c.records) for c in counts),
        "devices_differing_from_truth": sum(
            1 for c in counts if c.digest.hexdigest() != reference[c.session] or not matches[c.session]
        ),
        "duplicates": sum(c.duplicates for c in counts),
        "gaps": sum(c.gaps for c in counts),
        "device_errors": sum(1 for c in counts if c.error),
        "upstream_errors": sum(u.errors for u in upstream),
        "upstream_errors_while_closing": min(warnings.upstream_failures["closing"], sum(u.errors for u in upstream)),
        "upstream_errors_unexplained": sum(u.errors for u in upstream)
        - min(warnings.upstream_failures["closing"], sum(u.errors for u in upstream)),
        "upstream_error_sessions": {u.session_id: u.last_error for u in upstream if u.errors},
        "wfwatch_warnings": dict(warnings.counts.most_common(20)),
        "upstream_restarts": sum(u.restarts for u in upstream),
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
    parser.add_argument("--quick", action="store_true", help="1 minute, 5 sessions x 3 devices, samples every 3 s")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=None, help="default 50 (--quick: 5)")
    parser.add_argument(
        "--devices",
        type=int,
        default=None,
        help="hub devices a session, default 10 (--quick: 3); 0 is the baseline, sessions with no readers",
    )
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--drain", type=float, default=120.0, help="most seconds to wait for the ends after closing")
    parser.add_argument(
        "--slope-limit", type=float, default=1.0, help="most RSS growth in the second half, MB/min, per process"
    )
    parser.add_argument("--rollover-events", type=int, default=1000, help="history events a session run holds")
    parser.add_argument("--carry-log-bytes", type=int, default=32_000, help="log carried across a rollover")
    parser.add_argument("--warm", type=int, default=256, help="records a session the hub keeps in memory")
    parser.add_argument(
        "--server-cache",
        type=int,
        default=0,
        help="runs the dev server keeps cached in memory (history.cacheMaxSize; 0: its default of 512)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.sample = 1.0, 3.0
    if args.sessions is None:
        args.sessions = 5 if args.quick else 50
    if args.devices is None:
        args.devices = 3 if args.quick else 10
    if args.minutes <= 0 or args.sessions < 1 or args.devices < 0 or args.sample <= 0:
        parser.error("--minutes and --sample must be > 0, --sessions >= 1 and --devices >= 0")
    if args.rollover_events < 100 or args.carry_log_bytes < 0 or args.warm < 0 or args.server_cache < 0:
        parser.error("--rollover-events must be >= 100, --carry-log-bytes, --warm and --server-cache >= 0")
    logging.basicConfig(level=logging.ERROR)
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.ERROR)  # wfwatch's warnings are counted below, not printed
    warnings = WarningLog()
    logging.getLogger("wfwatch").addHandler(warnings)
    logging.getLogger("wfwatch").setLevel(logging.WARNING)
    steady = SteadyState(args.rollover_events, args.carry_log_bytes, args.warm, args.server_cache)
    result = asyncio.run(soak(args.minutes, args.sessions, args.devices, args.sample, args.drain, warnings, steady))
    memory = judge_memory(result["samples"], args.minutes, args.slope_limit)
    judged = args.minutes >= MIN_JUDGED_MINUTES
    result["slope_limit_mb_per_min"] = args.slope_limit
    result["memory"] = memory
    result["server_memory_parts"] = server_parts(result["samples"])
    result["memory_judged"] = judged
    result["flat"] = all(m["flat"] for m in memory.values()) if judged else None
    result["growing"] = [name for name, m in memory.items() if m["flat"] is False]
    delivery_ok = (
        result["lost"] == 0
        and result["duplicates"] == 0
        and result["incomplete_count"] == 0
        and result["devices_differing_from_truth"] == 0
        and result["truth_gaps"] == 0
        and result["sessions_not_completed"] == 0
        and not result["truth_errors"]
        and not result["sessions_whose_reference_differs_from_truth"]
        and result["stuck_after_drain"] == 0
        and not result["sessions_whose_devices_disagree"]
    )
    result["delivery_ok"] = delivery_ok
    ok = delivery_ok and result["flat"] is not False and result["upstream_errors_unexplained"] == 0
    result["ok"] = ok
    print()
    print(f"{'RSS MB':<8} {'first':>7} {'last':>7} {'max':>7} {'1st half/min':>13} {'2nd half/min':>13}  verdict")
    for name, m in memory.items():
        verdict = "not judged" if m["flat"] is None else ("flat" if m["flat"] else "GROWING")
        verdict += " (slowing)" if m["slowing"] else ""
        error = f" ±{m['second_half_stderr']}" if m["second_half_stderr"] is not None else ""
        print(
            f"{name:<8} {m['first_mb']:>7.1f} {m['last_mb']:>7.1f} {m['max_mb']:>7.1f} "
            f"{m['first_half_mb_per_min']:>+13.2f} {m['second_half_mb_per_min']:>+9.2f}{error:<5}  {verdict}"
        )
    parts = result["server_memory_parts"]
    if parts:
        print(
            "server, 2nd half/min: "
            + ", ".join(
                f"{name} {p['first_mb']:.0f} → {p['last_mb']:.0f} MB ({p['second_half_mb_per_min']:+.2f})"
                for name, p in parts.items()
            )
            + "  (anon: heap; file: its files held in memory; db: the SQLite files on disk)"
        )
    if not judged:
        print(f"(memory not judged: runs shorter than {MIN_JUDGED_MINUTES:g} min are mostly warm-up)")
    print()
    for key in (
        "devices",
        "runs_per_session",
        "records_per_session",
        "truth_offsets_dropped_at_rollovers",
        "records_delivered",
        "truth_records",
        "lost",
        "devices_differing_from_truth",
        "duplicates",
        "gaps",
        "truth_gaps",
        "device_errors",
        "incomplete_count",
        "stuck_after_drain",
        "drain_s",
        "upstream_errors",
        "upstream_errors_while_closing",
        "upstream_errors_unexplained",
    ):
        print(f"{key:<30} {result[key]}")
    for session, error in list(result["upstream_error_sessions"].items())[:10]:
        print(f"  upstream error, {session}: {error}")
    print(
        "wfwatch warnings and errors logged, by shape:" if result["wfwatch_warnings"] else "no wfwatch warnings logged"
    )
    for message, count in result["wfwatch_warnings"].items():
        print(f"  {count:>5} x {message}")
    if result["upstream_errors_while_closing"]:
        print(
            f"{result['upstream_errors_while_closing']} upstream reads failed while the sessions closed: their "
            "closing Queries (a replay each on the worker) went unanswered for the reader's 30 s tolerance; "
            "the hub restarted them"
        )
    if args.devices:
        print(f"delivery (checked against Temporal): {'OK' if delivery_ok else 'NOT OK'}")
    else:
        print("baseline: no devices, so no delivery to check (the sessions' own memory only)")
    print(
        f"memory: {'not judged' if result['flat'] is None else ('flat' if result['flat'] else 'GROWING: ' + ', '.join(result['growing']))}"
    )
    print("OK" if ok else "NOT OK")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
