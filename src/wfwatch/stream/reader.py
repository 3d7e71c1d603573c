"""Reading a workflow's stream from an offset, with explicit outcomes.

The SDK's ``WorkflowStreamClient.subscribe`` is a plain iterator of items: a
truncated offset silently restarts from the retained base, and the end of the
stream is just the end of iteration. A delivery layer needs to know more, so
:class:`StreamReader` runs the same poll protocol (long-poll Update
``__temporal_workflow_stream_poll`` while the workflow runs, the poll Query
once it is closed) and yields three kinds of results:

* :class:`Batch` — records in offset order, contiguous from where it was;
* :class:`Gap` — offsets ``start..end-1`` are gone (truncated by the
  workflow); the reader then continues at ``end``;
* :class:`End` — the workflow closed and everything retained was delivered.

It follows continue-as-new (the next run carries the stream state) and
reports an unknown workflow or a workflow without a stream as
:class:`StreamNotFound` with a message a user can act on. A run of another
chain under the same workflow id (the workflow was replaced by a new one
with the same id) is not followed: the read ends with ``End("replaced")``
rather than splicing the new workflow's offsets onto the old one's.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Literal, TypeVar

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.contrib.workflow_streams import PollInput, PollResult
from temporalio.service import RPCError, RPCStatusCode

from wfwatch import events

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL = "__temporal_workflow_stream_poll"
OFFSET_QUERY = "__temporal_workflow_stream_offset"
#: Queries are answered by a worker; without one the server would hold the call ~30 s.
QUERY_TIMEOUT = timedelta(seconds=10)
_TRANSIENT = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.DEADLINE_EXCEEDED)
_TRUNCATED = "TruncatedOffset"
_DRAINING = "StreamDraining"

_CLOSED = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}

ReadMode = Literal["update", "query"]


class StreamNotFound(Exception):
    """The workflow does not exist, or hosts no Workflow Stream."""


class StreamReadError(Exception):
    """Reading failed for a reason a retry will not fix."""


@dataclass(frozen=True, slots=True)
class Batch:
    records: list[events.Record]
    next_offset: int
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets ``start`` to ``end - 1`` no longer exist in the workflow."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class End:
    """The workflow closed with ``status`` (``"replaced"``: another workflow took its id); nothing follows ``next_offset``."""

    status: str
    next_offset: int


ReadResult = Batch | Gap | End


@dataclass(slots=True)
class ReaderStats:
    updates: int = 0
    queries: int = 0
    items: int = 0
    rollovers: int = 0
    errors: int = 0
    update_limit_fallbacks: int = 0
    #: Update polls outstanding now, and the most ever at once (the design keeps it at 1).
    updates_in_flight: int = 0
    max_updates_in_flight: int = 0
    runs: list[str] = field(default_factory=list)


def decode_wire_item(topic: str, wire: str) -> events.Decoded:
    """Decode one wire item (base64 of a serialized Payload); never raises."""
    try:
        payload = Payload()
        payload.ParseFromString(base64.b64decode(wire))
    except Exception as err:  # protobuf raises its own DecodeError
        return events.InvalidItem(topic=topic, reason=f"not a Temporal payload: {err}", preview=wire[:80])
    encoding = payload.metadata.get("encoding", b"")
    if encoding not in (b"json/plain", b""):
        if topic == events.TOPIC:
            return events.InvalidItem(
                topic=topic, reason=f"payload encoding {encoding.decode(errors='replace')!r} is not json/plain"
            )
        shown = encoding.decode(errors="replace")
        return events.UnknownItem(
            topic=topic, data=None, reason=f"topic {topic!r} is not {events.TOPIC!r} ({shown} payload)"
        )
    return events.decode(payload.data, topic)


def to_records(result: PollResult) -> list[events.Record]:
    return [events.Record(item.offset, decode_wire_item(item.topic, item.data)) for item in result.items]


class StreamReader:
    """Reads one workflow's stream from ``from_offset``; iterate with ``async for``.

    ``mode="update"`` long-polls with Updates while the workflow runs (lowest
    latency, one Update per delivered batch in the workflow's history);
    ``mode="query"`` polls the Query every ``poll_interval`` (no history
    growth, latency up to the interval). Closed workflows are always read by
    Query. With ``catch_up_by_query`` a reader that is behind (the last poll
    said more is ready) reads by Query until it reaches the head, then by
    ``mode``: a long backlog costs no Updates and adds nothing to history.

    ``epoch`` is the first run id of the continue-as-new chain to read (the
    hub passes the one its cache was filled from); without it the first
    describe sets it. Subclasses that need more than decoded records per
    batch (the hub keeps each item's raw bytes for its cache) override
    :meth:`batch_from`.
    """

    def __init__(
        self,
        client: Client,
        workflow_id: str,
        *,
        from_offset: int = 0,
        topics: list[str] | None = None,
        mode: ReadMode = "update",
        poll_interval: float = 0.05,
        run_id: str | None = None,
        outage_tolerance: float = 30.0,
        catch_up_by_query: bool = False,
        epoch: str | None = None,
        on_beyond_head: Callable[[int, int], None] | None = None,
    ) -> None:
        if from_offset < 0:
            raise ValueError(f"offset must be >= 0, got {from_offset}")
        self._client = client
        self.workflow_id = workflow_id
        self.offset = from_offset
        self._topics = topics or []
        self.mode = mode
        self.poll_interval = poll_interval
        self._handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id, run_id=run_id)
        self.stats = ReaderStats()
        self._run_id = ""
        self._idle_polls = 0
        #: What is wrong while the reader retries through an outage ("" when reading fine).
        self.trouble = ""
        #: Seconds of server unavailability a read rides out before failing.
        self.outage_tolerance = outage_tolerance
        self.catch_up_by_query = catch_up_by_query
        #: False while the last poll said more is ready (we are behind the head).
        self.caught_up = False
        # A run that refused more Updates (Temporal's per-run Update limit) is
        # read by Query until the workflow continues as new.
        self._query_only_run: str | None = None
        #: The first run id of the continue-as-new chain being read (given, or
        #: learned from the first describe); a run of another chain ends the read.
        self.epoch = epoch or ""
        #: The highest head (``next_offset``) a poll has reported: a stream's head never moves back.
        self._head_seen = 0
        #: Called with (offset, head) when a Query poll of a running workflow shows the offset
        #: asked for is beyond its head: the read waits there, and a caller may want to say so.
        #: (A long-poll Update only answers once the offset exists, so it cannot tell.)
        self.on_beyond_head = on_beyond_head
        self._told_beyond: int | None = None

    async def head(self) -> int:
        """The stream's current head offset (the offset the next item will get).

        A server too busy to take the query now (RESOURCE_EXHAUSTED, e.g.
        "consistent query buffer is full" while many sessions roll over) is
        asked again a few times, all within one ``QUERY_TIMEOUT``; any other
        failure is reported at once, so a workflow without a worker fails in
        bounded time.
        """

        async def ask(timeout: timedelta) -> int:
            return int(await self._handle.query(OFFSET_QUERY, result_type=int, rpc_timeout=timeout))

        try:
            return await ask_while_busy(ask, budget=QUERY_TIMEOUT)
        except BudgetSpent as spent:
            raise self._explain(spent.last, out_of_time=True) from spent.last
        except (RPCError, WorkflowQueryFailedError) as err:
            raise self._explain(err) from err

    async def closed_status(self) -> str | None:
        """The status the workflow closed with (``"failed"``, ...), or ``None`` while it runs.

        ``wfwatch tail --no-follow`` asks first: a closed stream is read to its
        end (and says how it ended), a running one only to its current head.
        """
        return _CLOSED.get(await self._status())

    def __aiter__(self) -> AsyncIterator[ReadResult]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ReadResult]:
        try:
            status = await self._status()
            while True:
                if status in _CLOSED:
                    async for result in self._drain_closed(_CLOSED[status]):
                        yield result
                    return
                if status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
                    self._follow_latest_run()
                    status = await self._status()
                    continue
                try:
                    if self._polls_by_update():
                        polled = await self._poll_update()
                    else:
                        polled = await self._poll_query_running()
                except _RunChanged:
                    status = await self._status()
                    continue
                if polled is None:
                    continue
                if polled.next_offset < self.offset and not polled.items:
                    self._beyond_head(polled.next_offset)
                for item in self._split(polled):
                    yield item
        except _Replaced:
            yield End(status="replaced", next_offset=self.offset)

    @property
    def run_id(self) -> str:
        """The run currently being read (empty before the first describe)."""
        return self._run_id

    def batch_from(self, result: PollResult) -> Batch | None:
        """The batch for a poll result's items (``None`` if it has none); a subclass hook."""
        records = to_records(result)
        return Batch(records, result.next_offset, self._run_id) if records else None

    # --- the pieces --------------------------------------------------------

    def _polls_by_update(self) -> bool:
        if self.mode != "update" or self._query_only_run == self._run_id:
            return False
        return self.caught_up or not self.catch_up_by_query

    async def _status(self) -> WorkflowExecutionStatus:
        description = await self._ride_out_outage("describing", self._handle.describe)
        self._check_chain(description.raw_info.first_run_id, description.run_id)
        self._note_run(description.run_id)
        if description.status is None:
            raise StreamReadError(f"workflow {self.workflow_id!r} has no status")
        return description.status

    async def _ride_out_outage(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``, retrying transient failures for up to ``outage_tolerance`` seconds.

        A reader's client may have been built to fail fast on a dead address
        (``connect()`` does that), so an outage mid-stream would otherwise end
        the read within a second; here transient errors back off 0.5 → 5 s,
        and :attr:`trouble` says what is wrong meanwhile.
        """
        loop = asyncio.get_running_loop()
        give_up_at, delay = loop.time() + self.outage_tolerance, 0.5
        while True:
            try:
                # A client with default retries may itself retry one call for
                # long; the bound keeps the whole outage within the tolerance.
                result = await asyncio.wait_for(call(), max(give_up_at - loop.time(), 1.0))
                self.trouble = ""
                return result
            except (RPCError, TimeoutError) as err:
                if not _is_transient(err) or loop.time() >= give_up_at:
                    self.trouble = ""
                    if isinstance(err, TimeoutError):
                        raise StreamReadError(
                            f"the Temporal server has not answered for {self.outage_tolerance:.0f} s "
                            f"while reading {self.workflow_id!r}"
                        ) from err
                    raise self._explain(err) from err
                self.stats.errors += 1
                self.trouble = err.message if isinstance(err, RPCError) else "the server does not answer"
                log.warning("%s %s: %s; retrying in %.1f s", what, self.workflow_id, self.trouble, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _check_chain(self, first_run_id: str, run_id: str | None) -> None:
        """Raise :class:`_Replaced` when ``run_id`` belongs to another chain than the one being read.

        Continue-as-new keeps the first run id; a new workflow started under
        the same id has its own. (A server that reports no first run id is
        not checked.)
        """
        if not first_run_id:
            return
        if not self.epoch:
            self.epoch = first_run_id
        elif first_run_id != self.epoch:
            log.warning(
                "workflow %s was replaced by another workflow (run %s, epoch %s -> %s); not following it",
                self.workflow_id,
                run_id,
                self.epoch,
                first_run_id,
            )
            raise _Replaced()

    def _note_run(self, run_id: str | None) -> None:
        """Record the run being read; a new one after the first is a rollover followed."""
        if not run_id or run_id == self._run_id:
            return
        if self._run_id:
            self.stats.rollovers += 1
        if run_id not in self.stats.runs:
            self.stats.runs.append(run_id)
        self._run_id = run_id

    def _follow_latest_run(self) -> None:
        self._handle = self._client.get_workflow_handle(self.workflow_id)

    async def _poll_update(self) -> PollResult | None:
        self.stats.updates += 1
        self.stats.updates_in_flight += 1
        self.stats.max_updates_in_flight = max(self.stats.max_updates_in_flight, self.stats.updates_in_flight)
        try:
            return await self._long_poll()
        finally:
            self.stats.updates_in_flight -= 1

    async def _long_poll(self) -> PollResult | None:
        try:
            handle = await self._handle.start_update(
                POLL,
                PollInput(topics=self._topics, from_offset=self.offset),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=PollResult,
            )
            # The handle targets the latest run, so a continue-as-new is only
            # visible here: the Update names the run that accepted it. A run
            # not seen before may also be another workflow that took the id:
            # its offsets must not be read as ours.
            run_id = handle.workflow_run_id
            if run_id and run_id != self._run_id and self.epoch:
                described = await self._client.get_workflow_handle(self.workflow_id, run_id=run_id).describe()
                self._check_chain(described.raw_info.first_run_id, run_id)
            self._note_run(run_id)
            result: PollResult = await handle.result()
            self.trouble = ""
            return result
        except WorkflowUpdateFailedError as err:
            cause = getattr(err.cause, "type", None)
            if cause == _TRUNCATED:
                return await self._query(self.offset)
            if cause == _DRAINING or cause == "AcceptedUpdateCompletedWorkflow":
                # Draining for continue-as-new, or the run closed under our poll:
                # re-describe and either follow the next run or drain by Query.
                await asyncio.sleep(0.05)
                raise _RunChanged() from err
            raise self._explain(err) from err
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            if isinstance(err.__cause__, asyncio.CancelledError):
                raise err.__cause__ from None
            raise _RunChanged() from err  # long-poll timed out: re-check and poll again
        except RPCError as err:
            if _lacks_stream(err.message):
                raise self._explain(err) from err
            if _is_update_limit(err):
                log.warning("%s refuses more Updates (%s); reading by Query", self.workflow_id, err.message)
                self.stats.update_limit_fallbacks += 1
                self._query_only_run = self._run_id
                return None
            await self._on_rpc_error(err)
            return None

    async def _poll_query_running(self) -> PollResult | None:
        try:
            result = await self._query(self.offset)
        except RPCError as err:
            await self._on_rpc_error(err)
            return None
        self.trouble = ""
        if result.next_offset < self._head_seen:
            # The Query reaches the latest run, and a head that moved back means it is another
            # workflow's (the id was reused): re-describe before taking anything from it. (Only a
            # replacement that already got past our head within one poll slips through this.)
            # Checked once per regression: a reset keeps the chain, and then reading goes on.
            self._head_seen = result.next_offset
            raise _RunChanged()
        if not result.items and not result.more_ready:
            await asyncio.sleep(self.poll_interval)
            self._idle_polls += 1
            if self._idle_polls * self.poll_interval >= 1.0:
                self._idle_polls = 0
                raise _RunChanged()  # look at the status now and then
        return result

    async def _on_rpc_error(self, err: RPCError) -> None:
        if err.status == RPCStatusCode.NOT_FOUND:
            # The run we polled closed (or the id never existed): re-describe.
            raise _RunChanged() from err
        if _is_transient(err):
            self.stats.errors += 1
            self.trouble = err.message
            log.warning("reading %s: %s; retrying", self.workflow_id, err.message)
            await asyncio.sleep(0.5)
            raise _RunChanged() from err
        raise self._explain(err) from err

    async def _query(self, offset: int) -> PollResult:
        self.stats.queries += 1
        try:
            result: PollResult = await self._handle.query(
                POLL,
                PollInput(topics=self._topics, from_offset=offset),
                result_type=PollResult,
                rpc_timeout=QUERY_TIMEOUT,
            )
        except WorkflowQueryFailedError as err:
            raise self._explain(err) from err
        return result

    async def _drain_closed(self, status: str) -> AsyncIterator[ReadResult]:
        """Read what a closed run still retains via Query, then end at its head.

        The end names the stream's real head, also when the read began beyond
        it (``from_offset`` 100 on a 6-item stream ends with ``next_offset`` 6).
        """
        while True:
            result = await self._ride_out_outage("querying", partial(self._query, self.offset))
            for item in self._split(result):
                yield item
            if not result.more_ready:
                break
        yield End(status=status, next_offset=min(self.offset, result.next_offset))

    def _beyond_head(self, head: int) -> None:
        if self.on_beyond_head is not None and self._told_beyond != self.offset:
            self._told_beyond = self.offset
            self.on_beyond_head(self.offset, head)

    def _split(self, result: PollResult) -> list[ReadResult]:
        """Turn a poll result into a Gap (if offsets were skipped) and a Batch."""
        out: list[ReadResult] = []
        batch = self.batch_from(result)
        if batch is not None and batch.records[0].offset > self.offset and not self._topics:
            out.append(Gap(self.offset, batch.records[0].offset))
        elif batch is None and result.next_offset > self.offset and not self._topics:
            # Everything we asked for is gone and nothing new exists yet.
            out.append(Gap(self.offset, result.next_offset))
        if batch is not None:
            self.stats.items += len(batch.records)
            out.append(batch)
        if result.next_offset > self.offset:
            self.offset = result.next_offset
        self._head_seen = max(self._head_seen, result.next_offset)
        self.caught_up = not result.more_ready
        return out

    def _explain(self, err: BaseException, *, out_of_time: bool = False) -> Exception:
        """One place that turns a failed read into the error a user sees.

        ``out_of_time``: the query's whole time was spent asking again after
        ``err`` (a busy server or a broken stream), so the timeout is the news.
        """
        if isinstance(err, WorkflowUpdateFailedError):
            text = str(err.cause or err)
        else:
            text = str(getattr(err, "message", "") or err)
        if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
            return StreamNotFound(
                f"no workflow {self.workflow_id!r} in namespace {self._client.namespace!r} "
                "(is the id right? is --address/--namespace right?)"
            )
        within = f"within {QUERY_TIMEOUT.total_seconds():.0f} s"
        if out_of_time and isinstance(err, RPCError) and err.status == RPCStatusCode.RESOURCE_EXHAUSTED:
            return StreamReadError(f"the server was too busy to take a query on {self.workflow_id!r} {within} ({text})")
        timed_out = isinstance(err, RPCError) and (
            err.status == RPCStatusCode.DEADLINE_EXCEEDED or "Timeout expired" in text
        )
        if timed_out or out_of_time:
            last = f"the last try ended in: {text}; " if out_of_time else ""
            return StreamReadError(
                f"no worker answered a query on {self.workflow_id!r} {within} "
                f"({last}queries are answered by the workflow's worker: is one polling its task queue?)"
            )
        if _lacks_stream(text) or (isinstance(err, WorkflowQueryFailedError) and "not found" in text.lower()):
            return StreamNotFound(f"workflow {self.workflow_id!r} does not host a Workflow Stream ({text})")
        return StreamReadError(f"reading {self.workflow_id!r} failed: {text}")


class BudgetSpent(Exception):
    """``ask_while_busy`` ran out of time while the server was busy or the connection broke."""

    def __init__(self, last: RPCError) -> None:
        super().__init__(last.message)
        self.last = last


async def ask_while_busy(
    ask: Callable[[timedelta], Awaitable[T]],
    *,
    budget: timedelta,
    tries: int = 6,
    delay: float = 0.2,
) -> T:
    """``ask(timeout)``, asked again (with backoff) while the server is too busy or the connection broke.

    Only answers that say nothing about the workflow: RESOURCE_EXHAUSTED, and
    a broken HTTP/2 stream (a query is idempotent). A timeout is not asked
    again here: no worker answering is an answer the caller must report.
    Every try shares one ``budget`` (each gets the time left as its timeout),
    so the whole ask is bounded by it: a broken stream reported as the first
    try's time ran out once cost two full timeouts. Out of budget (or tries)
    on a busy answer, it raises ``BudgetSpent`` or the last error.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget.total_seconds()
    for attempt in range(tries):
        try:
            return await ask(timedelta(seconds=max(deadline - loop.time(), _LEAST_TRY)))
        except RPCError as err:
            busy = err.status == RPCStatusCode.RESOURCE_EXHAUSTED or err.message.startswith(_TRANSPORT)
            if not busy or attempt == tries - 1:
                raise
            if deadline - loop.time() < delay + _LEAST_TRY:
                raise BudgetSpent(err) from err
            log.warning("server busy (%s); asking again in %.1f s", err.message, delay)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


#: The shortest timeout a try of ``ask_while_busy`` is worth making.
_LEAST_TRY = 0.5


def _is_transient(err: RPCError | TimeoutError) -> bool:
    """Worth retrying: the server is away or slow, or a query had no answer in time."""
    if isinstance(err, TimeoutError):
        return True
    if err.status in _TRANSIENT:
        return True
    # An rpc_timeout surfaces as CANCELLED "Timeout expired" from the SDK's core.
    if err.status == RPCStatusCode.CANCELLED and "Timeout expired" in err.message:
        return True
    # A broken HTTP/2 stream or connection (the core's tonic client reports these
    # as "h2 protocol error" / "transport error", under more than one status):
    # every read here is idempotent (a poll names its offset), so asking again is safe.
    return err.message.startswith(_TRANSPORT)


_TRANSPORT = ("h2 protocol error", "transport error", "error trying to connect")


def _lacks_stream(text: str) -> bool:
    """The workflow has no poll handler: it does not host a Workflow Stream."""
    return "unknown queryType" in text or (POLL in text and "not found" in text.lower())


def _is_update_limit(err: RPCError) -> bool:
    """Temporal refuses Updates past its per-run total (``history.maxTotalUpdates``)."""
    text = err.message.lower()
    return err.status in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.RESOURCE_EXHAUSTED) and (
        "total" in text and "update" in text
    )


class _RunChanged(Exception):
    """Internal: re-describe the workflow before polling again."""


class _Replaced(Exception):
    """Internal: the workflow id now names another workflow (another continue-as-new chain)."""


async def read_all(
    client: Client, workflow_id: str, *, from_offset: int = 0, timeout: float | None = None
) -> tuple[list[events.Record], list[Gap], End | None]:
    """Read until the workflow ends (or ``timeout``): a helper for scripts and tests."""
    records: list[events.Record] = []
    gaps: list[Gap] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    reader = StreamReader(client, workflow_id, from_offset=from_offset)

    async def run() -> End | None:
        async for result in reader:
            if isinstance(result, Batch):
                records.extend(result.records)
            elif isinstance(result, Gap):
                gaps.append(result)
            else:
                return result
        return None

    if deadline is None:
        return records, gaps, await run()
    try:
        end = await asyncio.wait_for(run(), timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        end = None
    return records, gaps, end
