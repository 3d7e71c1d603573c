"""The sessions screen: workflows from Temporal visibility, refreshed in place."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static

from wfwatch.sessions import QueryError, QueryRejected, SessionRow
from wfwatch.text import one_line, sanitize
from wfwatch.tui.host import dashboard
from wfwatch.tui.widgets.footer import StableFooter

REFRESH_SECONDS = 2.0
#: "head" is the stream's head offset where the app's hub knows it ("≥N": at least N, from its cache).
COLUMNS = ("workflow id", "type", "status", "started", "turn", "head", "title")


class SessionsScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "Open", id="sessions.open"),
        Binding("slash", "focus_query", "Query", id="sessions.query"),
        Binding("r", "refresh", "Refresh", id="sessions.refresh"),
        Binding("question_mark", "app.help", "Help", id="sessions.help"),
        Binding("f", "filter", "Filter", id="sessions.filter"),
        Binding("c", "toggle_children", "Child workflows", id="sessions.toggle_children"),
    ]

    class OpenSession(Message):
        def __init__(self, workflow_id: str) -> None:
            super().__init__()
            self.workflow_id = workflow_id

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.filter_text = ""
        #: Child workflows (sub-agents) stream into their parent's session; listed on request.
        self.show_children = False
        self.rows: dict[str, SessionRow] = {}
        self._last_rows: list[SessionRow] = []
        #: When the rows shown were listed (a failed refresh leaves them up, marked stale).
        self._listed_at: datetime | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="visibility query, e.g. WorkflowType = 'AgentSession' AND ExecutionStatus = 'Running'",
            id="query",
        )
        yield Static("", id="query-error", markup=False)
        yield Input(placeholder="filter by id or title", id="filter")
        table: DataTable[Text | str] = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield table
        yield StableFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        table.focus()
        self.query_one("#filter").display = False
        self.refresh_rows()

    def on_screen_resume(self) -> None:
        if self.is_mounted and self._timer is not None:
            self.refresh_rows()

    def _schedule(self) -> None:
        # One-shot timer re-armed after each cycle, so refreshes never overlap.
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(REFRESH_SECONDS, self.refresh_rows)

    @work(exclusive=True, group="sessions-refresh")
    async def refresh_rows(self) -> None:
        if not self.is_mounted:
            return
        if not self.is_current:  # a watch screen is on top: don't poll visibility for nothing
            self._schedule()
            return
        try:
            error = self.query_one("#query-error", Static)
        except NoMatches:
            return
        try:
            rows = await dashboard(self).services.list_sessions(self.query_text)
        except QueryRejected as err:
            self._failed(error, f"query rejected: {sanitize(str(err))}", rejected=True)
            return
        except QueryError as err:
            self._failed(error, sanitize(str(err)))
            return
        except Exception as err:
            self._failed(error, f"cannot list workflows: {sanitize(str(err))}")
            return
        error.update("")
        self.query_one(DataTable).remove_class("stale")
        self._last_rows = rows
        self._listed_at = dashboard(self).services.now()
        self._apply(rows)
        self._schedule()

    def _failed(self, error: Static, message: str, *, rejected: bool = False) -> None:
        """Say why the list did not refresh; rows still shown are dimmed and say where they come from.

        Keeps polling, so the list recovers by itself once the server answers
        (a new, valid query refreshes at once).
        """
        stale = bool(self.rows)
        self.query_one(DataTable).set_class(stale, "stale")
        if stale and rejected:
            message += "; showing the results of the previous query (not refreshed)"
        elif stale and self._listed_at is not None:
            message += f"; showing the list as of {self._listed_at.astimezone().strftime('%H:%M:%S')} (not refreshed)"
        error.update(Text(message, style="red"))
        self._schedule()

    def _apply(self, rows: list[SessionRow]) -> None:
        """Update rows in place: no clear(), so no flicker and the cursor stays."""
        if not self.is_mounted:
            return
        try:
            table: DataTable[Text | str] = self.query_one(DataTable)
        except NoMatches:  # the screen is being torn down
            return
        seen = set()
        needle = self.filter_text.lower()
        for row in rows:
            if needle and needle not in row.workflow_id.lower() and needle not in row.title.lower():
                continue
            if row.parent_id and not self.show_children:
                continue
            key = row.workflow_id
            seen.add(key)
            cells = _cells(row, dashboard(self).services.now())
            if key in self.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, column, value, update_width=True)  # a title set later widens its column
            else:
                table.add_row(*cells, key=key)
            self.rows[key] = row
        for key in list(self.rows):
            if key not in seen:
                table.remove_row(key)
                del self.rows[key]

    @on(Input.Submitted, "#query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        self.apply_query(event.value)

    def apply_query(self, query: str) -> None:
        self.query_text = query.strip()
        self.query_one("#query", Input).value = self.query_text
        self.query_one(DataTable).focus()
        self.refresh_rows()

    def action_toggle_children(self) -> None:
        self.show_children = not self.show_children
        self.notify("child workflows shown" if self.show_children else "child workflows hidden (c shows them)")
        self._apply(self._last_rows)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._apply(self._last_rows)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(DataTable).focus()

    def action_focus_query(self) -> None:
        self.query_one("#query", Input).focus()

    def action_refresh(self) -> None:
        self.refresh_rows()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key:
            self.post_message(self.OpenSession(key))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(self.OpenSession(event.row_key.value))


def _cells(row: SessionRow, now: datetime) -> tuple[Text | str, ...]:
    status_style = {"running": "green", "completed": "blue", "failed": "red"}.get(row.status, "yellow")
    return (
        Text(one_line(row.workflow_id)),
        Text(one_line(row.workflow_type)),
        Text(row.status, style=status_style),
        _ago(row.start_time, now),
        "" if row.turn is None else str(row.turn),
        "" if row.head is None else row.head.describe(),
        Text(one_line(row.title)),
    )


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    delta = now - when
    if delta < timedelta(minutes=1):
        return f"{int(delta.total_seconds())}s ago"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)}m ago"
    return when.strftime("%Y-%m-%d %H:%M")
