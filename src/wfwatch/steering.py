"""Steering a session from outside: send a message (a new turn), cancel a turn.

The one place the dashboard, the bridge and the CLI talk to a session's
handlers, so their errors read the same everywhere, and so one check decides
what may be steered: a Signal or an Update sent to a workflow that is not a
wfwatch session is written into its history (a Signal is accepted whatever
its name), which is someone else's workflow to keep clean.
"""

from __future__ import annotations

from typing import Literal

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.contract import (
    CANCEL_TURN_SIGNAL,
    MEMO_TITLE,
    SEND_MESSAGE_UPDATE,
    SESSION_ATTR,
    SESSION_WORKFLOW_TYPE,
    SendResult,
)

__all__ = ["SendResult", "SteeringError", "cancel_turn", "check_steerable", "is_session", "send_message"]

#: Why steering did not happen: no such workflow, not a session, a closed
#: session, the session's own refusal (its Update validator), or Temporal failing.
Refusal = Literal["not_found", "not_steerable", "not_running", "refused", "failed"]


class SteeringError(Exception):
    """The session could not take the message or the cancel; ``reason`` says which kind of no."""

    def __init__(self, message: str, reason: Refusal = "failed") -> None:
        super().__init__(message)
        self.reason: Refusal = reason


async def check_steerable(client: Client, workflow_id: str) -> None:
    """Raise :class:`SteeringError` unless ``workflow_id`` is a running wfwatch session.

    Decided by reading only (one describe: type, search attributes, memo), so
    a workflow that cannot be steered has nothing written into it.
    """
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        raise _rpc_error(workflow_id, client, err) from err
    if not await is_session(description):
        raise SteeringError(
            f"{workflow_id!r} is a {description.workflow_type!r} workflow, not a wfwatch session "
            f"({SESSION_WORKFLOW_TYPE}): it has no messages or turns to steer, so nothing was sent to it",
            "not_steerable",
        )
    status = description.status
    if status is not None and status != WorkflowExecutionStatus.RUNNING:
        raise SteeringError(
            f"session {workflow_id!r} is {status.name.lower()}: it takes no more messages or cancels", "not_running"
        )


async def is_session(description: WorkflowExecutionDescription) -> bool:
    """Whether a described workflow is a wfwatch session: its type, or the markers a session sets."""
    if description.workflow_type == SESSION_WORKFLOW_TYPE:
        return True
    if description.typed_search_attributes.get(SESSION_ATTR) is not None:
        return True
    try:
        memo = await description.memo()
    except Exception:  # a memo we cannot decode is not one a session wrote
        return False
    return MEMO_TITLE in memo


async def send_message(client: Client, workflow_id: str, text: str) -> SendResult:
    """Queue ``text`` as a new turn of a session; refused (nothing sent) if it is not one."""
    await check_steerable(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        result: SendResult = await handle.execute_update(SEND_MESSAGE_UPDATE, text, result_type=SendResult)
    except WorkflowUpdateFailedError as err:
        raise SteeringError(f"session {workflow_id!r} refused the message: {err.cause or err}", "refused") from err
    except RPCError as err:
        raise _rpc_error(workflow_id, client, err) from err
    return result


async def cancel_turn(client: Client, workflow_id: str) -> None:
    """Ask a session to cancel its running turn; refused (nothing sent) if it is not a session."""
    await check_steerable(client, workflow_id)
    try:
        await client.get_workflow_handle(workflow_id).signal(CANCEL_TURN_SIGNAL)
    except RPCError as err:
        raise _rpc_error(workflow_id, client, err) from err


def _rpc_error(workflow_id: str, client: Client, err: RPCError) -> SteeringError:
    if err.status == RPCStatusCode.NOT_FOUND:
        return SteeringError(f"no running session {workflow_id!r} in namespace {client.namespace!r}", "not_found")
    return SteeringError(f"session {workflow_id!r}: {err.message}")
