"""The sessions screen: workflows from Temporal visibility, refreshed in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static
from textual.widgets.data_table import ColumnKey

from wfwatch import webui
from wfwatch.sessions import QueryError, QueryRejected, SessionDetail, SessionRow
from wfwatch.text import one_line, sanitize
from wfwatch.tui.host import dashboard
from wfwatch.tui.session_order import DESCENDING_FIRST, Placed, ordered
from wfwatch.tui.widgets.footer import StableFooter

REFRESH_SECONDS = 2.0
#: "head" is the stream's head offset where the app's hub knows it ("≥N": at least N, from its cache).
COLUMNS = ("workflow id", "type", "status", "started", "turn", "head", "title")
#: A row's colour says how its workflow is doing, at a glance (k9s, the Temporal UI).
STATUS_STYLES = {
    "running": "green",
    "completed": "blue",
    "failed": "bold red",
    "terminated": "red",
    "timed_out": "red",
    "canceled": "magenta",
    "continued_as_new": "dim",
}
#: Statuses whose detail (an error, retries) is worth a describe() call.
DESCRIBED = frozenset({"running", "failed", "terminated", "timed_out", "canceled"})
#: Details kept for rows highlighted before; dropped all at once past this many.
DETAIL_CACHE = 256
#: A running row's detail is asked again when older than this (visibility may not say it changed).
DETAIL_MAX_AGE = 5.0
#: What a detail describes: (workflow id, run id, status, history length).
DetailKey = tuple[str, str, str, int]


class SessionsScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "Open", id="sessions.open"),
        Binding("slash", "focus_query", "Query", id="sessions.query"),
        Binding("r", "refresh", "Refresh", id="sessions.refresh"),
        Binding("question_mark", "app.help", "Help", id="sessions.help"),
        Binding("f", "filter", "Filter", id="sessions.filter"),
        Binding("c", "toggle_children", "Children", id="sessions.toggle_children"),
        Binding("s", "sort", "Sort", id="sessions.sort"),
        Binding("w", "web_ui", "Web UI", id="sessions.web_ui"),
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
        #: Sorted by this column, newest (or largest) first when descending.
        self.sort_column = "started"
        self.sort_descending = True
        #: Describe results by (workflow id, run id), with the row state they describe
        #: (see :func:`_detail_key`): a new event or status asks again.
        self._details: dict[tuple[str, str], tuple[DetailKey | None, float, SessionDetail]] = {}
        self._fetching: DetailKey | None = None

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
        yield Static("", id="detail", markup=False)
        # At 80 columns every key fits but q (it quits anyway; help lists it).
        yield StableFooter(optional=("quit", "app.quit"))

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(self._label(column), key=column)
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
        if not self._still_shown():
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
        if not self._still_shown():
            return
        stale = bool(self.rows)
        self.query_one(DataTable).set_class(stale, "stale")
        if stale and rejected:
            message += "; showing the results of the previous query (not refreshed)"
        elif stale and self._listed_at is not None:
            message += f"; showing the list as of {self._listed_at.astimezone().strftime('%H:%M:%S')} (not refreshed)"
        error.update(Text(message, style="red"))
        self._schedule()

    def _apply(self, rows: list[SessionRow]) -> None:
        """Update rows in place and re-sort: no clear(), so no flicker, and the cursor stays on its row."""
        if not self.is_mounted:
            return
        try:
            table: DataTable[Text | str] = self.query_one(DataTable)
        except NoMatches:  # the screen is being torn down
            return
        under_cursor = self.highlighted_key()
        needle = self.filter_text.lower()
        shown = [
            row
            for row in rows
            if (not needle or needle in row.workflow_id.lower() or needle in row.title.lower())
            and (self.show_children or not row.parent_id)
        ]
        placed = ordered(shown, self.sort_column, descending=self.sort_descending)
        now = dashboard(self).services.now()
        for place in placed:
            key = place.row.workflow_id
            cells = _cells(place, now)
            if key in self.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, column, value, update_width=True)  # a title set later widens its column
            else:
                table.add_row(*cells, key=key)
            self.rows[key] = place.row
        kept = {place.row.workflow_id for place in placed}
        for key in list(self.rows):
            if key not in kept:
                table.remove_row(key)
                del self.rows[key]
        self._order(table, [place.row.workflow_id for place in placed])
        if under_cursor in self.rows and table.get_row_index(under_cursor) != table.cursor_row:
            table.move_cursor(row=table.get_row_index(under_cursor), animate=False)
        self._show_detail()

    def _order(self, table: DataTable[Text | str], keys: list[str]) -> None:
        """Move the table's rows into ``keys``' order, through DataTable's own sort."""
        if [row.key.value for row in table.ordered_rows] == keys:
            return
        rank = {key: index for index, key in enumerate(keys)}
        # The sort key sees cells, not row keys: the id cell of each row is its own object.
        by_cell = {id(table.get_cell(key, COLUMNS[0])): index for key, index in rank.items()}
        table.sort(COLUMNS[0], key=lambda cell: by_cell.get(id(cell), len(keys)))

    def highlighted_key(self) -> str | None:
        """The workflow id of the row under the cursor (``None`` on an empty table)."""
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def highlighted(self) -> SessionRow | None:
        key = self.highlighted_key()
        return self.rows.get(key) if key is not None else None

    def _label(self, column: str) -> Text:
        """A column header; the sorted one says which way (same width either way: no jumping columns)."""
        arrow = (" ▼" if self.sort_descending else " ▲") if column == self.sort_column else "  "
        return Text(column + arrow, style="bold" if column == self.sort_column else "")

    def sort_by(self, column: str, *, descending: bool) -> None:
        self.sort_column, self.sort_descending = column, descending
        table = self.query_one(DataTable)
        for key in COLUMNS:
            table.columns[ColumnKey(key)].label = self._label(key)
        table.refresh()
        self._apply(self._last_rows)

    def action_sort(self) -> None:
        """Each press the next order: this column the other way, then the next column its natural way."""
        natural = self.sort_column in DESCENDING_FIRST
        if self.sort_descending == natural:
            self.sort_by(self.sort_column, descending=not natural)
        else:
            column = COLUMNS[(COLUMNS.index(self.sort_column) + 1) % len(COLUMNS)]
            self.sort_by(column, descending=column in DESCENDING_FIRST)

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == self.sort_column:
            self.sort_by(column, descending=not self.sort_descending)
        else:
            self.sort_by(column, descending=column in DESCENDING_FIRST)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self, *, fetch: bool = True) -> None:
        """The highlighted row's detail: what visibility says now, what describe() said when asked."""
        try:
            panel = self.query_one("#detail", Static)
        except NoMatches:
            return
        row = self.highlighted()
        if row is None:
            panel.update("")
            return
        detail: SessionDetail | None = None
        services = dashboard(self).services
        described = row.status in DESCRIBED and services.describe is not None
        if described:
            fetched_for, fetched_at, detail = self._details.get((row.workflow_id, row.run_id), (None, 0.0, None))
            # A run that moved on (new events, a new status, or simply running a while) is asked
            # again; until it answers, what it said last stays up. One request in flight per key:
            # refreshes don't restart it.
            aged = row.status == "running" and services.monotonic() - fetched_at > DETAIL_MAX_AGE
            stale = fetched_for != _detail_key(row) or aged
            if fetch and stale and self._fetching != _detail_key(row):
                self._fetching = _detail_key(row)
                self._fetch_detail(row)
        panel.update(detail_text(row, detail, services.now(), fetching=described))

    @work(exclusive=True, group="sessions-detail")
    async def _fetch_detail(self, row: SessionRow) -> None:
        describe = dashboard(self).services.describe
        if describe is None:
            return
        try:
            detail = await describe(row.workflow_id, row.run_id)
        except Exception as err:  # the panel says so; a detail never takes the dashboard down
            detail = SessionDetail(problem=f"cannot describe: {err}")
        finally:
            if self._fetching == _detail_key(row):
                self._fetching = None
        if len(self._details) >= DETAIL_CACHE:
            self._details.clear()
        # A failed describe (a timeout) is asked again on the next refresh, not in a tight loop.
        fetched_for = None if detail.problem else _detail_key(row)
        self._details[(row.workflow_id, row.run_id)] = (fetched_for, dashboard(self).services.monotonic(), detail)
        if self._still_shown():
            self._show_detail(fetch=False)

    def _still_shown(self) -> bool:
        """After an await: the screen may have been closed meanwhile (the app quitting removes its widgets)."""
        try:
            self.query_one(DataTable)
        except NoMatches:
            return False
        return self.is_mounted

    def action_web_ui(self) -> None:
        """Show the highlighted workflow's Temporal Web UI address and copy it to the clipboard."""
        row = self.highlighted()
        if row is None:
            self.notify("no workflow highlighted", severity="warning")
            return
        app = dashboard(self)
        base = webui.configured_ui(app.preferences.ui_url, address=app.services.address)
        if base is None:
            self.notify(
                f"no Temporal Web UI configured: set ui_url in the preferences or {webui.ENV} "
                "(wfwatch demo --ui sets it for its server)",
                severity="warning",
                markup=False,
            )
            return
        url = webui.workflow_url(base, app.services.namespace, row.workflow_id, row.run_id)
        app.copy_to_clipboard(url)
        self.notify(sanitize(url) + "\n(copied to the clipboard)", title="Temporal Web UI", markup=False)

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


def _cells(place: Placed, now: datetime) -> tuple[Text | str, ...]:
    row = place.row
    workflow_id = Text(place.glyph(), style="dim")
    workflow_id.append(one_line(row.workflow_id))
    return (
        workflow_id,
        Text(one_line(row.workflow_type)),
        status_text(row.status),
        _ago(row.start_time, now),
        "" if row.turn is None else str(row.turn),
        "" if row.head is None else row.head.describe(),
        Text(one_line(row.title)),
    )


def status_text(status: str) -> Text:
    return Text(status.replace("_", " "), style=STATUS_STYLES.get(status, "yellow"))


def _detail_key(row: SessionRow) -> DetailKey:
    return (row.workflow_id, row.run_id, row.status, row.history_length)


def _when(when: datetime | None, now: datetime) -> str:
    """UTC, as the Temporal UI shows by default; how long ago too while that is short."""
    if when is None:
        return "-"
    shown = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{shown} ({_ago(when, now)})" if now - when < timedelta(hours=1) else shown


def detail_text(row: SessionRow, detail: SessionDetail | None, now: datetime, *, fetching: bool) -> Text:
    """Four lines about one row: times, where it runs, what it does now and retries, its error.

    Every workflow-controlled part is plain text (never markup).
    """
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append_text(status_text(row.status))
    out.append(f"  started {_when(row.start_time, now)}")
    if row.close_time is not None:
        out.append(f"  closed {_when(row.close_time, now)}")
    out.append("\nrun ", style="dim")
    out.append(one_line(row.run_id))
    out.append("  queue ", style="dim")
    out.append(one_line(row.task_queue) or "-")
    out.append("  history ", style="dim")
    history = max(row.history_length, detail.history_length if detail is not None else 0)
    out.append(f"{history} events" if history else "-")
    if row.parent_id:
        out.append("  child of ", style="dim")
        out.append(one_line(row.parent_id))
    out.append("\nturn ", style="dim")
    out.append("-" if row.turn is None else str(row.turn))
    out.append("  now ", style="dim")
    if row.status != "running":
        out.append("-")
    elif detail is None or detail.problem:
        out.append("…" if fetching else "-")
    else:
        # Its pending activities (a model call, a tool) and child workflows; none: waiting for a message or timer.
        out.append("; ".join(one_line(doing) for doing in detail.now) or "waiting (no activity running)")
    out.append("  retries ", style="dim")
    if detail is None:
        out.append("…" if fetching else "-")
    elif detail.problem:
        out.append(one_line(detail.problem), style="yellow")
    else:
        out.append("; ".join(one_line(attempt) for attempt in detail.attempts) or "none")
    out.append("\nerror ", style="dim")
    if detail is None:
        out.append("…" if fetching else "-")
    else:
        out.append(one_line(detail.error) or "-", style="red" if detail.error else "")
    return out


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    delta = now - when
    if delta < timedelta(minutes=1):
        return f"{int(delta.total_seconds())}s ago"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)}m ago"
    return when.strftime("%Y-%m-%d %H:%M")
