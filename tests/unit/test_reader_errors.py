"""Which failed reads the stream reader asks again, and which it reports."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from itertools import pairwise
from types import SimpleNamespace
from typing import cast

import pytest
from temporalio.client import Client
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

    async def busy_twice(timeout: timedelta) -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise RPCError("consistent query buffer is full", RPCStatusCode.RESOURCE_EXHAUSTED, b"")
        return 42

    assert await ask_while_busy(busy_twice, budget=ENOUGH, delay=0.001) == 42 and len(calls) == 3

    async def broken_stream_once(timeout: timedelta) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RPCError("h2 protocol error: http2 error", RPCStatusCode.UNKNOWN, b"")
        return 7

    calls.clear()
    assert await ask_while_busy(broken_stream_once, budget=ENOUGH, delay=0.001) == 7 and len(calls) == 2

    async def not_found(timeout: timedelta) -> int:
        calls.append(1)
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    calls.clear()
    with pytest.raises(RPCError):
        await ask_while_busy(not_found, budget=ENOUGH, delay=0.001)
    assert len(calls) == 1

    async def always_busy(timeout: timedelta) -> int:
        calls.append(1)
        raise RPCError("busy", RPCStatusCode.RESOURCE_EXHAUSTED, b"")

    calls.clear()
    with pytest.raises(RPCError):
        await ask_while_busy(always_busy, budget=ENOUGH, tries=3, delay=0.001)
    assert len(calls) == 3


ENOUGH = timedelta(seconds=60)


async def test_every_try_shares_one_budget() -> None:
    """CI: the first head query's stream broke as its 10 s ran out and the second waited 10 s more (20.2 s)."""
    from wfwatch.stream.reader import BudgetSpent, ask_while_busy

    timeouts: list[float] = []

    async def slow_then_broken(timeout: timedelta) -> int:
        timeouts.append(timeout.total_seconds())
        await asyncio.sleep(0.3)
        raise RPCError("h2 protocol error: http2 error", RPCStatusCode.UNKNOWN, b"")

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BudgetSpent):
        await ask_while_busy(slow_then_broken, budget=timedelta(seconds=1.2), delay=0.05)
    assert loop.time() - started < 1.2 + 0.5
    # Each try is given only what is left of the budget.
    assert timeouts[0] == pytest.approx(1.2, abs=0.05)
    assert all(later < earlier for earlier, later in pairwise(timeouts))
    assert len(timeouts) >= 2


async def test_a_spent_budget_reads_as_no_answer_in_time() -> None:
    """The error names the timeout and the last try's failure, busy server or broken stream."""
    from wfwatch.stream.reader import QUERY_TIMEOUT, StreamReader

    # Explaining an error reads no server: a stand-in for the client is enough.
    no_server = SimpleNamespace(get_workflow_handle=lambda *_, **__: None, namespace="default")
    reader = StreamReader(cast(Client, no_server), "s-1")
    broken = RPCError("h2 protocol error: http2 error", RPCStatusCode.UNKNOWN, b"")
    text = str(reader._explain(broken, out_of_time=True))
    assert text.startswith("no worker answered a query on 's-1' within 10 s")
    assert "the last try ended in: h2 protocol error" in text and QUERY_TIMEOUT.total_seconds() == 10
    busy = RPCError("consistent query buffer is full", RPCStatusCode.RESOURCE_EXHAUSTED, b"")
    assert str(reader._explain(busy, out_of_time=True)).startswith(
        "the server was too busy to take a query on 's-1' within 10 s"
    )
    # Without the flag a broken stream is just a failed read.
    assert str(reader._explain(broken)).startswith("reading 's-1' failed")
