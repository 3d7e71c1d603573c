"""Stopping the demo is bounded: a stuck stop is forced, naming its stage."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from wfwatch.shutdown import EXIT_INTERRUPTED, BoundedStop


def test_a_stop_that_outlasts_its_time_is_forced_and_says_where_it_was_stuck(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exited = threading.Event()
    codes: list[int] = []
    killed: list[str] = []

    def exit_now(code: int) -> None:
        codes.append(code)
        exited.set()

    stop = BoundedStop(0.05, exit_now=exit_now)
    stop.on_force = lambda: killed.append("server")
    stop.at("stopping the demo worker")
    stop.stopping()
    assert exited.wait(5)
    assert codes == [EXIT_INTERRUPTED] and killed == ["server"]
    assert "still stopping after 0 s (stopping the demo worker); exiting now" in capsys.readouterr().err


def test_a_stop_that_ends_in_time_is_not_forced() -> None:
    codes: list[int] = []
    stop = BoundedStop(0.2, exit_now=codes.append)
    stop.stopping()
    stop.cancel()
    threading.Event().wait(0.4)
    assert codes == []


async def test_ctrl_c_cancels_the_task_and_a_second_one_forces_the_exit() -> None:
    codes: list[int] = []
    stop = BoundedStop(60, exit_now=codes.append)
    previous = signal.getsignal(signal.SIGINT)

    async def work() -> None:
        stop.install()
        await asyncio.sleep(60)

    task = asyncio.create_task(work())
    await asyncio.sleep(0.05)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert stop.interrupted and codes == []
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.05)
        assert codes == [EXIT_INTERRUPTED]
    finally:
        stop.cancel()
        signal.signal(signal.SIGINT, previous)
