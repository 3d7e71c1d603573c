"""Activities of the demo agent: a streaming LLM call and a tool.

The LLM activity publishes into the *session's* stream (``stream_workflow_id``,
which for a sub-agent is its parent), so every agent of a session fans in to
one offset-addressed log. Each attempt announces itself before streaming, so
readers can supersede a failed attempt's partial output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from wfwatch import events
from wfwatch.agents.model import ModelFailure, make_model
from wfwatch.agents.scenarios import tool_result
from wfwatch.agents.shared import LlmInput, LlmOutput, ToolInput
from wfwatch.stream.publisher import EventPublisher, PublisherSettings

HEARTBEAT_EVERY = 0.5


@activity.defn
async def stream_llm(input: LlmInput) -> LlmOutput:
    info = activity.info()
    attempt = info.attempt
    model = make_model(input.model)
    publisher = EventPublisher.for_workflow(
        activity.client(),
        input.stream_workflow_id,
        settings=PublisherSettings(linger=input.linger),
        epoch=input.stream_epoch or None,
    )
    lane, turn = input.lane, input.turn
    answer: list[str] = []
    tokens = 0
    last_beat = time.monotonic()
    async with publisher:
        await publisher.publish(
            events.AttemptStarted(
                message_id=input.message_id,
                attempt=attempt,
                step_id=input.step_id,
                ts=time.time(),
                lane=lane,
                turn=turn,
            )
        )
        try:
            async for channel, text in model.stream(input.prompt, input.role, attempt):
                await publisher.publish(
                    events.TokenDelta(
                        message_id=input.message_id,
                        text=text,
                        attempt=attempt,
                        channel=channel,
                        ts=time.time(),
                        lane=lane,
                        turn=turn,
                    )
                )
                tokens += 1
                if channel == "answer":
                    answer.append(text)
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_EVERY:
                    activity.heartbeat(tokens)  # lets the workflow's cancel reach us
                    last_beat = now
        except ModelFailure as err:
            await publisher.publish(
                events.ErrorEvent(
                    message=str(err),
                    retryable=True,
                    message_id=input.message_id,
                    attempt=attempt,
                    ts=time.time(),
                    lane=lane,
                    turn=turn,
                )
            )
            raise ApplicationError(str(err), type="ModelFailure") from err
        await publisher.publish(
            events.MessageFinished(message_id=input.message_id, attempt=attempt, ts=time.time(), lane=lane, turn=turn)
        )
    return LlmOutput(text="".join(answer), tokens=tokens, attempt=attempt)


@activity.defn
async def run_tool(input: ToolInput) -> str:
    """A deterministic stand-in tool: the scenario's canned JSON result for its call."""
    return tool_result(input.name, input.arguments)


ALL_ACTIVITIES: list[Callable[..., Any]] = [stream_llm, run_tool]
