"""Listing sessions from Temporal visibility (the dashboard's sessions screen).

Kept out of the TUI so the TUI never calls Temporal directly: it asks this
module (and :mod:`wfwatch.steering`) and renders what comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowHistoryEventFilterType
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.contract import MEMO_TITLE, MEMO_TURN, SESSION_ATTR, SESSION_WORKFLOW_TYPE, TURN_ATTR, SessionInfo
from wfwatch.hub.results import KnownHead

DEFAULT_QUERY = "ExecutionStatus = 'Running' OR CloseTime > '{recent}'"
#: Visibility lists every run of a workflow (each continue-as-new closes one and
#: starts the next), so listing ``limit`` sessions may read more runs than that:
#: at most this many runs per session asked for.
RUNS_SCANNED_PER_SESSION = 10


class QueryError(Exception):
    """Workflows could not be listed; the message says why."""


class QueryRejected(QueryError):
    """The server rejected the visibility query itself (its syntax or a field it does not know)."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    workflow_id: str
    run_id: str
    workflow_type: str
    status: str
    start_time: datetime | None
    title: str
    turn: int | None
    #: Where the session's stream is, when a hub that read it says so (visibility does not know).
    head: KnownHead | None = None
    #: The parent workflow of a child (a sub-agent): its output is already in the parent's stream.
    parent_id: str | None = None
    close_time: datetime | None = None
    task_queue: str = ""
    #: Events in the run's history when visibility last indexed it (0: not known).
    history_length: int = 0

    @property
    def is_wfwatch(self) -> bool:
        return self.workflow_type == SESSION_WORKFLOW_TYPE


async def list_sessions(client: Client, query: str = "", *, limit: int = 200) -> list[SessionRow]:
    """Up to ``limit`` workflows matching ``query`` (Temporal's visibility language), one row per workflow id.

    Each row is the workflow's latest run (see :func:`latest_runs`): a session
    that continued-as-new is listed once, with its current status, title and
    turn. Newest first, in visibility's order. Child sub-agent workflows are
    listed too; the caller filters as it likes.
    """
    runs: list[SessionRow] = []
    ids: set[str] = set()
    try:
        async for execution in client.list_workflows(query or None, limit=limit * RUNS_SCANNED_PER_SESSION):
            if execution.id not in ids and len(ids) >= limit:
                # Enough sessions. Visibility lists a workflow's latest run before
                # its older ones (running first, then by close time), so the runs
                # left can only be older runs of listed ones or other workflows.
                break
            ids.add(execution.id)
            runs.append(await _row(execution))
    except RPCError as err:
        reason = err.message.splitlines()[0] if err.message else str(err)
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise QueryRejected(reason) from err
        raise QueryError(f"cannot list workflows in namespace {client.namespace!r}: {reason}") from err
    return latest_runs(runs)


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def latest_runs(runs: Iterable[SessionRow]) -> list[SessionRow]:
    """One row per workflow id: the run that started last, in the order the ids first appear.

    Every continue-as-new leaves a closed run (status ``continued_as_new``)
    behind, with the title and turn of its time; only the newest run says
    what the session is doing now. On equal start times the run that did not
    continue-as-new wins (it is the one that carried on). The dashboard and
    the bridge both list through this, so they agree.
    """
    latest: dict[str, SessionRow] = {}
    for run in runs:
        kept = latest.get(run.workflow_id)
        if kept is None or _run_order(run) > _run_order(kept):
            latest[run.workflow_id] = run
    return list(latest.values())


def _run_order(row: SessionRow) -> tuple[datetime, bool]:
    started = row.start_time or _EARLIEST
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return (started, row.status != "continued_as_new")


async def _row(execution: WorkflowExecution) -> SessionRow:
    attrs = execution.typed_search_attributes
    status = execution.status or WorkflowExecutionStatus.RUNNING
    title = attrs.get(SESSION_ATTR)
    turn = attrs.get(TURN_ATTR)
    if title is None or turn is None:
        memo = await _memo(execution)
        title = title or str(memo.get(MEMO_TITLE, ""))
        memo_turn = memo.get(MEMO_TURN)
        turn = turn if turn is not None else (memo_turn if isinstance(memo_turn, int) else None)
    return SessionRow(
        workflow_id=execution.id,
        run_id=execution.run_id,
        workflow_type=execution.workflow_type,
        status=status.name.lower(),
        start_time=execution.start_time,
        title=title or "",
        turn=turn,
        parent_id=execution.parent_id,
        close_time=execution.close_time,
        task_queue=execution.task_queue,
        history_length=execution.history_length,
    )


async def _memo(execution: WorkflowExecution) -> Mapping[str, Any]:
    try:
        return await execution.memo()
    except Exception:  # a foreign workflow's memo we cannot decode is just not shown
        return {}


#: How long the dashboard waits for one row's detail before saying it could not get it.
DETAIL_TIMEOUT = 3.0
#: Closed statuses whose close event says why (a failure, a termination reason, a timeout).
_UNSUCCESSFUL = {"failed", "terminated", "timed_out", "canceled"}


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """What visibility does not say about one run: why it ended badly, what is being retried.

    Every string here is untrusted (a workflow or its activities wrote it).
    """

    #: Why a closed run failed, was terminated, timed out or was cancelled ("" when it did not).
    error: str = ""
    #: One line per thing being retried now: a pending activity or workflow task past its first attempt.
    attempts: tuple[str, ...] = ()
    #: What the run is doing now, one entry each: its pending activities (a model call, a tool) and child workflows.
    now: tuple[str, ...] = ()
    #: Events in the run's history now (visibility indexes it only now and then; 0: not known).
    history_length: int = 0
    #: Why the detail could not be fetched ("" when it was).
    problem: str = ""


async def describe_session(
    client: Client, workflow_id: str, run_id: str, *, timeout: float = DETAIL_TIMEOUT
) -> SessionDetail:
    """One run's last error and retries, from ``describe()`` and its close event.

    Bounded by ``timeout`` overall, and never raises for a server problem:
    the dashboard asks this for the highlighted row only, and shows
    :attr:`SessionDetail.problem` instead of the detail when it fails.
    """
    handle = client.get_workflow_handle(workflow_id, run_id=run_id or None)
    rpc_timeout = timedelta(seconds=timeout)
    try:
        async with asyncio.timeout(timeout):
            description = await handle.describe(rpc_timeout=rpc_timeout)
            description_time = datetime.now(UTC)
            raw = description.raw_description
            attempts = [
                _activity_attempt(activity.activity_type.name, activity.attempt, activity.maximum_attempts)
                + (f": {_failure_text(activity.last_failure)}" if activity.HasField("last_failure") else "")
                for activity in raw.pending_activities
                if activity.attempt > 1
            ]
            if raw.HasField("pending_workflow_task") and raw.pending_workflow_task.attempt > 1:
                attempts.append(f"workflow task attempt {raw.pending_workflow_task.attempt}")
            now = [_pending_activity(activity, description_time) for activity in raw.pending_activities]
            now += [
                f"child {child.workflow_type_name or 'workflow'} {child.workflow_id}" for child in raw.pending_children
            ]
            error = ""
            status = (description.status or WorkflowExecutionStatus.RUNNING).name.lower()
            if status in _UNSUCCESSFUL:
                error = await _close_reason(handle.fetch_history_events, rpc_timeout)
    except TimeoutError:
        return SessionDetail(problem=f"no answer within {timeout:g}s")
    except RPCError as err:
        return SessionDetail(problem=f"cannot describe {workflow_id!r}: {err.message}")
    history = raw.workflow_execution_info.history_length if raw.HasField("workflow_execution_info") else 0
    return SessionDetail(error=error, attempts=tuple(attempts), now=tuple(now), history_length=history)


#: How a pending activity's state reads (``PendingActivityState``); SCHEDULED past attempt 1 waits out its backoff.
_ACTIVITY_STATES: Final = {
    PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED: "scheduled",
    PendingActivityState.PENDING_ACTIVITY_STATE_STARTED: "running",
    PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED: "cancelling",
    PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED: "paused",
    PendingActivityState.PENDING_ACTIVITY_STATE_PAUSE_REQUESTED: "pausing",
}


def _pending_activity(activity: PendingActivityInfo, now: datetime) -> str:
    """``stream_llm running 4s`` / ``stream_llm waiting to retry (attempt 3)``: one pending activity, as of ``now``."""
    state = _ACTIVITY_STATES.get(activity.state, "pending")
    if state == "scheduled" and activity.attempt > 1:
        return f"{activity.activity_type.name} waiting to retry (attempt {activity.attempt})"
    shown = f"{activity.activity_type.name} {state}"
    if state == "running" and activity.HasField("last_started_time"):
        started = activity.last_started_time.ToDatetime(tzinfo=UTC)
        shown += f" {max(0, int((now - started).total_seconds()))}s"
    return shown


def _activity_attempt(name: str, attempt: int, maximum: int) -> str:
    return f"activity {name} attempt {attempt}" + (f" of {maximum}" if maximum else "")


async def _close_reason(fetch: Any, rpc_timeout: timedelta) -> str:
    async for event in fetch(event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT, rpc_timeout=rpc_timeout):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            return _failure_text(event.workflow_execution_failed_event_attributes.failure)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            reason = event.workflow_execution_terminated_event_attributes.reason
            return f"terminated: {reason}" if reason else "terminated"
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            return "timed out (the workflow's run or execution timeout passed)"
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            return "cancelled"
    return ""


def _failure_text(failure: Failure, depth: int = 3) -> str:
    """A failure's message and its causes' ("workflow failed: activity failed: disk full")."""
    parts = []
    while depth and failure.message:
        parts.append(failure.message)
        if not failure.HasField("cause"):
            break
        failure = failure.cause
        depth -= 1
    return ": ".join(parts)


class TurnNotFound(Exception):
    """The session has no such turn (yet), or is not a wfwatch session."""


async def turn_start_offset(client: Client, workflow_id: str, turn: int) -> int:
    """The offset where ``turn`` began, from the session's ``info`` query."""
    try:
        info: SessionInfo = await client.get_workflow_handle(workflow_id).query("info", result_type=SessionInfo)
    except RPCError as err:
        raise TurnNotFound(f"cannot ask {workflow_id!r} for its turns: {err.message}") from err
    except Exception as err:  # query failures of a non-wfwatch workflow
        raise TurnNotFound(f"{workflow_id!r} does not report turns (not a wfwatch session?): {err}") from err
    offsets = {int(k): v for k, v in info.turn_offsets.items()}
    if turn not in offsets:
        known = ", ".join(str(t) for t in sorted(offsets)) or "none yet"
        raise TurnNotFound(f"session {workflow_id!r} has no turn {turn} (turns: {known})")
    return offsets[turn]
