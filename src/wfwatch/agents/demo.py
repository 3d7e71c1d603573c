"""The sessions `wfwatch demo` starts, so there is always something to watch."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from wfwatch.agents.shared import TASK_QUEUE, ModelSpec, SessionInput, SubagentSpec
from wfwatch.agents.workflows import AgentSession

DEMO_SESSIONS: dict[str, SessionInput] = {
    # Long-running: makes up a new turn every few seconds, for hours.
    "demo-live": SessionInput(
        title="ops assistant (long-running)",
        model=ModelSpec(tokens_per_second=25, answer_words=60, reasoning_words=20),
        auto_turns=100_000,
        pause_between_turns=3.0,
    ),
    # Sub-agents fan in to one stream, each in its lane.
    "demo-team": SessionInput(
        title="research team (sub-agents)",
        model=ModelSpec(tokens_per_second=20, answer_words=50, reasoning_words=12),
        subagents=[
            SubagentSpec("researcher", ModelSpec(tokens_per_second=18, answer_words=40, reasoning_words=8)),
            SubagentSpec("critic", ModelSpec(tokens_per_second=12, answer_words=30, reasoning_words=8)),
            SubagentSpec("writer", ModelSpec(tokens_per_second=22, answer_words=45, reasoning_words=8)),
        ],
        auto_turns=100_000,
        pause_between_turns=5.0,
    ),
    # The model fails twice mid-answer; the retry shows clean canonical output.
    "demo-flaky": SessionInput(
        title="flaky model (fails, retries, recovers)",
        model=ModelSpec(
            tokens_per_second=20, answer_words=50, reasoning_words=10, fail_after_tokens=25, fail_on_attempts=[1, 2]
        ),
        auto_turns=100_000,
        pause_between_turns=4.0,
    ),
}


async def start_demo_sessions(client: Client, task_queue: str = TASK_QUEUE) -> list[str]:
    """Start the demo sessions, or attach to them if a previous demo left them running."""
    for workflow_id, spec in DEMO_SESSIONS.items():
        await client.start_workflow(
            AgentSession.run,
            dataclasses.replace(spec, search_attributes=True),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    return list(DEMO_SESSIONS)
