"""Shared machinery of the fault suite: servers that can be killed, devices that count.

Everything here drives real processes on loopback:

* :class:`OwnServer` — a private dev server on a fixed port and sqlite file,
  so it can be SIGKILLed and started again at the same address on the same
  database (clients reconnect by themselves), or frozen with SIGSTOP to
  simulate a network partition that loses no state;
* ``worker_process.worker_processes`` (tests/support) — demo-agent workers in subprocesses, so a test
  can SIGKILL one (the script is shared with the integration suite);
* :class:`ReaderTap` and :class:`HubTap` — a device reading through a bare
  :class:`~wfwatch.stream.reader.StreamReader` or through the hub, that
  keeps *every* offset it was handed (duplicates included), every gap, its
  end and its errors, and folds records through the one reducer;
* :func:`offset_audit` — missing offsets, duplicates, out-of-order deliveries;
* :func:`verdict` — everything wrong with one device, against the truth.

The truth is what Temporal itself holds once the session closed, read by
``read_all()``. A device that joined at offset N passes :func:`verdict` only
when its record sequence, offset and item, equals the truth's for
``N..end-1`` (so nothing is missing, repeated, reordered or altered), it saw
no gap, it ended ``completed``, and (where the test knows it) its canonical
view equals that of an undisturbed run, computed from the scripted model,
which is deterministic. :data:`CHECK_EXACT` says that in the words the
reliability report prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from wfwatch import events
from wfwatch.agents.model import scripted_texts
from wfwatch.agents.shared import SEARCH_ATTRIBUTES, ModelSpec, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import Delivery, EndOfStream, GapNotice, Hub, Join
from wfwatch.reducer import Reducer, SessionView
from wfwatch.stream.reader import Batch, End, Gap, StreamReader, StreamReadError
from wfwatch.temporal.server import EmbeddedServer

HERE = Path(__file__).resolve().parent
#: A hub and its devices in a subprocess a test can SIGKILL (prints JSON lines).
HUB_SCRIPT = HERE / "_support" / "hub_process.py"


#: What :func:`verdict` checks, as the reliability report states it per scenario.
CHECK_EXACT = (
    "every device: records (offset and item) equal to read_all()'s for the offsets it covers, "
    "each once, in order; no gap; ended completed"
)
CHECK_EXACT_CANONICAL = CHECK_EXACT + "; canonical view = an undisturbed run's"


@dataclass
class FaultResult:
    """One scenario's outcome, as the reliability report lists it.

    ``checked`` says what the test asserted and ``contract`` which delivery
    promise it holds, so the report claims per row only what was verified.
    """

    scenario: str = ""
    what: str = ""
    checked: str = ""
    #: The delivery promise the scenario holds devices to, when it is about delivery:
    #: "exactly once" or "at-least-once" (the report says which, per row).
    contract: str = ""
    counts: dict[str, int | float | str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, **values: int | float | str) -> None:
        self.counts.update(values)


# --- servers ------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback TCP port (kept for the server's whole life, across restarts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnServer:
    """A dev server this test owns: fixed port and db, so it can die and come back.

    ``kill`` SIGKILLs the server's process group (no chance to flush or
    say goodbye); ``restart`` starts a new server on the same sqlite file
    and port; ``freeze`` stops the process with SIGSTOP for a while, then
    SIGCONT — the address stays bound but nothing answers, like a network
    partition, and no state is lost.
    """

    def __init__(self, db_path: Path, *, dynamic_config: dict[str, object] | None = None) -> None:
        self.db_path = db_path
        self.port = free_port()
        self.dynamic_config = dict(dynamic_config or {})
        self.server: EmbeddedServer | None = None
        self.starts = 0
        self.kills = 0
        self.freezes = 0
        self.log_path = db_path.with_suffix(".log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    namespace = "default"

    async def start(self) -> None:
        assert self.server is None or not self.server.running, "already running"
        server = EmbeddedServer(
            db_path=self.db_path,
            port=self.port,
            search_attributes=SEARCH_ATTRIBUTES,
            dynamic_config=self.dynamic_config,
            log_path=self.log_path,
        )
        await server.start()
        self.server = server
        self.starts += 1

    async def kill(self) -> None:
        """SIGKILL the whole process group, as a crash or an OOM kill would."""
        server = self.server
        assert server is not None and server.pid is not None
        os.killpg(server.pid, signal.SIGKILL)
        await server.stop()  # reaps the process; nothing left to signal
        self.server = None
        self.kills += 1

    async def restart(self, down_for: float = 0.0) -> float:
        """Kill, stay down ``down_for`` seconds, start on the same db and port; returns the outage."""
        began = time.monotonic()
        await self.kill()
        if down_for:
            await asyncio.sleep(down_for)
        await self.start()
        return time.monotonic() - began

    async def freeze(self, seconds: float) -> None:
        """SIGSTOP the server for ``seconds``, then SIGCONT: unreachable, but nothing lost."""
        server = self.server
        assert server is not None and server.pid is not None
        os.killpg(server.pid, signal.SIGSTOP)
        self.freezes += 1
        try:
            await asyncio.sleep(seconds)
        finally:
            os.killpg(server.pid, signal.SIGCONT)

    async def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(ProcessLookupError):
                if self.server.pid is not None:
                    os.killpg(self.server.pid, signal.SIGCONT)  # a frozen server cannot exit
            await self.server.stop()
            self.server = None


@contextlib.asynccontextmanager
async def own_server(db_path: Path, **kwargs: Any) -> AsyncIterator[OwnServer]:
    server = OwnServer(db_path, **kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


# --- workers in subprocesses -------------------------------------------------------


# --- sessions and what an undisturbed run shows ---------------------------------------


async def start_session(
    client: Client, task_queue: str, *, prefix: str = "fault", **fields: Any
) -> WorkflowHandle[Any, Any]:
    fields.setdefault("idle_timeout", 0.5)
    spec = SessionInput(**fields)
    return await client.start_workflow(
        AgentSession.run, spec, id=f"{prefix}-{uuid.uuid4().hex[:10]}", task_queue=task_queue
    )


def undisturbed_text(model: ModelSpec, prompts: Sequence[str]) -> str:
    """``canonical_text()`` of a session without sub-agents whose turns all completed cleanly.

    The scripted model is deterministic, so this is exactly what an
    undisturbed run of the same session shows.
    """
    texts: list[str] = []
    for prompt in prompts:
        texts.append(scripted_texts(model, prompt, "planner")[1])
        texts.append(scripted_texts(model, prompt, "writer")[1])
    return "[main]\n" + "\n\n".join(t for t in texts if t)


# --- devices that count ----------------------------------------------------------------


@dataclass
class Audit:
    """How a device's deliveries compare with ``0..end-1``."""

    delivered: int
    distinct: int
    missing: list[int]
    duplicates: int
    out_of_order: int

    @property
    def clean(self) -> bool:
        return not self.missing and not self.duplicates and not self.out_of_order

    def describe(self) -> str:
        missing = f"{len(self.missing)} missing (first {self.missing[:5]})" if self.missing else "0 missing"
        return f"{self.delivered} delivered, {missing}, {self.duplicates} duplicates, {self.out_of_order} out of order"


def offset_audit(offsets: Sequence[int], end: int, start: int = 0) -> Audit:
    """Compare delivered offsets with the contiguous range ``start..end-1``."""
    seen: set[int] = set()
    duplicates = 0
    out_of_order = 0
    previous = start - 1
    for offset in offsets:
        if offset in seen:
            duplicates += 1
        seen.add(offset)
        if offset != previous + 1:
            out_of_order += 1
        previous = offset
    missing = [o for o in range(start, end) if o not in seen]
    return Audit(len(offsets), len(seen), missing, duplicates, out_of_order)


@dataclass
class TapState:
    name: str
    #: The offset the device started at (its join position); None until it opened.
    joined_at: int | None = None
    offsets: list[int] = field(default_factory=list)
    records: list[events.Record] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    end_status: str | None = None
    end_offset: int | None = None
    errors: list[str] = field(default_factory=list)
    restarts: int = 0
    #: Run ids of the continue-as-new chain the records were read from, in order.
    runs: list[str] = field(default_factory=list)
    reducer: Reducer = field(default_factory=Reducer)

    def take(self, records: Sequence[events.Record]) -> None:
        self.offsets.extend(r.offset for r in records)
        self.records.extend(records)
        self.reducer.feed(records)

    @property
    def view(self) -> SessionView:
        return self.reducer.view()


class _Tap:
    state: TapState
    task: asyncio.Task[None]

    @property
    def done(self) -> bool:
        return self.task.done()

    async def wait_records(self, count: int, timeout: float = 30) -> None:
        """Wait until at least ``count`` records arrived (fails if the device died or ended first)."""
        deadline = time.monotonic() + timeout
        while len(self.state.offsets) < count:
            if self.task.done():
                self.task.result()
                raise AssertionError(f"{self.state.name} ended after {len(self.state.offsets)} records (< {count})")
            assert time.monotonic() < deadline, f"{self.state.name}: {len(self.state.offsets)} < {count} records"
            await asyncio.sleep(0.02)

    async def finish(self, timeout: float = 60) -> TapState:
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        if not done:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            raise AssertionError(
                f"{self.state.name} did not reach the end within {timeout}s "
                f"({len(self.state.offsets)} records, errors {self.state.errors[-3:]})"
            )
        self.task.result()
        return self.state

    async def cancel(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class ReaderTap(_Tap):
    """A device reading with a bare :class:`StreamReader` (what ``wfwatch tail`` does).

    With ``resume_on_error`` a failed reader is replaced by a new one at the
    same offset, as an application would do; each replacement is counted in
    ``restarts`` and its error kept, so a test can require zero.
    """

    def __init__(
        self, client: Client, workflow_id: str, name: str, *, from_offset: int = 0, resume_on_error: bool = False
    ) -> None:
        self.state = TapState(name, joined_at=from_offset)
        self.client = client
        self.workflow_id = workflow_id
        self.resume_on_error = resume_on_error
        self.reader = StreamReader(client, workflow_id, from_offset=from_offset)
        self.update_limit_fallbacks = 0
        self.task = asyncio.create_task(self._run(), name=f"tap-{name}")

    async def _run(self) -> None:
        while True:
            try:
                async for result in self.reader:
                    if isinstance(result, Batch):
                        self.state.take(result.records)
                        if result.run_id and result.run_id not in self.state.runs:
                            self.state.runs.append(result.run_id)
                    elif isinstance(result, Gap):
                        self.state.gaps.append((result.start, result.end))
                    elif isinstance(result, End):
                        self.state.end_status, self.state.end_offset = result.status, result.next_offset
                        self._count()
                        return
                raise AssertionError("the reader stopped without End")
            except (StreamReadError, OSError, RuntimeError) as err:
                self.state.errors.append(f"{type(err).__name__}: {err}")
                if not self.resume_on_error or self.state.restarts >= 50:
                    raise
                self._count()
                self.state.restarts += 1
                await asyncio.sleep(0.5)
                self.reader = StreamReader(self.client, self.workflow_id, from_offset=self.reader.offset)

    @property
    def rollovers(self) -> int:
        """Continue-as-new transitions this device read across (runs it got records from, minus one)."""
        return max(0, len(self.state.runs) - 1)

    def _count(self) -> None:
        self.update_limit_fallbacks += self.reader.stats.update_limit_fallbacks


class HubTap(_Tap):
    """A hub device (``Hub.open_device``) iterated until its end-of-stream."""

    def __init__(self, hub: Hub, workflow_id: str, name: str, *, join: Join | None = None) -> None:
        self.state = TapState(name)
        self.hub = hub
        self.workflow_id = workflow_id
        self.join = join or Join("start")
        self.task = asyncio.create_task(self._run(), name=f"tap-{name}")

    async def _run(self) -> None:
        device = await self.hub.open_device(self.workflow_id, name=self.state.name, join=self.join)
        self.state.joined_at = device.position
        async for event in device:
            if isinstance(event, Delivery):
                self.state.take(event.records)
            elif isinstance(event, GapNotice):
                self.state.gaps.append((event.start, event.end))
            elif isinstance(event, EndOfStream):
                self.state.end_status, self.state.end_offset = event.status, event.next_offset
                return


def record_mismatch(
    got: Sequence[events.Record], truth: Sequence[events.Record], start: int = 0, end: int | None = None
) -> str:
    """Where ``got`` first departs from the truth's records for ``start..end-1`` ("" when identical).

    Compares ``(offset, item)`` pairs, so a duplicate, a hole, a reordering
    or an altered item each shows up, not only a wrong count.
    """
    want = [(r.offset, r.item) for r in truth if r.offset >= start and (end is None or r.offset < end)]
    have = [(r.offset, r.item) for r in got]
    if have == want:
        return ""
    for index, (mine, theirs) in enumerate(zip(have, want, strict=False)):
        if mine != theirs:
            return (
                f"record #{index} is offset {mine[0]} {type(mine[1]).__name__}, "
                f"the truth has offset {theirs[0]} {type(theirs[1]).__name__}"
                + (" (same offset, different item)" if mine[0] == theirs[0] else "")
            )
    return f"{len(have)} records where the truth has {len(want)}"


def verdict(
    tap: TapState,
    end: int,
    expected_text: str | None,
    *,
    truth: Sequence[events.Record],
    start: int = 0,
) -> list[str]:
    """Everything wrong with one device, as readable lines (empty: the device is perfect).

    ``truth`` is ``read_all()`` of the closed session; the device covers
    ``start..end-1`` (it joined at ``start``) and must hold exactly the
    truth's records there. ``expected_text`` (None: not known, e.g. a device
    that joined live mid-answer) is the canonical text of an undisturbed run.
    """
    problems: list[str] = []
    truth_audit = offset_audit([r.offset for r in truth if start <= r.offset < end], end, start)
    if not truth_audit.clean:
        problems.append(f"the truth itself is not {start}..{end - 1}: {truth_audit.describe()}")
    audit = offset_audit(tap.offsets, end, start)
    if not audit.clean:
        problems.append(f"{tap.name}: {audit.describe()}")
    mismatch = record_mismatch(tap.records, truth, start, end)
    if mismatch:
        problems.append(f"{tap.name}: records differ from read_all(): {mismatch}")
    if tap.gaps:
        problems.append(f"{tap.name}: gaps {tap.gaps}")
    if tap.end_status != "completed":
        problems.append(f"{tap.name}: ended {tap.end_status!r}")
    if tap.end_offset is not None and tap.end_offset != end:
        problems.append(f"{tap.name}: end-of-stream at {tap.end_offset}, the truth ends at {end}")
    if expected_text is not None:
        text = tap.view.canonical_text()
        if text != expected_text:
            problems.append(f"{tap.name}: canonical text differs ({len(text)} vs {len(expected_text)} chars)")
    return problems


def hub_for(client: Client, root: Path, **kwargs: Any) -> Hub:
    """A hub whose positions and cache live under ``root`` (never the user's dirs)."""
    return Hub(client, state_dir=root / "state", cache_dir=root / "cache", **kwargs)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    status: str
    history_length: int
    history_bytes: int


async def run_chain(
    client: Client, workflow_id: str, *, expect_closed: bool = True, timeout: float = 10
) -> list[RunInfo]:
    """Every run of ``workflow_id`` (its continue-as-new chain), oldest first, from visibility.

    Visibility is eventually consistent; with ``expect_closed`` this waits
    (bounded) until every listed run reports a closed status.
    """
    deadline = time.monotonic() + timeout
    while True:
        rows = [row async for row in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        rows.sort(key=lambda row: row.start_time)
        chain = [
            RunInfo(
                run_id=row.run_id,
                status=row.status.name if row.status is not None else "?",
                history_length=row.history_length,
                history_bytes=row.raw_info.history_size_bytes,
            )
            for row in rows
        ]
        if not expect_closed or (chain and all(r.status != "RUNNING" for r in chain)) or time.monotonic() > deadline:
            return chain
        await asyncio.sleep(0.2)
