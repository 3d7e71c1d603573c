"""A real PydanticAI agent on Temporal, streaming into a Workflow Stream, with an offline scripted model.

The agent is a plain ``Agent`` with the ``TemporalDurability`` capability (the
installed 2.x API; ``TemporalAgent`` is its deprecated wrapper) and
``event_stream_topic``: the model-request activity publishes part start/delta/end
events in batched Signals, workflow code publishes tool call/result events and
each run's terminal ``agent_run_result``. The model is ``FunctionModel`` with a
stream function: thinking, a ``lookup_order`` tool call, then thinking and a
streamed text answer that, with ``fail_once``, raises on attempt 1 after a few
deltas so Temporal retries the activity and the stream holds both attempts.

Importing this module imports pydantic_ai: import it only where the
``wfwatch[pydantic-ai]`` extra may be missing behind a guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import pydantic_ai
    from pydantic_ai import Agent
    from pydantic_ai.durable_exec.temporal import (
        AgentEventStream,
        PydanticAIPlugin,
        PydanticAIWorkflow,
        TemporalDurability,
    )
    from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
    from pydantic_ai.models.function import (
        AgentInfo,
        DeltaThinkingCalls,
        DeltaThinkingPart,
        DeltaToolCall,
        DeltaToolCalls,
        FunctionModel,
    )
    from pydantic_ai.settings import ModelSettings

    from wfwatch.agents.frameworks import EVENTS_TOPIC, FrameworkSessionInput, script

    # PydanticAI prints a first-run banner to the terminal; under the dashboard it would land on
    # Textual's screen. wfwatch owns its output (the flag the library offers for exactly this).
    pydantic_ai.BANNER_ENABLED = False

TASK_QUEUE = "wfwatch-pydantic-ai"
WORKFLOW_NAME = "PydanticAISession"


def _attempt() -> int:
    return activity.info().attempt if activity.in_activity() else 1


def _prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


async def _stream(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
    """The scripted model: think and call the tool, or (after its result) think and answer."""
    options: dict[str, Any] = dict((info.model_settings or {}).get("extra_body") or {})  # type: ignore[call-overload]
    delay = float(options.get("delta_delay", 0.01))
    prompt = _prompt(messages)
    last = messages[-1] if messages else None
    has_result = isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts)
    if not has_result:
        for word in script.words(script.planning_reasoning(prompt)):
            yield {0: DeltaThinkingPart(content=word)}
            await asyncio.sleep(delay)
        call_id = f"call_{script.TOOL_NAME}_{script.order_id(prompt)}"
        arguments = script.tool_arguments(prompt)
        half = len(arguments) // 2
        yield {1: DeltaToolCall(name=script.TOOL_NAME, json_args=arguments[:half], tool_call_id=call_id)}
        await asyncio.sleep(delay)
        yield {1: DeltaToolCall(json_args=arguments[half:])}
        return
    for word in script.words(script.answer_reasoning(prompt)):
        yield {0: DeltaThinkingPart(content=word)}
        await asyncio.sleep(delay)
    fail = bool(options.get("fail_once")) and _attempt() == 1
    for index, word in enumerate(script.words(script.answer(prompt))):
        if fail and index == script.FAIL_AFTER_DELTAS:
            # Let the activity's batched publisher flush what this attempt streamed.
            await asyncio.sleep(0.3)
            raise script.ScriptedFailure(f"scripted model failure after {index} deltas (attempt 1)")
        yield word
        await asyncio.sleep(delay)


async def lookup_order(order_id: str) -> dict[str, object]:
    """Look up an order's shipping state by its id (e.g. A-1042)."""
    return script.order_record(order_id)


agent: Agent[None, str] = Agent(
    FunctionModel(stream_function=_stream, model_name="scripted-support"),
    name="support",
    instructions="You are a support agent for an online shop. Look orders up before answering.",
    tools=[lookup_order],
    capabilities=[
        TemporalDurability(
            event_stream_topic=EVENTS_TOPIC,
            model_activity_config={
                "start_to_close_timeout": timedelta(seconds=60),
                "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=5),
            },
        )
    ],
)


@workflow.defn(name=WORKFLOW_NAME)
class PydanticAISession(PydanticAIWorkflow):
    """One PydanticAI agent run per prompt, publishing to ``agent-events``."""

    __pydantic_ai_agents__ = [agent]

    @workflow.init
    def __init__(self, input: FrameworkSessionInput) -> None:
        self.events = AgentEventStream(drain_timeout=timedelta(seconds=input.drain_timeout))

    @workflow.run
    async def run(self, input: FrameworkSessionInput) -> list[str]:
        settings = ModelSettings(extra_body={"fail_once": input.fail_once, "delta_delay": input.delta_delay})
        outputs: list[str] = []
        async with self.events:
            for index, prompt in enumerate(input.prompts):
                if index and input.pause_between_prompts > 0:
                    await workflow.sleep(input.pause_between_prompts)
                result = await agent.run(prompt, model_settings=settings)
                outputs.append(result.output)
        return outputs


def plugin_client(client: Client) -> Client:
    """``client`` with PydanticAI's plugin (its payload converter), as its workers and starters need."""
    config = client.config()
    config["plugins"] = [*config.get("plugins", []), PydanticAIPlugin()]
    return Client(**config)


def create_worker(client: Client, task_queue: str = TASK_QUEUE) -> Worker:
    """A worker for the PydanticAI session (its agent's activities come with the plugin)."""
    return Worker(
        plugin_client(client),
        task_queue=task_queue,
        workflows=[PydanticAISession],
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )
