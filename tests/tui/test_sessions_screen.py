"""The sessions screen and steering, against the real server, driven by Textual's Pilot."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from foreign_stream import OrderPipeline
from pilot_helpers import wait_for
from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker
from textual.widgets import DataTable, Input, Static

from wfwatch import steering
from wfwatch.agents.shared import ModelSpec, SessionInput, SubagentSpec
from wfwatch.agents.workflows import AgentSession
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens import sessions as sessions_screen
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.raw_log import GENERIC_TITLE, RawLog

QUICK = ModelSpec(tokens_per_second=0, answer_words=5, reasoning_words=0)
HOSTILE_NOTE = "[red]not red[/red] \x1b[2J\x1b]52;c;ZXZpbA==\x07"


@pytest.fixture
async def foreign_session(client: Client, task_queue: str) -> AsyncIterator[str]:
    """A running OrderPipeline with three items on its own topic (one of them hostile)."""
    queue = f"{task_queue}-foreign"
    async with Worker(client, task_queue=queue, workflows=[OrderPipeline]):
        handle = await client.start_workflow(OrderPipeline.run, id=f"orders-{uuid.uuid4()}", task_queue=queue)
        publisher = WorkflowStreamClient.create(client, handle.id)
        async with publisher:
            orders = publisher.topic("orders")
            orders.publish({"order": 1, "state": "paid"})
            orders.publish({"order": 2, "state": "shipped"})
            orders.publish({"order": 3, "note": HOSTILE_NOTE})
        yield handle.id
        await handle.signal(OrderPipeline.finish)
        await handle.result()


def _cell(table: DataTable[Any], row_key: str, column: str) -> str:
    value = table.get_cell(row_key, column)
    return str(getattr(value, "plain", value))


async def test_lists_refreshes_in_place_reports_bad_queries_filters_and_opens_a_foreign_stream(
    client: Client, task_queue: str, worker: Worker, foreign_session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.3)
    session_ids = [f"list-{n}-{uuid.uuid4()}" for n in range(2)]
    for session_id in session_ids:
        await client.start_workflow(
            AgentSession.run,
            SessionInput(title=f"listed {session_id[:6]}", messages=["hello"], model=QUICK),
            id=session_id,
            task_queue=task_queue,
        )
    expected = {*session_ids, foreign_session}
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        listed = f"TaskQueue = '{task_queue}' OR TaskQueue = '{task_queue}-foreign'"
        await pilot.press("slash")
        screen.query_one("#query", Input).value = listed
        await pilot.press("enter")
        await wait_for(pilot, lambda: set(screen.rows) == expected)
        table: DataTable[Any] = screen.query_one(DataTable)
        await wait_for(pilot, lambda: all(_cell(table, s, "turn") == "1" for s in session_ids))
        assert _cell(table, foreign_session, "type") == "OrderPipeline"
        assert _cell(table, foreign_session, "turn") == ""

        # Refreshes update cells in place: same rows, cursor kept, a changed turn shows up.
        table.move_cursor(row=1)
        under_cursor = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        keys_before = list(table.rows)
        await steering.send_message(client, session_ids[0], "again")
        await wait_for(pilot, lambda: _cell(table, session_ids[0], "turn") == "2")
        assert list(table.rows) == keys_before
        assert table.cursor_row == 1
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key == under_cursor

        # A rejected query is shown, not crashed on; the rows stay.
        await pilot.press("slash")
        screen.query_one("#query", Input).value = "WorkflowId ==== nonsense"
        await pilot.press("enter")
        error = screen.query_one("#query-error", Static)
        await wait_for(pilot, lambda: "query rejected" in str(error.render()))
        assert set(screen.rows) == expected and app.is_running
        screen.apply_query(listed)
        await wait_for(pilot, lambda: str(error.render()) == "")

        # The quick filter narrows the rows without asking the server.
        await pilot.press("f")
        screen.query_one("#filter", Input).value = "orders-"
        await wait_for(pilot, lambda: set(screen.rows) == {foreign_session})
        await pilot.press("enter")  # leaves the filter box for the table
        assert table.has_focus
        await pilot.press("enter")  # opens the row under the cursor

        # A stream that is not a wfwatch session opens with generic rendering.
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        watch = app.screen
        assert isinstance(watch, WatchScreen)
        pane = watch.panes[0]
        await wait_for(pilot, lambda: len(pane.records) == 3 and pane._generic)
        await pilot.pause(0.2)
        raw = pane.query_one(RawLog)
        assert raw.display and raw.border_title == GENERIC_TITLE
        shown = "\n".join(raw.lines())
        assert 'orders  {"order": 1, "state": "paid"}' in shown and '"state": "shipped"' in shown
        # JSON shows ESC as \u001b: literal text, and no control byte reaches the terminal.
        assert "[red]not red[/red] \\u001b[2J" in shown and "\x1b" not in shown and "\x07" not in shown

        # Back on the list, the head of the stream the hub just read is known.
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        screen.query_one("#filter", Input).value = ""
        await wait_for(pilot, lambda: set(screen.rows) == expected)
        await wait_for(pilot, lambda: _cell(table, foreign_session, "head") == "3")
        assert all(_cell(table, s, "head") == "" for s in session_ids), "never read: not known"


async def test_send_a_message_and_cancel_the_running_turn_from_the_dashboard(
    client: Client, task_queue: str, worker: Worker
) -> None:
    # Slow enough that the turn is still streaming when "c" is pressed.
    model = ModelSpec(tokens_per_second=15, answer_words=300, reasoning_words=0)
    handle = await client.start_workflow(
        AgentSession.run, SessionInput(model=model), id=f"steer-{uuid.uuid4()}", task_queue=task_queue
    )
    app = WfwatchApp(client, open_session=handle.id)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WatchScreen))
        pane = app.screen.panes[0]  # type: ignore[attr-defined]
        await pilot.press("s")
        prompt = app.screen.query_one("#prompt", Input)
        assert prompt.has_focus
        prompt.value = "what changed since yesterday?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(pane.view.turns) and pane.view.token_count > 5)
        assert pane.view.turns[0].user_message == "what changed since yesterday?"
        assert pane.view.turns[0].status == "running"
        await pilot.press("c")
        await wait_for(pilot, lambda: pane.view.turns[0].status == "cancelled")
        tokens_at_cancel = pane.view.token_count
        await pilot.pause(1.0)
        assert pane.view.token_count == tokens_at_cancel, "no tokens after the cancel"
    await handle.terminate("test over")


async def test_sub_agent_child_workflows_are_listed_only_on_request(
    client: Client, task_queue: str, worker: Worker
) -> None:
    session_id = f"team-{uuid.uuid4()}"
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(
            messages=["go"], model=QUICK, subagents=[SubagentSpec("researcher", model=QUICK)], idle_timeout=0.5
        ),
        id=session_id,
        task_queue=task_queue,
    )
    await handle.result()
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        screen.apply_query(f"TaskQueue = '{task_queue}'")
        await wait_for(pilot, lambda: session_id in screen.rows)
        await pilot.pause(0.5)
        assert set(screen.rows) == {session_id}, "the sub-agent streams into its parent: not a row of its own"
        await pilot.press("c")
        await wait_for(pilot, lambda: len(screen.rows) == 2)
        child = next(key for key in screen.rows if key != session_id)
        assert screen.rows[child].parent_id == session_id
        await pilot.press("c")
        assert set(screen.rows) == {session_id}


async def test_a_session_that_continued_as_new_is_one_running_row_with_its_latest_turn(
    client: Client, task_queue: str, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.3)
    # A rollover after every step: turn 2 runs in the session's 4th or later run.
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(title="rolls over", messages=["one", "two"], model=QUICK, rollover_after_steps=1),
        id=f"rolling-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        screen.apply_query(f"WorkflowId = '{handle.id}'")
        table: DataTable[Any] = screen.query_one(DataTable)

        def shown() -> tuple[str, str, str]:
            if handle.id not in screen.rows:
                return ("", "", "")
            return (
                _cell(table, handle.id, "status"),
                _cell(table, handle.id, "turn"),
                _cell(table, handle.id, "title"),
            )

        await wait_for(pilot, lambda: shown() == ("running", "2", "rolls over"))
        assert (await handle.query(AgentSession.info)).runs >= 4
        assert table.row_count == 1
        await handle.signal(AgentSession.close)
        await handle.result()
        await wait_for(pilot, lambda: shown() == ("completed", "2", "rolls over"))
        assert table.row_count == 1


async def test_rows_left_up_by_a_rejected_query_are_marked_stale_and_the_list_recovers(
    client: Client, task_queue: str, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.3)
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(title="stale or not", messages=["one"], model=QUICK),
        id=f"stale-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    listed = f"WorkflowId = '{handle.id}'"
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table: DataTable[Any] = screen.query_one(DataTable)
        error = screen.query_one("#query-error", Static)
        screen.apply_query(listed)
        await wait_for(pilot, lambda: handle.id in screen.rows and _cell(table, handle.id, "turn") == "1")
        assert not table.has_class("stale")

        screen.apply_query("WorkflowId ==== nonsense")
        await wait_for(pilot, lambda: "query rejected" in str(error.render()))
        assert "showing the results of the previous query (not refreshed)" in str(error.render())
        assert table.has_class("stale") and set(screen.rows) == {handle.id}
        assert table.styles.opacity < 1.0, "stale rows are dimmed"

        # A valid query refreshes at once: the mark goes, and the rows follow the server again.
        screen.apply_query(listed)
        await wait_for(pilot, lambda: str(error.render()) == "" and not table.has_class("stale"))
        await steering.send_message(client, handle.id, "again")
        await wait_for(pilot, lambda: _cell(table, handle.id, "turn") == "2")
    await handle.signal(AgentSession.close)
