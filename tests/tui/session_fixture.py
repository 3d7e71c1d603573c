"""A deterministic session for snapshot tests: same records, same pixels.

Built from the scripted model's own texts, with three sub-agent lanes and an
answer whose first attempt failed halfway (superseded in the canonical view).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from wfwatch import events
from wfwatch.agents.model import scripted_texts, tokenize
from wfwatch.agents.scenarios import tool_call_for
from wfwatch.agents.shared import ModelSpec, SendResult
from wfwatch.hub import Join, KnownHead
from wfwatch.sessions import SessionDetail, SessionRow
from wfwatch.tui.device import DeviceEnd, DeviceRecords, DeviceResult
from wfwatch.tui.services import Services

FROZEN_NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
SPEC = ModelSpec(answer_words=40, reasoning_words=12)
PROMPT = "compare today's run with yesterday's"
TOOL = tool_call_for(PROMPT)


def _message(message_id: str, lane: str, role: str, attempt: int = 1, cut: int | None = None) -> list[events.Event]:
    reasoning, answer = scripted_texts(SPEC, PROMPT, role)
    out: list[events.Event] = [events.AttemptStarted(message_id=message_id, attempt=attempt, lane=lane, turn=1)]
    tokens = [("reasoning", t) for t in tokenize(reasoning)] + [("answer", t) for t in tokenize(answer)]
    for channel, token in tokens[:cut]:
        out.append(
            events.TokenDelta(message_id=message_id, text=token, attempt=attempt, channel=channel, lane=lane, turn=1)  # type: ignore[arg-type]
        )
    if cut is None:
        out.append(events.MessageFinished(message_id=message_id, attempt=attempt, lane=lane, turn=1))
    else:
        out.append(
            events.ErrorEvent(
                message="scripted failure", retryable=True, message_id=message_id, attempt=attempt, turn=1
            )
        )
    return out


def session_events() -> list[events.Event]:
    evs: list[events.Event] = [
        events.SessionStarted(session_id="demo-team", title="research team"),
        events.TurnStarted(turn=1, user_message=PROMPT),
        events.StepStarted(step_id="t1-plan", name="plan", turn=1),
        *_message("t1-plan", "main", "planner"),
        events.StepFinished(step_id="t1-plan", duration_ms=2100, turn=1),
        events.StepStarted(step_id="t1-tool", name="tool", turn=1),
        events.ToolCall(call_id="t1-call-1", name=TOOL.name, arguments=TOOL.arguments_json, turn=1),
        events.ToolResult(call_id="t1-call-1", result=TOOL.result_json, turn=1),
        events.StepFinished(step_id="t1-tool", duration_ms=40, turn=1),
        events.StepStarted(step_id="t1-delegate", name="delegate", turn=1),
    ]
    for index, lane in enumerate(("researcher", "critic", "writer"), start=1):
        evs.append(
            events.SubagentSpawned(lane=lane, name=lane, index=index, turn=1, workflow_id=f"demo-team-t1-{lane}")
        )
    lanes = [_message(f"t1-{lane}", lane, lane) for lane in ("researcher", "critic", "writer")]
    for group in zip(*[lane[: min(map(len, lanes))] for lane in lanes], strict=True):
        evs.extend(group)
    for lane_events in lanes:
        evs.extend(lane_events[min(map(len, lanes)) :])
    for lane in ("researcher", "critic", "writer"):
        evs.append(events.SubagentFinished(lane=lane, turn=1))
    evs += [
        events.StepFinished(step_id="t1-delegate", duration_ms=5300, turn=1),
        events.StepStarted(step_id="t1-answer", name="answer", turn=1),
        *_message("t1-answer", "main", "writer", attempt=1, cut=20),
        *_message("t1-answer", "main", "writer", attempt=2),
        events.StepFinished(step_id="t1-answer", duration_ms=4200, turn=1),
        events.TurnFinished(turn=1),
    ]
    return evs


def session_records() -> list[events.Record]:
    return [events.Record(offset, event) for offset, event in enumerate(session_events())]


def foreign_records() -> list[events.Record]:
    """What a non-wfwatch workflow's stream looks like: its own topics and payloads."""
    payloads = [
        ("orders", {"order": 41, "state": "paid"}),
        ("orders", {"order": 42, "state": "picking"}),
        ("audit", {"who": "ops", "note": "[bold]manual[/bold] \x1b[2J override"}),
        ("orders", {"order": 42, "state": "shipped"}),
    ]
    return [
        events.Record(offset, events.decode(json.dumps(data).encode(), topic=topic))
        for offset, (topic, data) in enumerate(payloads)
    ]


async def open_fixture_device(
    session_id: str, name: str, join: Join, resume_at: int | None
) -> AsyncIterator[DeviceResult]:
    records = foreign_records() if session_id == "orders-42" else session_records()
    start = resume_at if resume_at is not None else (join.offset or 0)
    chosen = records[start:]
    yield DeviceRecords(chosen, len(records), len(records))
    yield DeviceEnd("completed", len(records))


ROWS = [
    SessionRow(
        "demo-live",
        "r1",
        "AgentSession",
        "running",
        datetime(2026, 11, 22, 11, 58, tzinfo=UTC),
        "ops assistant",
        7,
        KnownHead(1204, exact=True),
    ),
    SessionRow(
        "demo-team",
        "r2",
        "AgentSession",
        "running",
        datetime(2026, 11, 22, 11, 40, tzinfo=UTC),
        "research team",
        3,
        KnownHead(388, exact=False),
    ),
    SessionRow(
        "demo-flaky",
        "r3",
        "AgentSession",
        "completed",
        datetime(2026, 11, 22, 9, 5, tzinfo=UTC),
        "flaky model",
        2,
        KnownHead(388, exact=False),
    ),
    SessionRow("orders-42", "r4", "OrderWorkflow", "running", datetime(2026, 11, 22, 11, 59, 30, tzinfo=UTC), "", None),
    SessionRow(
        "nightly-report",
        "r5",
        "AgentSession",
        "failed",
        datetime(2026, 11, 22, 10, 12, tzinfo=UTC),
        "nightly report",
        4,
        close_time=datetime(2026, 11, 22, 10, 31, 7, tzinfo=UTC),
        task_queue="wfwatch-agents",
        history_length=212,
    ),
    *(
        SessionRow(
            f"demo-team-t3-{lane}",
            f"r6-{lane}",
            "SubAgent",
            status,
            datetime(2026, 11, 22, 11, 41 + minute, tzinfo=UTC),
            lane,
            None,
            parent_id="demo-team",
        )
        for minute, (lane, status) in enumerate((("researcher", "completed"), ("critic", "running")))
    ),
]
#: What describe() says of the failed row (the others: nothing being retried).
FAILED_DETAIL = SessionDetail(
    error="model call failed: upstream answered 503 after 5 attempts",
    attempts=(),
)


async def _list(query: str) -> list[SessionRow]:
    return ROWS


async def _send(session_id: str, text: str) -> SendResult:
    return SendResult(turn=2, head_offset=len(session_records()))


async def _cancel(session_id: str) -> None:
    return None


async def _describe(workflow_id: str, run_id: str) -> SessionDetail:
    if workflow_id == "nightly-report":
        return FAILED_DETAIL
    if workflow_id == "demo-live":
        return SessionDetail(attempts=("activity model_step attempt 3 of 5: upstream answered 503",))
    return SessionDetail()


def fixture_services() -> Services:
    return Services(
        list_sessions=_list,
        open_device=open_fixture_device,
        send_message=_send,
        cancel_turn=_cancel,
        describe=_describe,
        monotonic=lambda: 0.0,
        now=lambda: FROZEN_NOW,
    )
