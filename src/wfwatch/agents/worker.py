"""Running the demo agent's worker, in-process or as ``wfwatch worker``."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from wfwatch.agents.activities import ALL_ACTIVITIES
from wfwatch.agents.shared import TASK_QUEUE
from wfwatch.agents.workflows import AgentSession, Subagent

WORKFLOWS = [AgentSession, Subagent]


def create_worker(client: Client, task_queue: str = TASK_QUEUE) -> Worker:
    """A worker for the demo agent's workflows and activities on ``task_queue``."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=ALL_ACTIVITIES,
        max_concurrent_activities=200,
    )
