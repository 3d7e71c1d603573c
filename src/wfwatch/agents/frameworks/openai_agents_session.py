"""A real OpenAI Agents SDK agent on Temporal, streaming into a Workflow Stream, with an offline scripted model.

``OpenAIAgentsPlugin`` with ``ModelActivityParameters(streaming_topic=...)``:
``Runner.run_streamed`` in the workflow runs each model call as the streaming
model activity, which publishes every native OpenAI Responses stream event it
gets from the model to the topic (batched Signals) and hands the list back to
the workflow. The model here is a scripted ``Model`` whose ``stream_response``
yields real ``openai.types.responses`` event objects, as the Responses API
streams them: reasoning summary, a ``lookup_order`` function call (the tool is
a Temporal activity), then reasoning and a streamed answer; with ``fail_once``
the answer raises on attempt 1 after a few deltas, so Temporal retries the
activity and the stream holds both attempts. With ``handoff`` a triage agent
first hands off to a shipping agent (a ``transfer_to_shipping`` call).

Importing this module imports the Agents SDK: import it only where the
``wfwatch[openai-agents]`` extra may be missing behind a guard.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.workflow_streams import WorkflowStream
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from agents import (
        Agent,
        AgentOutputSchemaBase,
        Handoff,
        Model,
        ModelProvider,
        ModelResponse,
        ModelSettings,
        ModelTracing,
        RunConfig,
        Runner,
        Tool,
        TResponseInputItem,
        Usage,
    )
    from agents.items import TResponseStreamEvent
    from openai.types.responses import (
        FunctionTool,
        Response,
        ResponseCompletedEvent,
        ResponseContentPartAddedEvent,
        ResponseContentPartDoneEvent,
        ResponseCreatedEvent,
        ResponseFunctionCallArgumentsDeltaEvent,
        ResponseFunctionCallArgumentsDoneEvent,
        ResponseFunctionToolCall,
        ResponseInProgressEvent,
        ResponseOutputItem,
        ResponseOutputItemAddedEvent,
        ResponseOutputItemDoneEvent,
        ResponseOutputMessage,
        ResponseOutputText,
        ResponseReasoningItem,
        ResponseReasoningSummaryPartAddedEvent,
        ResponseReasoningSummaryPartDoneEvent,
        ResponseReasoningSummaryTextDeltaEvent,
        ResponseReasoningSummaryTextDoneEvent,
        ResponseTextDeltaEvent,
        ResponseTextDoneEvent,
        ResponseUsage,
    )
    from openai.types.responses.response_reasoning_item import Summary
    from openai.types.responses.response_reasoning_summary_part_added_event import Part as SummaryPartAdded
    from openai.types.responses.response_reasoning_summary_part_done_event import Part as SummaryPartDone
    from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
    from temporalio.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin
    from temporalio.openai_agents.workflow import activity_as_tool

    from wfwatch.agents.frameworks import EVENTS_TOPIC, FrameworkSessionInput, script

TASK_QUEUE = "wfwatch-openai-agents"
WORKFLOW_NAME = "OpenAIAgentsSession"
MODEL_NAME = "scripted-responses"
HANDOFF_AGENT = "shipping"
#: The workflow-side topic for the Runner's item events (see ``OpenAIAgentsSession._forward``).
ITEMS_TOPIC = "agent-items"


@activity.defn(name=script.TOOL_NAME)
async def lookup_order(order_id: str) -> str:
    """Look up an order's shipping state by its id (e.g. A-1042)."""
    return json.dumps(script.order_record(order_id))


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _since_last_user(items: str | list[TResponseInputItem]) -> tuple[str, list[Any]]:
    """The newest user prompt, and the items after it (the calls made for it so far)."""
    if isinstance(items, str):
        return items, []
    for index in range(len(items) - 1, -1, -1):
        if _field(items[index], "role") == "user":
            content = _field(items[index], "content")
            return (content if isinstance(content, str) else str(content)), list(items[index + 1 :])
    return "", list(items)


class _ResponseWriter:
    """Builds one streamed response's events, numbered as the Responses API numbers them."""

    def __init__(self, response_id: str, instructions: str | None, tools: list[Tool], handoffs: list[Handoff]) -> None:
        self.id = response_id
        self.sequence = 0
        self.output: list[ResponseOutputItem] = []
        self.created_at = time.time()
        self.instructions = instructions
        self.tools = [
            FunctionTool(name=t.name, parameters=t.params_json_schema, strict=True, type="function")
            for t in tools
            if hasattr(t, "params_json_schema")
        ] + [
            FunctionTool(name=h.tool_name, parameters=h.input_json_schema, strict=True, type="function")
            for h in handoffs
        ]

    def next(self) -> int:
        self.sequence += 1
        return self.sequence - 1

    def response(self, status: str) -> Response:
        done = status == "completed"
        usage = None
        if done:
            out = sum(len(script.words(_text_of(item))) for item in self.output)
            usage = ResponseUsage(
                input_tokens=64,
                input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                output_tokens=out,
                output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
                total_tokens=64 + out,
            )
        return Response(
            id=self.id,
            created_at=self.created_at,
            model=MODEL_NAME,
            object="response",
            output=list(self.output) if done else [],
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=self.tools,  # type: ignore[arg-type]
            instructions=self.instructions,
            status=status,  # type: ignore[arg-type]
            usage=usage,
        )


def _text_of(item: ResponseOutputItem) -> str:
    if isinstance(item, ResponseReasoningItem):
        return " ".join(s.text for s in item.summary)
    if isinstance(item, ResponseFunctionToolCall):
        return item.arguments
    if isinstance(item, ResponseOutputMessage):
        return " ".join(getattr(c, "text", "") for c in item.content)
    return ""


class ScriptedResponsesModel(Model):
    """An offline ``Model`` that streams what ``script`` says, as Responses API events."""

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        **kwargs: Any,
    ) -> ModelResponse:
        """The same script, unstreamed (``Runner.run`` goes here)."""
        final: Response | None = None
        async for event in self.stream_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing, **kwargs
        ):
            if isinstance(event, ResponseCompletedEvent):
                final = event.response
        assert final is not None
        usage = final.usage
        return ModelResponse(
            output=final.output,
            usage=Usage(requests=1, output_tokens=usage.output_tokens if usage else 0),
            response_id=final.id,
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        **kwargs: Any,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Reason, then hand off, call the tool or (after its result) answer."""
        options = model_settings.metadata or {}
        delay = float(options.get("wfwatch_delta_delay", "0.01"))
        fail_once = options.get("wfwatch_fail_once") == "1"
        prompt, since = _since_last_user(input)
        calls = {_field(item, "name") for item in since if _field(item, "type") == "function_call"}
        info = activity.info() if activity.in_activity() else None
        attempt = info.attempt if info else 1
        # Ids as a provider's: new ones on every attempt and every call.
        seed = f"{info.workflow_id if info else ''}:{info.activity_id if info else ''}:{attempt}:{len(since)}"
        tag = hashlib.sha1(seed.encode()).hexdigest()[:16]
        w = _ResponseWriter(f"resp_{tag}", system_instructions, tools, handoffs)
        yield ResponseCreatedEvent(
            response=w.response("in_progress"), sequence_number=w.next(), type="response.created"
        )
        yield ResponseInProgressEvent(
            response=w.response("in_progress"), sequence_number=w.next(), type="response.in_progress"
        )
        transfer = next((h for h in handoffs if h.tool_name not in calls), None)
        if transfer is not None:
            async for event in self._reasoning(
                w, f"rs_{tag}", f"This is a shipping question; {transfer.agent_name} handles those.", delay
            ):
                yield event
            async for event in self._call(w, f"fc_{tag}", f"call_{tag}", transfer.tool_name, "{}", delay):
                yield event
        elif script.TOOL_NAME not in calls:
            async for event in self._reasoning(w, f"rs_{tag}", script.planning_reasoning(prompt), delay):
                yield event
            arguments = script.tool_arguments(prompt)
            async for event in self._call(w, f"fc_{tag}", f"call_{tag}", script.TOOL_NAME, arguments, delay):
                yield event
        else:
            async for event in self._reasoning(w, f"rs_{tag}", script.answer_reasoning(prompt), delay):
                yield event
            async for event in self._message(w, f"msg_{tag}", script.answer(prompt), delay, fail_once and attempt == 1):
                yield event
        yield ResponseCompletedEvent(
            response=w.response("completed"), sequence_number=w.next(), type="response.completed"
        )

    async def _reasoning(self, w: _ResponseWriter, item_id: str, text: str, delay: float) -> AsyncIterator[Any]:
        index = len(w.output)
        yield ResponseOutputItemAddedEvent(
            item=ResponseReasoningItem(id=item_id, summary=[], type="reasoning"),
            output_index=index,
            sequence_number=w.next(),
            type="response.output_item.added",
        )
        yield ResponseReasoningSummaryPartAddedEvent(
            item_id=item_id,
            output_index=index,
            part=SummaryPartAdded(text="", type="summary_text"),
            sequence_number=w.next(),
            summary_index=0,
            type="response.reasoning_summary_part.added",
        )
        for word in script.words(text):
            yield ResponseReasoningSummaryTextDeltaEvent(
                delta=word,
                item_id=item_id,
                output_index=index,
                sequence_number=w.next(),
                summary_index=0,
                type="response.reasoning_summary_text.delta",
            )
            await asyncio.sleep(delay)
        yield ResponseReasoningSummaryTextDoneEvent(
            item_id=item_id,
            output_index=index,
            sequence_number=w.next(),
            summary_index=0,
            text=text,
            type="response.reasoning_summary_text.done",
        )
        yield ResponseReasoningSummaryPartDoneEvent(
            item_id=item_id,
            output_index=index,
            part=SummaryPartDone(text=text, type="summary_text"),
            sequence_number=w.next(),
            summary_index=0,
            type="response.reasoning_summary_part.done",
        )
        item = ResponseReasoningItem(id=item_id, summary=[Summary(text=text, type="summary_text")], type="reasoning")
        w.output.append(item)
        yield ResponseOutputItemDoneEvent(
            item=item, output_index=index, sequence_number=w.next(), type="response.output_item.done"
        )

    async def _call(
        self, w: _ResponseWriter, item_id: str, call_id: str, name: str, arguments: str, delay: float
    ) -> AsyncIterator[Any]:
        index = len(w.output)
        yield ResponseOutputItemAddedEvent(
            item=ResponseFunctionToolCall(
                arguments="", call_id=call_id, name=name, type="function_call", id=item_id, status="in_progress"
            ),
            output_index=index,
            sequence_number=w.next(),
            type="response.output_item.added",
        )
        half = len(arguments) // 2
        for chunk in (arguments[:half], arguments[half:]):
            if not chunk:
                continue
            yield ResponseFunctionCallArgumentsDeltaEvent(
                delta=chunk,
                item_id=item_id,
                output_index=index,
                sequence_number=w.next(),
                type="response.function_call_arguments.delta",
            )
            await asyncio.sleep(delay)
        yield ResponseFunctionCallArgumentsDoneEvent(
            arguments=arguments,
            item_id=item_id,
            output_index=index,
            sequence_number=w.next(),
            type="response.function_call_arguments.done",
        )
        item = ResponseFunctionToolCall(
            arguments=arguments, call_id=call_id, name=name, type="function_call", id=item_id, status="completed"
        )
        w.output.append(item)
        yield ResponseOutputItemDoneEvent(
            item=item, output_index=index, sequence_number=w.next(), type="response.output_item.done"
        )

    async def _message(
        self, w: _ResponseWriter, item_id: str, text: str, delay: float, fail: bool
    ) -> AsyncIterator[Any]:
        index = len(w.output)
        yield ResponseOutputItemAddedEvent(
            item=ResponseOutputMessage(id=item_id, content=[], role="assistant", status="in_progress", type="message"),
            output_index=index,
            sequence_number=w.next(),
            type="response.output_item.added",
        )
        yield ResponseContentPartAddedEvent(
            content_index=0,
            item_id=item_id,
            output_index=index,
            part=ResponseOutputText(annotations=[], text="", type="output_text"),
            sequence_number=w.next(),
            type="response.content_part.added",
        )
        for count, word in enumerate(script.words(text)):
            if fail and count == script.FAIL_AFTER_DELTAS:
                # Let the activity's batched publisher flush what this attempt streamed.
                await asyncio.sleep(0.3)
                raise script.ScriptedFailure(f"scripted model failure after {count} deltas (attempt 1)")
            yield ResponseTextDeltaEvent(
                content_index=0,
                delta=word,
                item_id=item_id,
                logprobs=[],
                output_index=index,
                sequence_number=w.next(),
                type="response.output_text.delta",
            )
            await asyncio.sleep(delay)
        yield ResponseTextDoneEvent(
            content_index=0,
            item_id=item_id,
            logprobs=[],
            output_index=index,
            sequence_number=w.next(),
            text=text,
            type="response.output_text.done",
        )
        part = ResponseOutputText(annotations=[], text=text, type="output_text")
        yield ResponseContentPartDoneEvent(
            content_index=0,
            item_id=item_id,
            output_index=index,
            part=part,
            sequence_number=w.next(),
            type="response.content_part.done",
        )
        item = ResponseOutputMessage(id=item_id, content=[part], role="assistant", status="completed", type="message")
        w.output.append(item)
        yield ResponseOutputItemDoneEvent(
            item=item, output_index=index, sequence_number=w.next(), type="response.output_item.done"
        )


class ScriptedModelProvider(ModelProvider):
    """Every model name resolves to the scripted model (the worker never calls OpenAI)."""

    def get_model(self, model_name: str | None) -> Model:
        return ScriptedResponsesModel()


def _agents(input: FrameworkSessionInput) -> Agent[None]:
    settings = ModelSettings(
        metadata={"wfwatch_fail_once": "1" if input.fail_once else "0", "wfwatch_delta_delay": str(input.delta_delay)}
    )
    lookup = activity_as_tool(lookup_order, start_to_close_timeout=timedelta(seconds=30))
    support = Agent[None](
        name="support",
        instructions="You are a support agent for an online shop. Look orders up before answering.",
        model=MODEL_NAME,
        model_settings=settings,
        tools=[lookup],
    )
    if not input.handoff:
        return support
    shipping = support.clone(
        name=HANDOFF_AGENT, instructions="You handle shipping questions. Look the order up, then answer."
    )
    return Agent[None](
        name="triage",
        instructions="Route the customer to the agent that can help.",
        model=MODEL_NAME,
        model_settings=settings,
        handoffs=[shipping],
    )


@workflow.defn(name=WORKFLOW_NAME)
class OpenAIAgentsSession:
    """One ``Runner.run_streamed`` per prompt (the conversation carries over), streaming to ``agent-events``."""

    @workflow.init
    def __init__(self, input: FrameworkSessionInput) -> None:
        self.stream = WorkflowStream()

    @workflow.run
    async def run(self, input: FrameworkSessionInput) -> list[str]:
        starting = _agents(input)
        history: list[TResponseInputItem] = []
        outputs: list[str] = []
        for index, prompt in enumerate(input.prompts):
            if index and input.pause_between_prompts > 0:
                await workflow.sleep(input.pause_between_prompts)
            # Offline: no trace export to OpenAI.
            result = Runner.run_streamed(
                starting, [*history, {"role": "user", "content": prompt}], run_config=RunConfig(tracing_disabled=True)
            )
            async for event in result.stream_events():
                self._forward(event)
            outputs.append(str(result.final_output))
            history = result.to_input_list()
        return outputs

    def _forward(self, event: Any) -> None:
        """Publish the Runner's own item events (tool outputs, handoffs, agent switches) to ``ITEMS_TOPIC``.

        The model topic holds only what the model streamed: a tool's result, and
        which agent is speaking, exist only in these workflow-side events. Apps
        built on the samples publish them beside the model stream; this does the
        same with the SDK's objects as they are (``raw_item`` unchanged).
        """
        if event.type == "agent_updated_stream_event":
            self.stream.topic(ITEMS_TOPIC).publish({"type": event.type, "agent": event.new_agent.name})
        elif event.type == "run_item_stream_event":
            item = event.item
            self.stream.topic(ITEMS_TOPIC).publish(
                {
                    "type": event.type,
                    "name": event.name,
                    "agent": item.agent.name,
                    "item_type": item.type,
                    "raw_item": item.raw_item,
                }
            )


def plugin() -> OpenAIAgentsPlugin:
    """The Agents SDK plugin with the scripted provider and the streaming model activity."""
    return OpenAIAgentsPlugin(
        model_params=ModelActivityParameters(
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=5),
            streaming_topic=EVENTS_TOPIC,
        ),
        model_provider=ScriptedModelProvider(),
    )


def plugin_client(client: Client) -> Client:
    """``client`` with the Agents SDK plugin (its payload converter), as its workers and starters need."""
    config = client.config()
    config["plugins"] = [*config.get("plugins", []), plugin()]
    return Client(**config)


def create_worker(client: Client, task_queue: str = TASK_QUEUE) -> Worker:
    """A worker for the OpenAI Agents session: the model activity comes with the plugin, the tool is ours."""
    return Worker(
        plugin_client(client),
        task_queue=task_queue,
        workflows=[OpenAIAgentsSession],
        activities=[lookup_order],
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )
