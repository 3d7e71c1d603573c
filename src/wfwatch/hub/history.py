"""What reading a session cost the workflow, as recorded in its own history.

Every long-poll Update a reader makes is written into the workflow's history
(accepted, then completed with the items it returned). Counting those events
across the whole continue-as-new chain is the server-side check that the hub
really reads each session once, however many devices watch: the hub's own
counters could be wrong, the history cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


@dataclass
class HistoryCost:
    """Totals over every run of a workflow's continue-as-new chain."""

    runs: list[str] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    updates: int = 0
    #: Most Updates accepted but not yet completed at any point of the history.
    max_concurrent_updates: int = 0
    signals: int = 0


async def history_cost(client: Client, workflow_id: str, first_run_id: str | None = None) -> HistoryCost:
    """Walk the chain from its first run (``first_run_id``, or the one describe reports)."""
    cost = HistoryCost()
    if first_run_id is None:
        description = await client.get_workflow_handle(workflow_id).describe()
        first_run_id = description.raw_info.first_run_id or description.run_id
    run_id: str | None = first_run_id
    while run_id and run_id not in cost.runs:
        cost.runs.append(run_id)
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        open_updates = 0
        next_run: str | None = None
        async for event in handle.fetch_history_events():
            cost.events += 1
            cost.bytes += event.ByteSize()
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                cost.updates += 1
                open_updates += 1
                cost.max_concurrent_updates = max(cost.max_concurrent_updates, open_updates)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                open_updates -= 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                cost.signals += 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                next_run = event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        run_id = next_run
    return cost
