"""What wfwatch relies on in ``temporalio.contrib.workflow_streams``, checked against the installed SDK.

The module is experimental, and wfwatch speaks its protocol without its client:
the reader and publisher copy its wire names and error types; the session
guards its publish and poll handlers (copying the poll validator), calls its
offset Query handler and carries its state across continue-as-new. None of
that is public API, so an SDK upgrade could change it without a type error. These tests fail that day; the
``temporalio`` pin in pyproject.toml allows only the release they passed on.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.workflow_streams import (
    PollInput,
    PollResult,
    PublishEntry,
    PublisherState,
    PublishInput,
    WorkflowStream,
    WorkflowStreamState,
    WorkflowTopicHandle,
)
from temporalio.contrib.workflow_streams import _stream as sdk_stream
from temporalio.contrib.workflow_streams import _topic_handle as sdk_topic_handle
from temporalio.contrib.workflow_streams import _types as sdk_types

from wfwatch.agents import workflows
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub.codec import raw_from_wire
from wfwatch.stream import publisher, reader


def test_wire_names_are_the_sdks() -> None:
    assert publisher.PUBLISH_SIGNAL == sdk_stream._PUBLISH_SIGNAL
    assert reader.POLL == sdk_stream._POLL
    assert reader.OFFSET_QUERY == sdk_stream._OFFSET_QUERY


def test_error_types_are_the_sdks() -> None:
    """The reader tells a truncated offset and a draining run apart by these ``ApplicationError`` types."""
    assert reader._TRUNCATED == sdk_types.TRUNCATED_OFFSET_ERROR_TYPE
    assert reader._DRAINING == sdk_types.STREAM_DRAINING_ERROR_TYPE
    # The session's own poll validator raises it, so readers retry on the next run.
    assert workflows.STREAM_DRAINING == sdk_types.STREAM_DRAINING_ERROR_TYPE


def test_the_sdks_poll_validator_has_only_the_rule_the_session_copies() -> None:
    """The session replaces the poll Update handler, and with it the SDK's validator (no polls while detaching).

    The names the validator's code uses are its rules: a new one here is a rule the session's copy lacks.
    """
    assert set(WorkflowStream._validate_poll.__code__.co_names) == {
        "_detaching",
        "ApplicationError",
        "STREAM_DRAINING_ERROR_TYPE",
    }


def _fields(cls: type[Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        # Carried across continue-as-new (SessionInput.stream_state) and trimmed by the session.
        (
            WorkflowStreamState,
            {
                "log": list[sdk_types._WorkflowStreamWireItem],
                "base_offset": int,
                "publishers": dict[str, PublisherState],
            },
        ),
        (PublisherState, {"sequence": int, "last_seen": datetime}),
        # Read by the reader and the hub (raw_from_wire), sized by the session's trim.
        (sdk_types._WorkflowStreamWireItem, {"topic": str, "data": str, "offset": int}),
        (PollInput, {"topics": list[str], "from_offset": int}),
        (PollResult, {"items": list[sdk_types._WorkflowStreamWireItem], "next_offset": int, "more_ready": bool}),
        # Written by wfwatch's publisher, read by the session's guard.
        (PublishInput, {"items": list[PublishEntry], "publisher_id": str, "sequence": int}),
        (PublishEntry, {"topic": str, "data": str}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_wire_and_state_shapes(cls: type[Any], expected: dict[str, Any]) -> None:
    assert _fields(cls) == expected


def _shape(annotation: Any) -> Any:
    """An annotation as origin and arguments, so ``typing.Callable`` and ``collections.abc.Callable`` compare equal."""
    if isinstance(annotation, list):
        return [_shape(item) for item in annotation]
    origin = get_origin(annotation)
    return annotation if origin is None else (origin, tuple(_shape(arg) for arg in get_args(annotation)))


def _signature(function: Callable[..., Any]) -> list[tuple[str, Any, Any, Any]]:
    parameters = inspect.signature(function, eval_str=True).parameters.values()
    return [(p.name, p.kind, _shape(p.annotation), p.default) for p in parameters]


POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD = inspect.Parameter.KEYWORD_ONLY
EMPTY = inspect.Parameter.empty
TTL = timedelta(seconds=900)


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (
            WorkflowStream.__init__,
            [("self", POSITIONAL, EMPTY, EMPTY), ("prior_state", POSITIONAL, WorkflowStreamState | None, None)],
        ),
        (WorkflowStream.get_state, [("self", POSITIONAL, EMPTY, EMPTY), ("publisher_ttl", KEYWORD, timedelta, TTL)]),
        (
            WorkflowStream.continue_as_new,
            [
                ("self", POSITIONAL, EMPTY, EMPTY),
                ("build_args", POSITIONAL, Callable[[WorkflowStreamState], Sequence[Any]], EMPTY),
                ("publisher_ttl", KEYWORD, timedelta, TTL),
            ],
        ),
        (WorkflowStream.truncate, [("self", POSITIONAL, EMPTY, EMPTY), ("up_to_offset", POSITIONAL, int, EMPTY)]),
        (WorkflowStream.detach_pollers, [("self", POSITIONAL, EMPTY, EMPTY)]),
        (
            WorkflowTopicHandle.publish,
            [("self", POSITIONAL, EMPTY, EMPTY), ("value", POSITIONAL, sdk_topic_handle.T | Payload, EMPTY)],
        ),
        # Private: the session's guards call the publish and poll handlers they replaced with one
        # batch or request, and its ``head`` calls the offset Query's handler with nothing.
        (
            WorkflowStream._on_poll,
            [("self", POSITIONAL, EMPTY, EMPTY), ("payload", POSITIONAL, PollInput, EMPTY)],
        ),
        (
            WorkflowStream._on_publish,
            [("self", POSITIONAL, EMPTY, EMPTY), ("payload", POSITIONAL, PublishInput, EMPTY)],
        ),
        (WorkflowStream._on_offset, [("self", POSITIONAL, EMPTY, EMPTY)]),
    ],
    ids=lambda value: value.__qualname__ if callable(value) else "",
)
def test_stream_methods_used(function: Callable[..., Any], expected: list[tuple[str, Any, Any, Any]]) -> None:
    assert _signature(function) == [(name, kind, _shape(hint), default) for name, kind, hint, default in expected]


def test_handlers_the_session_calls_are_synchronous() -> None:
    """The guards call the SDK's publish handler and ``head`` its offset handler without awaiting; the poll guard awaits.

    An async handler would return an unawaited coroutine there: batches lost, a wrong head.
    """
    assert not inspect.iscoroutinefunction(WorkflowStream._on_publish)
    assert not inspect.iscoroutinefunction(WorkflowStream._on_offset)
    assert get_type_hints(WorkflowStream._on_offset)["return"] is int
    assert inspect.iscoroutinefunction(WorkflowStream._on_poll)
    assert get_type_hints(WorkflowStream._on_poll)["return"] is PollResult
    # The guards stand in for the SDK's handlers, so the converter must decode the same types for them.
    assert _signature(AgentSession._on_publish)[1][2] is PublishInput
    assert _signature(AgentSession._on_poll)[1][2] is PollInput
    assert get_type_hints(AgentSession._on_poll)["return"] is PollResult


def test_wire_items_are_base64_payloads_both_ways() -> None:
    data = b'{"kind":"token","text":"hi"}'
    ours = publisher.payload_wire(data)
    decoded = sdk_types._decode_payload(ours)
    assert decoded.metadata["encoding"] == b"json/plain"
    assert decoded.data == data

    theirs = sdk_types._encode_payload(Payload(metadata={"encoding": b"json/plain"}, data=data))
    raw = raw_from_wire(7, "wfwatch", theirs)
    assert (raw.offset, raw.topic, raw.encoding, raw.data) == (7, "wfwatch", "json/plain", data)
