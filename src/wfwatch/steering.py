"""Steering a session from outside: send a message (a new turn), cancel a turn.

The one place the dashboard and the bridge talk to a session's handlers,
so their errors read the same everywhere.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.agents.shared import SendResult


class SteeringError(Exception):
    """The session could not take the message or the cancel."""


async def send_message(client: Client, workflow_id: str, text: str) -> SendResult:
    handle = client.get_workflow_handle(workflow_id)
    try:
        result: SendResult = await handle.execute_update("send_message", text, result_type=SendResult)
    except WorkflowUpdateFailedError as err:
        raise SteeringError(f"session {workflow_id!r} refused the message: {err.cause or err}") from err
    except RPCError as err:
        raise SteeringError(_explain(workflow_id, client, err)) from err
    return result


async def cancel_turn(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).signal("cancel_turn")
    except RPCError as err:
        raise SteeringError(_explain(workflow_id, client, err)) from err


def _explain(workflow_id: str, client: Client, err: RPCError) -> str:
    if err.status == RPCStatusCode.NOT_FOUND:
        return f"no running session {workflow_id!r} in namespace {client.namespace!r}"
    return f"session {workflow_id!r}: {err.message}"
