"""Regenerate screenshots/*.svg from the real app on a real (embedded) Temporal server.

    uv run python scripts/screenshots.py

Starts an in-memory dev server, the demo worker and the demo sessions, waits
until there is something to show (sub-agent lanes, a retried answer), then
drives the dashboard with Textual's Pilot and saves SVG screenshots. Nothing
here is drawn by hand: what you see is what `wfwatch demo` shows.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from temporalio.client import Client

from wfwatch import events
from wfwatch.agents.demo import start_demo_sessions
from wfwatch.agents.frameworks.demo import framework_sessions
from wfwatch.agents.shared import SEARCH_ATTRIBUTES, TASK_QUEUE
from wfwatch.agents.worker import create_worker
from wfwatch.logs import log_to_file
from wfwatch.temporal.server import EmbeddedServer
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.pane import Pane
from wfwatch.tui.widgets.raw_log import RawLog, first_superseded_line

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (160, 45)


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)


async def main() -> None:
    os.environ.setdefault("WFWATCH_HOME", tempfile.mkdtemp(prefix="wfwatch-shots-"))
    log_to_file()
    OUT.mkdir(exist_ok=True)
    async with EmbeddedServer(search_attributes=SEARCH_ATTRIBUTES) as server:
        client = await Client.connect(server.address, namespace=server.namespace)
        async with create_worker(client, TASK_QUEUE):
            await start_demo_sessions(client)
            await shoot_team(client)
            await shoot_flaky_raw(client)
            async with framework_sessions(client):
                await shoot_framework(client)
            await shoot_sessions(client)  # last: the hub's cache now knows the heads it read
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.svg')))} to {OUT}")


async def shoot_sessions(client: Client) -> None:
    app = WfwatchApp(client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(3.0)
        await pilot.press("c")  # the sub-agents, as a tree under their sessions
        app.clear_notifications()
        await pilot.pause(3.0)  # the highlighted row's detail asked for and shown
        app.save_screenshot("sessions.svg", str(OUT))


async def shoot_team(client: Client) -> None:
    app = WfwatchApp(client, open_session="demo-team")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(lambda: isinstance(app.screen, WatchScreen), 10, "the watch screen")
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        first = screen.panes[0]
        await until(lambda: len(first.view.lanes) >= 4 and first.view.lanes[3].messages != (), 90, "sub-agent lanes")
        await pilot.press("a")  # a second device joining live
        await pilot.press("a")  # and a third from the start
        await pilot.pause(4.0)
        screen.panes[0].focus()
        await pilot.press("d")  # the first pane drops off the network
        await pilot.press("p")  # the devices panel: the hub's view of the three panes
        await pilot.pause(1.0)
        app.save_screenshot("watch-three-panes.svg", str(OUT))


async def shoot_flaky_raw(client: Client) -> None:
    app = WfwatchApp(client, open_session="demo-flaky")
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, WatchScreen), 10, "the watch screen")
        pane = app.screen.query_one(Pane)

        def retried() -> bool:
            return any(m.superseded_attempts and m.finished for lane in pane.view.lanes for m in lane.messages)

        await until(retried, 120, "a retried, finished message")
        await pilot.press("v")
        await pilot.pause(0.5)
        line = first_superseded_line(list(pane.records), pane.view)
        if line is not None:
            pane.query_one(RawLog).scroll_to(y=max(0, line - 3), animate=False, immediate=True)
        await pilot.pause(0.5)
        app.save_screenshot("raw-superseded-attempt.svg", str(OUT))
        kinds = {events.kind_of(r.item) for r in pane.records if isinstance(r, events.Record)}
        print(f"raw view shows {len(pane.records)} records of kinds {sorted(kinds)}", file=sys.stderr)


async def shoot_framework(client: Client) -> None:
    """demo-openai: a real OpenAI Agents SDK run, its handoff lane and an answer retried mid-stream."""
    app = WfwatchApp(client, open_session="demo-openai")
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, WatchScreen), 10, "the watch screen")
        pane = app.screen.query_one(Pane)

        def retried_in_a_second_lane() -> bool:
            lanes = pane.view.lanes
            return len(lanes) > 1 and any(m.superseded_attempts and m.finished for m in lanes[1].messages)

        await until(retried_in_a_second_lane, 120, "the handoff lane's retried answer")
        await pilot.pause(1.0)
        app.save_screenshot("framework-openai-agents.svg", str(OUT))


if __name__ == "__main__":
    asyncio.run(main())
