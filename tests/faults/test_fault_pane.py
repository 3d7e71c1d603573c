"""Bad input through a dashboard pane: what reaches the terminal, and what the pane says.

The CLI side of the corpus lives in ``test_fault_bad_input.py``. Here the same
kinds of input go through the real app on the real server, and the check is
made on what the app would write to the terminal (the compositor's output,
escape sequences and all), not only on the widgets' text.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from faultkit import FaultResult, start_session
from pilot_helpers import wait_for
from rich.console import Console
from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker
from textual._compositor import LayoutUpdate
from textual.widgets import DataTable, Input, Static

from wfwatch import events
from wfwatch.agents.shared import ModelSpec
from wfwatch.reducer import reduce
from wfwatch.stream.reader import read_all
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.lane import LaneColumn
from wfwatch.tui.widgets.pane import Pane

pytestmark = pytest.mark.slow

SIZE = (160, 45)
LONG_TOKEN = "x" * 10_000
#: Markup, SGR, clear screen, cursor home/moves, OSC 52 clipboard, OSC 0 title, C1 CSI and OSC, BEL, bidi.
HOSTILE = (
    "[red]not red[/red] [link=http://evil]x[/link] \x1b[31mred\x1b[0m \x1b[2J\x1b[H\x1b[5A\x1b[10;10H "
    "\x1b]52;c;ZXZpbA==\x07 \x1b]0;pwned\x1b\\ \x9b2J \x9d0;title\x9c \x07\x08 \u202eevil"
)
BIG = "y" * (1024 * 1024 - 200)
#: What a terminal would act on beyond Textual's own drawing (colours and cursor placement).
FOREIGN_CONTROL = re.compile(r"\x1b\]|\x1bP|\x1b\[2J|\x1b\[\d*[ABCDJK]|[\x07\x08\x9b\x9d\x9c]")


def terminal_output(app: WfwatchApp) -> str:
    """Everything the app would write to the terminal for a full redraw of the current screen."""
    console = Console(width=SIZE[0], height=SIZE[1], force_terminal=True, color_system="truecolor")
    update = app.screen._compositor.render_update(full=True)
    assert isinstance(update, LayoutUpdate)
    return "".join(update.render_segments(console))


def literally_shown(app: WfwatchApp) -> str:
    """The screen's text with Textual's own escape sequences taken out."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal_output(app))


async def test_hostile_corpus_in_a_pane_reaches_the_terminal_as_text(
    client: Client, task_queue: str, worker: Worker, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: corpus in a dashboard pane (terminal output)"
    fault_result.what = (
        "a session carrying hostile text (markup, SGR, clear screen, cursor moves, OSC 52, OSC 0, C1, BEL, bidi) "
        "in an answer and a lane name, a 10,000-char token, a 1 MB event, foreign topics, invalid JSON, an unknown "
        "kind and v=99, opened in a pane; the full-screen terminal output is inspected"
    )
    fault_result.checked = (
        "pane view == reduce(read_all()); no foreign control byte in the full-screen output; markup and escapes "
        "shown as text; the 10,000-char token whole; 3 odd items counted in the header; a second pane opens"
    )
    model = ModelSpec(tokens_per_second=0, answer=HOSTILE, reasoning="")
    handle = await start_session(client, task_queue, messages=["go"], model=model, idle_timeout=3.0)
    stream = WorkflowStreamClient.create(client, handle.id, batch_interval=timedelta(milliseconds=50))
    async with stream:
        stream.topic("metrics").publish({"cpu": 0.5, "note": HOSTILE})
        stream.topic(events.TOPIC).publish(b"{not json")
        stream.topic(events.TOPIC).publish({"kind": "from_the_future", "x": 1})
        stream.topic(events.TOPIC).publish(
            {"kind": "token", "v": 99, "message_id": "v99", "text": "from v99", "lane": "corpus", "new": [1]}
        )
        stream.topic(events.TOPIC).publish(
            events.to_dict(events.TokenDelta(message_id="long", text=LONG_TOKEN, lane="corpus"))
        )
        stream.topic(events.TOPIC).publish(
            events.to_dict(events.TokenDelta(message_id="evil-lane", text="lane text", lane=f"lane {HOSTILE}"))
        )
        await stream.flush()
        stream.topic(events.TOPIC).publish(events.to_dict(events.ToolResult(call_id="big", result=BIG, lane="corpus")))
        await stream.flush()
    await handle.result()
    records, _, end = await read_all(client, handle.id, timeout=60)
    assert end is not None
    truth = reduce(records)

    app = WfwatchApp(client, open_session=handle.id)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, WatchScreen) and app.screen.panes[0].stats.state == "ended"
        )
        pane: Pane = app.screen.panes[0]  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert pane.view == truth
        output = terminal_output(app)
        shown = literally_shown(app)
        header = str(pane._header.render())
        columns = {c.lane_name: c for c in app.screen.query(LaneColumn)}
        long_lines = columns["corpus"].shown_text
        fault_result.count(
            records=end.next_offset,
            odd_items=len(truth.odd_items),
            terminal_bytes=len(output.encode()),
            foreign_controls=len(FOREIGN_CONTROL.findall(output)),
            lanes=len(columns),
        )
        assert not FOREIGN_CONTROL.findall(output), FOREIGN_CONTROL.findall(output)[:5]
        assert "[red]not red[/red]" in shown and "\\x1b" in shown  # shown, as text
        assert f"{len(truth.odd_items)} not wfwatch (v)" in header
        # Foreign topic, bytes that are not JSON, an unknown kind; v=99 with an extra field is read (forward-compatible).
        assert [o.kind for o in truth.odd_items] == ["unknown", "invalid", "unknown"]
        # The 10,000-character token is all there, folded into lines.
        assert LONG_TOKEN in long_lines.replace("\n", "")
        await pilot.press("a")  # the app keeps working: a second pane on the same session
        await wait_for(pilot, lambda: len(app.screen.panes) == 2 and app.screen.panes[1].stats.state == "ended")  # type: ignore[attr-defined]


async def test_bad_offsets_in_the_join_prompt_say_what_is_wrong(
    client: Client, task_queue: str, worker: Worker, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: negative and beyond-head offsets in a pane"
    fault_result.what = "join prompt: 'offset -5', 'offset abc', then 'offset 100000' on a running session"
    fault_result.checked = (
        "each bad offset named in a notification and the pane left where it was; the beyond-head join waits "
        "and its header says so; the app keeps running"
    )
    model = ModelSpec(tokens_per_second=20, answer_words=200, reasoning_words=0)
    # Running until terminated below: a closed stream would end the beyond-head pane instead of waiting.
    handle = await start_session(client, task_queue, messages=["long"], model=model, idle_timeout=600)
    app = WfwatchApp(client, open_session=handle.id)
    notes: list[str] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            notes.append(message)
            original(message, **kwargs)

        app.notify = notify  # type: ignore[method-assign]
        await wait_for(
            pilot, lambda: isinstance(app.screen, WatchScreen) and app.screen.panes[0].reducer.next_offset > 3
        )
        pane: Pane = app.screen.panes[0]  # type: ignore[attr-defined]
        for bad in ("offset -5", "offset abc"):
            await pilot.press("j")
            app.screen.query_one("#prompt", Input).value = bad
            await pilot.press("enter")

            def noted(bad: str = bad) -> bool:
                return any(repr(bad) in n for n in notes)

            await wait_for(pilot, noted)
            assert pane.join.describe() == "start", "a rejected join leaves the pane where it was"
        await pilot.press("j")
        app.screen.query_one("#prompt", Input).value = "offset 100000"
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.stats.state == "waiting")
        await pilot.pause(0.3)
        header = str(pane._header.render())
        fault_result.notes.extend([*notes, pane.stats.error])
        fault_result.count(rejected=len(notes), state=pane.stats.state)
        assert "offset 100000 is beyond the head" in pane.stats.error
        assert "beyond the head" in header and "100000/" in header
        assert app.is_running
    await handle.terminate("test over")


async def test_the_dashboard_on_a_namespace_that_does_not_exist(
    temporal_server: Any, fault_result: FaultResult
) -> None:
    fault_result.scenario = "bad input: dashboard on a wrong namespace"
    fault_result.what = "the dashboard connected to namespace 'no-such-namespace': sessions list, then a session opened"
    fault_result.checked = (
        "the list says the namespace was not found (not 'query rejected'), no rows; the pane's one-line error "
        "names the namespace; the app keeps running"
    )
    client = await Client.connect(temporal_server.address, namespace="no-such-namespace")
    app = WfwatchApp(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        error = screen.query_one("#query-error", Static)
        await wait_for(pilot, lambda: "no-such-namespace" in str(error.render()))
        listed = str(error.render())
        assert screen.query_one(DataTable).row_count == 0
        app.open_session("anything")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, WatchScreen)
                and bool(app.screen.panes)
                and app.screen.panes[0].stats.state == "error"
            ),
        )
        pane_error = app.screen.panes[0].stats.error  # type: ignore[attr-defined]
        fault_result.notes.extend([listed, pane_error])
        fault_result.count(app_running=int(app.is_running))
        assert "no-such-namespace" in pane_error and "\n" not in pane_error
        assert "not found" in listed and "query rejected" not in listed, listed
        assert app.is_running
