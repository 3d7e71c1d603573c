"""A workflow that hosts a Workflow Stream but is not a wfwatch session.

What someone else's Temporal app looks like to wfwatch: items on its own
topics, no wfwatch events. The dashboard must list it and open it with
generic rendering. Not sandboxed, so tests can import it from here.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream


@workflow.defn(name="OrderPipeline", sandboxed=False)
class OrderPipeline:
    """Keeps a stream that outside publishers write to, until told to finish."""

    @workflow.init
    def __init__(self) -> None:
        # The SDK checks that the stream is constructed from a method named __init__.
        self.stream = WorkflowStream()
        self.finished = False

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.finished)
        self.stream.detach_pollers()
        await workflow.wait_condition(workflow.all_handlers_finished)
