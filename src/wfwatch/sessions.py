"""Listing sessions from Temporal visibility (the dashboard's sessions screen).

Kept out of the TUI so the TUI never calls Temporal directly: it asks this
module (and :mod:`wfwatch.steering`) and renders what comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.contract import MEMO_TITLE, MEMO_TURN, SESSION_ATTR, SESSION_WORKFLOW_TYPE, TURN_ATTR, SessionInfo
from wfwatch.hub.results import KnownHead

DEFAULT_QUERY = "ExecutionStatus = 'Running' OR CloseTime > '{recent}'"


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

    @property
    def is_wfwatch(self) -> bool:
        return self.workflow_type == SESSION_WORKFLOW_TYPE


async def list_sessions(client: Client, query: str = "", *, limit: int = 200) -> list[SessionRow]:
    """Workflows matching ``query`` (Temporal's visibility language), newest first.

    Child sub-agent workflows are listed too; the caller filters as it likes.
    """
    rows: list[SessionRow] = []
    try:
        async for execution in client.list_workflows(query or None, limit=limit):
            attrs = execution.typed_search_attributes
            status = execution.status or WorkflowExecutionStatus.RUNNING
            title = attrs.get(SESSION_ATTR)
            turn = attrs.get(TURN_ATTR)
            if title is None or turn is None:
                memo = await _memo(execution)
                title = title or str(memo.get(MEMO_TITLE, ""))
                memo_turn = memo.get(MEMO_TURN)
                turn = turn if turn is not None else (memo_turn if isinstance(memo_turn, int) else None)
            rows.append(
                SessionRow(
                    workflow_id=execution.id,
                    run_id=execution.run_id,
                    workflow_type=execution.workflow_type,
                    status=status.name.lower(),
                    start_time=execution.start_time,
                    title=title or "",
                    turn=turn,
                    parent_id=execution.parent_id,
                )
            )
    except RPCError as err:
        reason = err.message.splitlines()[0] if err.message else str(err)
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise QueryRejected(reason) from err
        raise QueryError(f"cannot list workflows in namespace {client.namespace!r}: {reason}") from err
    return rows


async def _memo(execution: WorkflowExecution) -> Mapping[str, Any]:
    try:
        return await execution.memo()
    except Exception:  # a foreign workflow's memo we cannot decode is just not shown
        return {}


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
