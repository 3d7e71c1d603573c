"""The sessions screen and steering, against the real server, driven by Textual's Pilot."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import ending_workflows
import pytest
from ending_workflows import Completes, Fails, Retries, Waits
from foreign_stream import OrderPipeline
from pilot_helpers import wait_for
from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from wfwatch import steering
from wfwatch.agents.shared import ModelSpec, SessionInput, SubagentSpec
from wfwatch.agents.workflows import AgentSession
from wfwatch.tui.app import WfwatchApp
from wfwatch.tui.screens import sessions as sessions_screen
from wfwatch.tui.screens.sessions import SessionsScreen
from wfwatch.tui.screens.watch import WatchScreen
from wfwatch.tui.widgets.raw_log import GENERIC_TITLE, RawLog
from wfwatch.webui import ENV as UI_ENV

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


def _order(table: DataTable[Any]) -> list[str]:
    return [str(row.key.value) for row in table.ordered_rows]


async def _click_header(pilot: Any, table: DataTable[Any], column: str) -> None:
    """A real mouse click on ``column``'s header."""
    x = 0
    for key, col in table.columns.items():
        if key.value == column:
            break
        x += col.get_render_width(table)
    await pilot.click(table, offset=(x + 1, 0))


@pytest.fixture
async def ending_queue(client: Client) -> AsyncIterator[str]:
    """A task queue with a worker for the tiny workflows of :mod:`ending_workflows`."""
    queue = f"ending-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=ending_workflows.WORKFLOWS, activities=ending_workflows.ACTIVITIES
    ):
        yield queue


async def test_newest_first_sortable_by_key_and_header_and_the_cursor_keeps_its_row(
    client: Client, ending_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.3)
    suffix = uuid.uuid4().hex[:6]
    # Started b, c, a: the order by start time is not the order by id.
    b, c, a, d = (f"sort-{letter}-{suffix}" for letter in "bcad")
    handles = []
    for workflow_id in (b, c, a):
        handles.append(await client.start_workflow(Waits.run, id=workflow_id, task_queue=ending_queue))
        await asyncio.sleep(0.05)  # distinct start times
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        screen.apply_query(f"TaskQueue = '{ending_queue}'")
        table: DataTable[Any] = screen.query_one(DataTable)
        await wait_for(pilot, lambda: len(screen.rows) == 3)
        assert _order(table) == [a, c, b], "newest first by default"
        assert str(table.columns[ColumnKey("started")].label).endswith("▼")

        # The cursor stays on its row when a newer workflow lands above it.
        table.move_cursor(row=1)
        assert screen.highlighted_key() == c
        handles.append(await client.start_workflow(Waits.run, id=d, task_queue=ending_queue))
        await wait_for(pilot, lambda: len(screen.rows) == 4)
        assert _order(table) == [d, a, c, b]
        assert screen.highlighted_key() == c and table.cursor_row == 2

        await pilot.press("s")  # the same column, the other way: oldest first
        assert _order(table) == [b, c, a, d]
        assert str(table.columns[ColumnKey("started")].label).endswith("▲")
        assert screen.highlighted_key() == c, "re-sorting keeps the cursor on its row"

        await _click_header(pilot, table, "workflow id")  # a new column, ascending
        await wait_for(pilot, lambda: screen.sort_column == "workflow id")
        assert _order(table) == [a, b, c, d] and not screen.sort_descending
        await _click_header(pilot, table, "workflow id")  # the same header again: descending
        await wait_for(pilot, lambda: screen.sort_descending)
        assert _order(table) == [d, c, b, a]
        await pilot.pause(0.8)  # refreshes keep the chosen order
        assert _order(table) == [d, c, b, a] and screen.highlighted_key() == c
    for handle in handles:
        await handle.terminate("test over")


async def test_child_workflows_are_a_tree_under_their_parent_whatever_the_sort(
    client: Client, task_queue: str, worker: Worker
) -> None:
    session_id = f"tree-{uuid.uuid4()}"
    handle = await client.start_workflow(
        AgentSession.run,
        SessionInput(
            messages=["go"],
            model=QUICK,
            subagents=[SubagentSpec("researcher", model=QUICK), SubagentSpec("critic", model=QUICK)],
            idle_timeout=0.5,
        ),
        id=session_id,
        task_queue=task_queue,
    )
    await handle.result()
    newer = await client.start_workflow(
        AgentSession.run, SessionInput(messages=["hi"], model=QUICK, idle_timeout=0.5), id=f"zz-{session_id}",
        task_queue=task_queue,
    )  # fmt: skip
    await newer.result()
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table: DataTable[Any] = screen.query_one(DataTable)
        screen.apply_query(f"TaskQueue = '{task_queue}'")
        await wait_for(pilot, lambda: len(screen.rows) == 2)
        await pilot.press("c")
        await wait_for(pilot, lambda: len(screen.rows) == 4)
        children = [key for key, row in screen.rows.items() if row.parent_id == session_id]
        assert len(children) == 2

        def under_parent() -> None:
            order = _order(table)
            at = order.index(session_id)
            assert set(order[at + 1 : at + 3]) == set(children), order
            first, last = order[at + 1], order[at + 2]
            assert _cell(table, first, "workflow id") == f"├─ {first}"
            assert _cell(table, last, "workflow id") == f"└─ {last}"
            assert _cell(table, session_id, "workflow id") == session_id

        under_parent()
        assert _order(table)[0] == newer.id, "the newest top-level session first"
        # Descending by id would put the children (parent id + suffix) above their parent in a flat list.
        await _click_header(pilot, table, "workflow id")
        await _click_header(pilot, table, "workflow id")
        await wait_for(pilot, lambda: screen.sort_column == "workflow id" and screen.sort_descending)
        under_parent()
        assert _order(table)[0] == newer.id
        await pilot.press("c")
        await wait_for(pilot, lambda: len(screen.rows) == 2)


async def test_status_colours_and_the_detail_panel_with_errors_retries_and_the_run(
    client: Client, ending_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_screen, "REFRESH_SECONDS", 0.3)
    suffix = uuid.uuid4().hex[:6]
    failure = "disk full on /var/lib [red]x[/red] \x1b[2J"
    failed = await client.start_workflow(Fails.run, failure, id=f"fails-{suffix}", task_queue=ending_queue)
    completed = await client.start_workflow(Completes.run, id=f"completes-{suffix}", task_queue=ending_queue)
    terminated = await client.start_workflow(Waits.run, id=f"terminated-{suffix}", task_queue=ending_queue)
    cancelled = await client.start_workflow(Waits.run, id=f"cancelled-{suffix}", task_queue=ending_queue)
    timed_out = await client.start_workflow(
        Waits.run, id=f"timed-out-{suffix}", task_queue=ending_queue, execution_timeout=timedelta(seconds=1)
    )
    retrying = await client.start_workflow(Retries.run, id=f"retries-{suffix}", task_queue=ending_queue)
    waiting = await client.start_workflow(Waits.run, id=f"waiting-{suffix}", task_queue=ending_queue)
    await terminated.terminate(reason="operator stopped it")
    await cancelled.cancel()
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table: DataTable[Any] = screen.query_one(DataTable)
        detail = screen.query_one("#detail", Static)
        screen.apply_query(f"TaskQueue = '{ending_queue}'")
        expected = {
            failed.id: ("failed", "bold red"),
            completed.id: ("completed", "blue"),
            terminated.id: ("terminated", "red"),
            cancelled.id: ("canceled", "magenta"),
            timed_out.id: ("timed out", "red"),
            retrying.id: ("running", "green"),
            waiting.id: ("running", "green"),
        }

        def statuses() -> dict[str, tuple[str, str]]:
            cells = {key: table.get_cell(key, "status") for key in screen.rows}
            return {key: (cell.plain, str(cell.style)) for key, cell in cells.items()}

        await wait_for(pilot, lambda: statuses() == expected)

        def show(workflow_id: str) -> str:
            table.move_cursor(row=table.get_row_index(workflow_id))
            return str(detail.render())

        show(failed.id)
        await wait_for(pilot, lambda: "disk full" in str(detail.render()))
        shown = str(detail.render())
        # The failure message literally (markup not applied), the escape made visible, on one line.
        assert "error disk full on /var/lib [red]x[/red] \\x1b" in shown and "\x1b" not in shown
        assert f"run {failed.result_run_id}" in shown and f"queue {ending_queue}" in shown
        assert "history " in shown and " events" in shown and "started 20" in shown and "closed 20" in shown

        show(terminated.id)
        await wait_for(pilot, lambda: "error terminated: operator stopped it" in str(detail.render()))
        show(timed_out.id)
        await wait_for(pilot, lambda: "error timed out" in str(detail.render()))
        show(cancelled.id)
        await wait_for(pilot, lambda: "error cancelled" in str(detail.render()))
        show(retrying.id)
        await wait_for(pilot, lambda: "retries activity flaky_step attempt" in str(detail.render()))
        assert "upstream answered 503" in str(detail.render())
        # What it does now: its activity, between attempts (or in one).
        now = re.search(
            r"now flaky_step (waiting to retry \(attempt \d+\)|running \d+s|scheduled)  ", shown := str(detail.render())
        )
        assert now, shown
        show(waiting.id)
        await wait_for(pilot, lambda: "now waiting (no activity running)" in str(detail.render()))
        show(completed.id)
        await wait_for(pilot, lambda: "retries -" in str(detail.render()) and "error -" in str(detail.render()))
        assert "now -" in str(detail.render())
    await retrying.terminate("test over")
    await waiting.terminate("test over")


async def test_the_web_ui_link_is_copied_with_the_id_quoted(
    client: Client, ending_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id = f"a b/c?d#{uuid.uuid4().hex[:6]}"
    handle = await client.start_workflow(Waits.run, id=workflow_id, task_queue=ending_queue)
    monkeypatch.delenv(UI_ENV, raising=False)
    app = WfwatchApp(client)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        screen.apply_query(f"TaskQueue = '{ending_queue}'")
        await wait_for(pilot, lambda: screen.highlighted_key() == workflow_id)
        app.preferences.ui_url = ""
        await pilot.press("w")  # nothing configured: said, nothing copied
        await wait_for(pilot, lambda: any("no Temporal Web UI" in str(n.message) for n in app._notifications))
        assert app.clipboard == ""

        monkeypatch.setenv(UI_ENV, "http://ui.example:8233/")
        await pilot.press("w")
        run_id = handle.result_run_id
        expected = f"http://ui.example:8233/namespaces/default/workflows/{quote(workflow_id, safe='')}/{run_id}/history"
        await wait_for(pilot, lambda: app.clipboard == expected)
        assert "/workflows/a%20b%2Fc%3Fd%23" in app.clipboard
        assert any(expected in str(n.message) for n in app._notifications), "the toast shows it too"

        app.preferences.ui_url = "https://temporal.internal"  # the preference wins over the environment
        await pilot.press("w")
        await wait_for(pilot, lambda: app.clipboard.startswith("https://temporal.internal/namespaces/default/"))
    await handle.terminate("test over")
