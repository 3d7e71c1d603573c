"""Which failed reads the stream reader asks again, and which it reports."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.stream.reader import _is_transient


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (RPCStatusCode.UNAVAILABLE, "connection refused"),
        (RPCStatusCode.DEADLINE_EXCEEDED, "deadline exceeded"),
        (RPCStatusCode.RESOURCE_EXHAUSTED, "namespace rate limit exceeded"),
        (RPCStatusCode.CANCELLED, "Timeout expired"),
        # Seen in the soak while 50 sessions closed at once: a broken HTTP/2 stream.
        (RPCStatusCode.INTERNAL, "h2 protocol error: http2 error"),
        (RPCStatusCode.UNKNOWN, "transport error"),
        # The soak saw this one get past a check that wanted INTERNAL or UNKNOWN.
        (RPCStatusCode.CANCELLED, "h2 protocol error: http2 error"),
    ],
)
def test_transient_failures_are_asked_again(status: RPCStatusCode, message: str) -> None:
    assert _is_transient(RPCError(message, status, b""))


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (RPCStatusCode.NOT_FOUND, "workflow not found"),
        (RPCStatusCode.INVALID_ARGUMENT, "bad offset"),
        (RPCStatusCode.PERMISSION_DENIED, "Request unauthorized."),
        (RPCStatusCode.CANCELLED, "the caller cancelled"),
        # An error that is not about the transport is the server's answer, not a broken stream.
        (RPCStatusCode.INTERNAL, "unable to apply update"),
        (RPCStatusCode.FAILED_PRECONDITION, "Unable to query workflow due to Workflow Task in failed state."),
    ],
)
def test_answers_are_reported_not_retried(status: RPCStatusCode, message: str) -> None:
    assert not _is_transient(RPCError(message, status, b""))


def test_a_timeout_is_transient() -> None:
    assert _is_transient(TimeoutError())


async def test_a_busy_server_is_asked_again_and_other_answers_are_not() -> None:
    """The head query gave up at once on 'consistent query buffer is full' (a fault-tier failure)."""
    from wfwatch.stream.reader import ask_while_busy

    calls: list[int] = []

    async def busy_twice() -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise RPCError("consistent query buffer is full", RPCStatusCode.RESOURCE_EXHAUSTED, b"")
        return 42

    assert await ask_while_busy(busy_twice, delay=0.001) == 42 and len(calls) == 3

    async def broken_stream_once() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RPCError("h2 protocol error: http2 error", RPCStatusCode.UNKNOWN, b"")
        return 7

    calls.clear()
    assert await ask_while_busy(broken_stream_once, delay=0.001) == 7 and len(calls) == 2

    async def not_found() -> int:
        calls.append(1)
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    calls.clear()
    with pytest.raises(RPCError):
        await ask_while_busy(not_found, delay=0.001)
    assert len(calls) == 1

    async def always_busy() -> int:
        calls.append(1)
        raise RPCError("busy", RPCStatusCode.RESOURCE_EXHAUSTED, b"")

    calls.clear()
    with pytest.raises(RPCError):
        await ask_while_busy(always_busy, tries=3, delay=0.001)
    assert len(calls) == 3
