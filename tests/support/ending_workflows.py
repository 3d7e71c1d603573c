"""Tiny workflows that end the ways a sessions list must tell apart.

One fails with a message of its choosing, one waits (to be cancelled or
terminated), one keeps retrying an activity that fails. Not sandboxed, so
tests can import them from here.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@workflow.defn(name="Fails", sandboxed=False)
class Fails:
    @workflow.run
    async def run(self, message: str) -> None:
        raise ApplicationError(message, non_retryable=True)


@workflow.defn(name="Completes", sandboxed=False)
class Completes:
    @workflow.run
    async def run(self) -> str:
        return "done"


@workflow.defn(name="Waits", sandboxed=False)
class Waits:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@activity.defn(name="flaky_step")
async def flaky_step() -> None:
    raise RuntimeError(f"upstream answered 503 (attempt {activity.info().attempt})")


@workflow.defn(name="Retries", sandboxed=False)
class Retries:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            flaky_step,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0),
        )


WORKFLOWS = [Fails, Completes, Waits, Retries]
ACTIVITIES = [flaky_step]
