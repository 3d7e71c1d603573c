"""The hub's side of Temporal: one reader per session, plus small lookups.

:class:`UpstreamReader` is :class:`~wfwatch.stream.reader.StreamReader`
(same poll protocol, continue-as-new following, gaps and end) with three
additions the hub needs:

* it keeps each item's raw bytes (:class:`RawBatch`) for the cache, and
  decodes each item once (the base reader would decode, then the hub would
  parse the wire again);
* it **catches up by Query and tails by the chosen live mode**: whenever a
  poll says more is ready (a >1 MB backlog) it reads by the poll Query, which
  adds nothing to the workflow's history and spends no Update, and switches
  to ``live_mode`` once it has reached the head;
* it counts Update polls in flight, so tests and the dashboard can check the
  hub never has more than one outstanding per session.

The first is the base reader's ``batch_from`` hook, the second its
``catch_up_by_query`` option, the third its Update stats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.contrib.workflow_streams import PollResult
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.contract import INFO_QUERY
from wfwatch.hub.codec import RawItem, decode_raw, raw_from_wire
from wfwatch.stream.reader import Batch, ReadMode, StreamNotFound, StreamReader

CLOSED_STATUS = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}

#: The AgentSession query the hub uses to find where a turn starts.
SESSION_INFO_QUERY = INFO_QUERY


@dataclass(frozen=True, slots=True)
class RawBatch(Batch):
    """A batch that also carries each item's raw form, for the cache."""

    raw: list[RawItem] = field(default_factory=list)


class UpstreamReader(StreamReader):
    """Reads one session for the hub: Query while behind, ``live_mode`` at the head."""

    def __init__(
        self,
        client: Client,
        workflow_id: str,
        *,
        from_offset: int,
        live_mode: ReadMode,
        poll_interval: float = 0.05,
        epoch: str | None = None,
    ) -> None:
        super().__init__(
            client,
            workflow_id,
            from_offset=from_offset,
            mode=live_mode,
            poll_interval=poll_interval,
            catch_up_by_query=True,
            epoch=epoch,
        )
        self.live_mode: ReadMode = live_mode

    def batch_from(self, result: PollResult) -> RawBatch | None:
        """Keep each item's raw bytes for the cache, and decode each item once."""
        raw = [raw_from_wire(item.offset, item.topic, item.data) for item in result.items]
        if not raw:
            return None
        return RawBatch([decode_raw(item) for item in raw], result.next_offset, self.run_id, raw=raw)

    @property
    def updates_in_flight(self) -> int:
        return self.stats.updates_in_flight

    @property
    def max_updates_in_flight(self) -> int:
        return self.stats.max_updates_in_flight

    async def query_page(self, offset: int) -> PollResult:
        """One poll Query from ``offset`` (≤ ~1 MB): a bounded read of retained items."""
        return await self._query(offset)


async def describe_epoch(client: Client, workflow_id: str) -> tuple[str, str | None]:
    """The stream's epoch (first run id of the chain) and its closed status, if closed.

    Raises :class:`StreamNotFound` when no such workflow exists.
    """
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise StreamNotFound(
                f"no workflow {workflow_id!r} in namespace {client.namespace!r} "
                "(is the id right? is --address/--namespace right?)"
            ) from err
        raise
    epoch = description.raw_info.first_run_id or description.run_id
    status = CLOSED_STATUS.get(description.status) if description.status is not None else None
    return epoch, status


async def session_turn_offsets(client: Client, workflow_id: str) -> dict[int, int] | None:
    """Turn start offsets from a wfwatch AgentSession's ``info`` query.

    ``None`` when the workflow does not answer it (not a wfwatch session, or
    no worker to run the query): callers fall back to scanning the records.
    """
    try:
        info: Any = await client.get_workflow_handle(workflow_id).query(SESSION_INFO_QUERY)
    except (RPCError, WorkflowQueryFailedError):
        return None
    offsets = info.get("turn_offsets") if isinstance(info, dict) else None
    if not isinstance(offsets, dict):
        return None
    try:
        return {int(turn): int(offset) for turn, offset in offsets.items()}
    except (TypeError, ValueError):
        return None
