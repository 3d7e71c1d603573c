"""Real agent-framework workflows (PydanticAI, OpenAI Agents SDK) driven by offline scripted models.

They exist so wfwatch is exercised against what those frameworks' Temporal
integrations really publish into Workflow Streams: the demo starts them, the
recorder captures their streams for unit tests, integration tests run them.
The modules beside this one import their framework at import time; this
package does not, so wfwatch imports fine without the optional extras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.util import find_spec

#: The topic both framework sessions publish their events to.
EVENTS_TOPIC = "agent-events"


@dataclass
class FrameworkSessionInput:
    """Input of either framework workflow: one agent run (one turn) per prompt."""

    prompts: list[str] = field(default_factory=lambda: ["Where is my order A-1042?"])
    #: Make the answering model activity raise mid-stream on attempt 1, so Temporal retries it.
    fail_once: bool = False
    #: Seconds between two streamed deltas (the demo streams slower than the tests).
    delta_delay: float = 0.01
    #: OpenAI Agents only: the first agent hands off to a second one before answering.
    handoff: bool = False
    #: Seconds the workflow waits between two prompts (a durable timer; the demo paces its turns).
    pause_between_prompts: float = 0.0
    #: PydanticAI only: how long the workflow waits for a subscriber's drained Signal at the end.
    drain_timeout: float = 30.0


def missing_framework(name: str) -> str | None:
    """Why the framework session ``name`` ("pydantic-ai" or "openai-agents") can't run here, or ``None``."""
    needs = {
        "pydantic-ai": ("pydantic_ai", "pydantic-ai-slim", "wfwatch[pydantic-ai]"),
        "openai-agents": ("agents", "temporalio-openai-agents", "wfwatch[openai-agents]"),
    }[name]
    module, package, extra = needs
    try:
        found = find_spec(module) is not None
        if name == "openai-agents":
            found = found and find_spec("temporalio.openai_agents") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"{package} is not installed (pip install '{extra}')"
