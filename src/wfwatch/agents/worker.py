"""Running the demo agent's worker, in-process or as ``wfwatch worker``."""

from __future__ import annotations

from datetime import timedelta

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
        # Cancellation reaches a streaming activity only with a heartbeat
        # response; by default heartbeats go out every 0.8 x heartbeat_timeout.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        # A killed worker's sticky queue holds the session's next workflow task
        # this long before another worker may take it, and every publish is a
        # Signal, so the stream stalls for that time (default 10 s).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
    )
