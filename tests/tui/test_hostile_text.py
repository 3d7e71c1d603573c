"""Workflow-controlled text in every widget: shown literally, never markup, never a terminal command.

Anyone who can start a workflow chooses its id, its memo (title, turn), its
stream (lane, step, tool and message names, errors, user messages) and so
the hub's device ids. Issue 13 found a workflow id ``mk[/nope]x`` crashing
the devices panel (a markup string), ``\\x1b]0;pwned\\x07`` in an id
retitling the terminal (the screen title), and bidi/zero-width characters
reaching it. These tests put such text in every field and look at what the
app would write to the terminal.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hostile import EXAMPLES, hostile_text, terminal_problems
from hypothesis import HealthCheck, given, settings
from pilot_helpers import wait_for
from rich.console import Console, RenderableType
from rich.text import Text
from temporalio.client import Client
from temporalio.worker import Worker
from textual.widgets import DataTable, Static
from textual.widgets._data_table import default_cell_formatter

from wfwatch import events
from wfwatch.agents.shared import ModelSpec, SendResult, SessionInput
from wfwatch.agents.workflows import AgentSession
from wfwatch.hub import DeviceInfo, Join, UpstreamStats
from wfwatch.reducer import Reducer
from wfwatch.sessions import SessionDetail, SessionRow
from wfwatch.steering import SteeringError
from wfwatch.text import one_line
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.device import DeviceRecords, DeviceResult
from wfwatch.tui.screens.sessions import SessionsScreen, _cells, detail_text
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.session_order import Placed
from wfwatch.tui.widgets.devices_panel import DevicesPanel, device_cells, upstream_line
from wfwatch.tui.widgets.lane import LaneColumn, render_lane
from wfwatch.tui.widgets.raw_log import render_records
from wfwatch.tui.widgets.timeline import render_timeline

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFWATCH_HOME", str(tmp_path))


# --- what a workflow controls -----------------------------------------------------------


def hostile_events(text: str) -> list[events.Decoded]:
    """A session whose every workflow-controlled field is ``text``."""
    return [
        events.SessionStarted(session_id=text, title=text),
        events.TurnStarted(turn=1, user_message=text),
        events.StepStarted(step_id="s1", name=text, turn=1),
        events.AttemptStarted(message_id=text, turn=1),
        events.TokenDelta(message_id=text, text=text, channel="reasoning", turn=1),
        events.TokenDelta(message_id=text, text=text, turn=1),
        events.ToolCall(call_id=text, name=text, arguments=text, turn=1),
        events.ToolResult(call_id=text, ok=False, result=text, turn=1),
        events.SubagentSpawned(lane=text or "x", name=text, workflow_id=text, index=1, turn=1),
        events.TokenDelta(message_id=text + "-sub", text=text, lane=text or "x", turn=1),
        events.SubagentFinished(lane=text or "x", status="failed", reason=text, turn=1),
        events.ErrorEvent(message=text, message_id=text, attempt=1, turn=1),
        events.StepFinished(step_id="s1", status="failed", reason=text, duration_ms=5, turn=1),
        events.UnknownItem(topic=text, data={text: text, "kind": text}, kind=text, reason=text),
        events.InvalidItem(topic="wfwatch", reason=text, preview=text),
        events.TurnFinished(turn=1, status="failed", reason=text),
    ]


def hostile_records(text: str) -> list[events.Record]:
    return [events.Record(offset, item) for offset, item in enumerate(hostile_events(text))]


def hostile_row(text: str) -> SessionRow:
    return SessionRow(text, text, text, "running", NOW, text, 3, task_queue=text)


def hostile_child(text: str) -> SessionRow:
    return replace(hostile_row(text), parent_id=text)


def session_cells(row: SessionRow, now: datetime) -> tuple[Text | str, ...]:
    """A row's cells as a child of a listed parent: the tree glyph in front of the hostile id."""
    return _cells(Placed(row, depth=2, last=False), now)


def hostile_detail(text: str) -> SessionDetail:
    return SessionDetail(error=text, attempts=(text, text), problem="")


def hostile_device(text: str) -> DeviceInfo:
    return DeviceInfo(
        device_id=f"tui:{text}:pane-1", name=text, session_id=text, join=text, position=3, head=9, lag=6,
        connected=True, direct=False, last_seen=NOW.timestamp(), delivered=3,
    )  # fmt: skip


def hostile_upstream(text: str) -> UpstreamStats:
    return UpstreamStats(
        session_id=text, mode="update", running=True, caught_up=True, updates=3, queries=1, items=15,
        in_flight=1, max_in_flight=1, backfill_queries=0, restarts=0, errors=1, last_error=text, base=0,
        head=15, retained=15, cached=15, epoch=text, ended=None, devices=2, connected=1,
        direct_devices=0, direct_updates=0, trouble=text,
    )  # fmt: skip


def rendered(renderable: RenderableType) -> str:
    """What Rich writes to a colour terminal for ``renderable``."""
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=80, height=40)
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def cell(value: object) -> str:
    """A DataTable cell as the table draws it (a ``str`` cell is read as markup)."""
    return rendered(default_cell_formatter(value))


# --- every widget, any text ----------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_every_widget_renders_any_workflow_text_literally(text: str) -> None:
    reducer = Reducer()
    reducer.feed(hostile_records(text))
    view = reducer.view()
    outputs = [
        *(rendered(render_lane(lane, 60, {1: text})) for lane in view.lanes),
        rendered(render_timeline(view)),
        rendered(render_records(hostile_records(text), view)),
        rendered(render_records(hostile_records(text), view, generic=True)),
        rendered(upstream_line(hostile_upstream(text))),
        *(cell(value) for value in device_cells(hostile_device(text), NOW)),
        *(cell(value) for value in session_cells(hostile_child(text), NOW)),
        rendered(detail_text(hostile_child(text), hostile_detail(text), NOW, fetching=True)),
        rendered(detail_text(hostile_child(text), SessionDetail(problem=text), NOW, fetching=True)),
        rendered(LaneColumn(text).border_title or ""),
        WfwatchApp(services=_services(text), tune_gc=False).format_title(text, text).plain,
    ]
    for output in outputs:
        assert terminal_problems(output) == [], (text, output)
    # One-line places keep one line: an id cannot add a row or a fake step.
    assert render_timeline(view).plain.count("\n") == len(view.steps) == 1
    for value in (*device_cells(hostile_device(text), NOW), *session_cells(hostile_child(text), NOW)):
        shown = default_cell_formatter(value)
        assert isinstance(shown, Text) and "\n" not in shown.plain
    # The detail panel keeps its four lines whatever the error or the ids say.
    assert detail_text(hostile_child(text), hostile_detail(text), NOW, fetching=True).plain.count("\n") == 3


@pytest.mark.parametrize("text", EXAMPLES)
def test_markup_in_a_cell_is_shown_not_read(text: str) -> None:
    """``[/nope]`` raised MarkupError and ``[bold]``/``[link=...]`` were applied in the devices panel."""
    device_id, name, *_ = device_cells(hostile_device(text), NOW)
    assert re.sub(r"\x1b\[[0-9;]*m", "", cell(device_id)) == f"tui:{one_line(text)}:pane-1\n"
    assert re.sub(r"\x1b\[[0-9;]*m", "", cell(name)) == one_line(text) + "\n"  # no style, no hyperlink taken


# --- the real app, driven by Pilot -----------------------------------------------------------


def _services(text: str) -> Any:
    from wfwatch.tui.services import Services

    records = hostile_records(text)

    async def listing(query: str) -> list[SessionRow]:
        return [hostile_row(text)]

    async def open_device(session_id: str, name: str, join: Join, resume_at: int | None) -> AsyncIterator[DeviceResult]:
        if name != "pane-1":
            raise RuntimeError(text)  # shown in the pane's header
        yield DeviceRecords(records, len(records), len(records) + 5)

    async def send(session_id: str, message: str) -> SendResult:
        raise SteeringError(f"session {session_id!r} refused the message: {text}")

    async def cancel(session_id: str) -> None:
        raise SteeringError(text)

    async def describe(workflow_id: str, run_id: str) -> SessionDetail:
        return hostile_detail(text)  # the detail panel under the list shows it

    return Services(
        list_sessions=listing,
        open_device=open_device,
        send_message=send,
        cancel_turn=cancel,
        device_table=lambda session_id: [hostile_device(text), replace(hostile_device(text), device_id=text)],
        upstream=lambda session_id: hostile_upstream(text),
        describe=describe,
        monotonic=lambda: 0.0,
        now=lambda: NOW,
    )


def screen_output(app: WfwatchApp) -> str:
    """Everything the app would write to the terminal for its current screen, toasts included."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


@pytest.mark.parametrize("text", EXAMPLES)
async def test_a_hostile_session_opens_with_every_panel_and_toast_without_touching_the_terminal(text: str) -> None:
    app = WfwatchApp(services=_services(text), tune_gc=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.rows != {})
        detail = app.screen.query_one("#detail", Static)
        await wait_for(pilot, lambda: one_line(text)[:10] in str(detail.render()).split("error ", 1)[-1])
        await pilot.pause()
        assert terminal_problems(screen_output(app)) == []
        app.screen.query_one(DataTable).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen) and bool(app.screen.panes[0].view.lanes))
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        await pilot.pause(0.3)  # a flush
        assert terminal_problems(screen_output(app)) == []
        await pilot.press("p")  # the devices panel: MarkupError on "mk[/nope]x"
        await wait_for(pilot, lambda: screen.query_one(DevicesPanel).query_one(DataTable).row_count == 2)
        await pilot.press("a")  # a pane whose device fails with the hostile text
        await wait_for(pilot, lambda: len(screen.panes) == 2 and screen.panes[1].stats.state == "error")
        await pilot.press("c")  # cancel: refused, a toast with the hostile text
        await wait_for(pilot, lambda: bool(app._notifications))
        await pilot.pause(0.3)
        assert terminal_problems(screen_output(app)) == []
        screen.panes[0].focus()
        await pilot.press("v")  # the raw view
        await pilot.pause(0.3)
        assert terminal_problems(screen_output(app)) == []
        assert app.is_running
    assert app.return_code in (0, None)


async def test_the_screen_title_is_a_workflow_id_made_safe() -> None:
    text = "t\x1b]0;pwned\x07\x1b[2J\u202e[bold]x\n"
    app = WfwatchApp(services=_services(text), open_session=text, tune_gc=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        await pilot.pause()
        title = app.screen.title or ""
        assert "\x1b" not in title and "\x07" not in title and "\u202e" not in title and "\n" not in title
        assert title == "t\\x1b…\\x1b…\\u202e[bold]x\\n"  # each escape shown as a placeholder, markup literal
        assert terminal_problems(screen_output(app)) == []
        screen = app.screen
        assert isinstance(screen, WatchScreen) and screen.panes[0].session_id == text  # the id itself is kept


async def test_a_real_workflow_named_with_markup_opens_and_its_devices_panel_shows(
    client: Client, task_queue: str, worker: Worker
) -> None:
    """Issue 13, item 1: start ``mk[/nope]x``, open it, press ``p``: the app exited with MarkupError."""
    workflow_id = f"mk[/nope]x-[link=https://evil.example]l[/link]-\u202e-{uuid.uuid4()}"
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(
            title="[bold]t\x1b]0;pwned\x07", messages=["hi"], idle_timeout=0.5, model=ModelSpec(answer_words=8)
        ),
        id=workflow_id,
        task_queue=task_queue,
    )
    await handle.result()
    app = WfwatchApp(client, open_session=workflow_id, tune_gc=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, WatchScreen) and app.screen.panes[0].stats.state == "ended"
        )
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        await pilot.press("p")
        table = screen.query_one(DevicesPanel).query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.pause(0.6)  # the panel's refresh timer runs again
        assert app.is_running
        output = screen_output(app)
        assert terminal_problems(output) == []
        assert "mk[/nope]x-[link=https://evil.example]l[/link]-\\u202e" in re.sub(r"\x1b\[[0-9;]*[mH]", "", output)
