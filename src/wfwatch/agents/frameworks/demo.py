"""The framework sessions `wfwatch demo` starts beside its own: a PydanticAI and an OpenAI Agents SDK agent.

Each runs on its own worker and task queue: a framework's plugin brings its
own payload converter, which is per client, so they cannot share the demo
agent's worker. Without a framework installed its session is skipped, and
the caller is told why in one line.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from wfwatch.agents.frameworks import FrameworkSessionInput, missing_framework
from wfwatch.agents.workflows import MEMO_TITLE

DEMO_PROMPTS = ["Where is my order A-1042?", "And what about order B-2077?", "Can you check C-3310 as well?"]


@dataclass(frozen=True)
class FrameworkDemo:
    session_id: str
    framework: str  # "pydantic-ai" / "openai-agents", as missing_framework() names them
    module: str
    title: str
    input: FrameworkSessionInput


FRAMEWORK_SESSIONS = [
    FrameworkDemo(
        "demo-pydantic",
        "pydantic-ai",
        "wfwatch.agents.frameworks.pydantic_ai_session",
        "support agent (PydanticAI, fails once per answer)",
        FrameworkSessionInput(prompts=DEMO_PROMPTS, fail_once=True, delta_delay=0.06, pause_between_prompts=3.0),
    ),
    FrameworkDemo(
        "demo-openai",
        "openai-agents",
        "wfwatch.agents.frameworks.openai_agents_session",
        "support triage (OpenAI Agents SDK, handoff, fails once per answer)",
        FrameworkSessionInput(
            prompts=DEMO_PROMPTS, fail_once=True, handoff=True, delta_delay=0.06, pause_between_prompts=3.0
        ),
    ),
]


@dataclass
class Started:
    session_ids: list[str] = field(default_factory=list)
    #: One line per session that could not start, saying why.
    skipped: list[str] = field(default_factory=list)


def _load(demo: FrameworkDemo) -> ModuleType | str:
    reason = missing_framework(demo.framework)
    if reason is not None:
        return reason
    try:
        return importlib.import_module(demo.module)
    except ImportError as err:  # installed, but not a version this module works with
        return f"{demo.framework} could not be imported ({err})"


@asynccontextmanager
async def framework_sessions(client: Client) -> AsyncIterator[Started]:
    """Run the framework workers and start (or attach to) their demo sessions while the block runs."""
    started = Started()
    async with AsyncExitStack() as stack:
        for demo in FRAMEWORK_SESSIONS:
            module = _load(demo)
            if isinstance(module, str):
                started.skipped.append(f"skipped {demo.session_id}: {module}")
                continue
            await stack.enter_async_context(module.create_worker(client))
            await module.plugin_client(client).start_workflow(
                module.WORKFLOW_NAME,
                demo.input,
                id=demo.session_id,
                task_queue=module.TASK_QUEUE,
                memo={MEMO_TITLE: demo.title},  # the sessions list's title (set at start: no workflow change)
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
            started.session_ids.append(demo.session_id)
        yield started
