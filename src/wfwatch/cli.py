"""The ``wfwatch`` command line.

Every command that talks to Temporal takes the ``temporal`` CLI's connection
flags (``--address``, ``--namespace``, ``--profile``, TLS, API key). Errors a
user can fix are printed as one line and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from wfwatch import events, export, paths
from wfwatch.cli_options import add_connection_options, click_errors, connect_from_cli, options_from_click
from wfwatch.schemas import SCHEMAS, Translator
from wfwatch.shutdown import BoundedStop
from wfwatch.temporal.connect import ConnectionOptions
from wfwatch.text import one_line, sanitize

if TYPE_CHECKING:
    from temporalio.client import Client

    from wfwatch.stream.reader import ReadResult, StreamReader

T = TypeVar("T")


#: The exit status when stdout's reader went away (``wfwatch tail ID --jsonl | head``): a shell's
#: for a writer ended by SIGPIPE, distinct from every code ``tail`` documents.
EXIT_PIPE_CLOSED = 141


#: Shared by ``tail`` and ``export``: force a framework schema (wfwatch.schemas) where a stream is ambiguous.
schema_option = click.option(
    "--schema",
    type=click.Choice(list(SCHEMAS)),
    default=None,
    help="Read other topics as this agent framework's schema (default: recognised from the payloads).",
)


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; Ctrl-C exits quietly with status 130, a connection error is one ``Error:`` line."""
    try:
        with click_errors():
            return asyncio.run(_as_coroutine(coro_factory))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        _stdout_gone()


def _stdout_gone() -> NoReturn:
    """The reader of stdout left: exit quietly, and keep the final flush from failing again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(EXIT_PIPE_CLOSED) from None


def entry() -> None:
    """Console-script entry point.

    The process ends with ``os._exit`` once click is done and output is
    flushed: a temporalio ``Client`` still alive at interpreter shutdown can
    crash the interpreter in its native finalizers (seen here as a segfault in
    ``PyGILState_Release``), which would turn a clean exit into status 139.
    """
    code = 0
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _options(ctx: click.Context, /, conn: dict[str, Any]) -> ConnectionOptions:
    """Connection flags given before the command count too: ``wfwatch --address X tail ID``."""
    merged = dict(ctx.parent.params) if ctx.parent is not None else {}
    merged.update({key: value for key, value in conn.items() if value is not None})
    return options_from_click(merged)


async def _as_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


@click.group(invoke_without_command=True)
@click.version_option(package_name="wfwatch")
@add_connection_options
@click.option(
    "--bridge",
    "bridges",
    multiple=True,
    metavar="URL",
    help="A `wfwatch serve` replica whose devices (browser viewers) the devices panel lists too; repeatable. "
    "Its token, if any, comes from WFWATCH_TOKEN.",
)
@click.pass_context
def main(ctx: click.Context, /, bridges: tuple[str, ...] = (), **conn: Any) -> None:
    """Watch AI agents streaming from Temporal workflows.

    Without a command, opens the dashboard against the Temporal server given
    by the connection flags (default localhost:7233). `wfwatch demo` starts
    everything locally instead.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if ctx.invoked_subcommand is None:
        options = options_from_click(conn)
        _run(lambda: _dashboard(options, bridges))


async def _dashboard(options: ConnectionOptions, bridges: Sequence[str] = ()) -> None:
    from wfwatch.hub.remote import RemoteDevices
    from wfwatch.logs import log_to_file
    from wfwatch.tui.app import WfwatchApp

    log_to_file()
    client = await connect_from_cli(options)
    remote = RemoteDevices(bridges, token=os.environ.get("WFWATCH_TOKEN") or None) if bridges else None
    await WfwatchApp(client, remote=remote).run_async()


@main.command()
@click.option("--db", "db_path", type=click.Path(path_type=Path), help="SQLite file of the embedded server.")
@click.option("--fresh", is_flag=True, help="Start from an empty server database.")
@click.option("--ui/--no-ui", "temporal_ui", default=False, help="Also serve Temporal's Web UI.")
@click.option("--headless", is_flag=True, help="No dashboard: print progress until Ctrl-C (or --seconds).")
@click.option("--seconds", type=float, default=0.0, help="With --headless, stop after this long.")
def demo(db_path: Path | None, fresh: bool, temporal_ui: bool, headless: bool, seconds: float) -> None:
    """Embedded Temporal server + worker + demo sessions + the dashboard."""
    _run(lambda: _demo(db_path, fresh, temporal_ui, headless, seconds))


#: How long stopping the demo (workers, sessions, server) may take before it is forced.
DEMO_STOP_SECONDS = 20.0


async def _demo(db_path: Path | None, fresh: bool, temporal_ui: bool, headless: bool, seconds: float) -> None:
    from temporalio.client import Client

    from wfwatch.agents.demo import start_demo_sessions
    from wfwatch.agents.frameworks.demo import framework_sessions
    from wfwatch.agents.shared import SEARCH_ATTRIBUTES, TASK_QUEUE
    from wfwatch.agents.worker import create_worker
    from wfwatch.temporal.running_demo import RunningDemo, advertise
    from wfwatch.temporal.server import EmbeddedServer

    if headless:
        from wfwatch.logs import log_one_line_to_stderr

        log_one_line_to_stderr()
    else:
        from wfwatch.logs import log_to_file

        log_file = log_to_file()
        click.echo(f"logs go to {log_file}", err=True)
    db = db_path or paths.server_db()
    if fresh and db.exists():
        db.unlink()
    db.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"starting Temporal dev server (db {db}) …", err=True)
    stop = BoundedStop(DEMO_STOP_SECONDS)
    stop.install()
    try:
        async with AsyncExitStack() as stack:
            server = await stack.enter_async_context(
                EmbeddedServer(
                    db_path=db, ui=temporal_ui, search_attributes=SEARCH_ATTRIBUTES, log_path=paths.server_log()
                )
            )
            stop.on_force = server.kill_now
            stack.callback(stop.at, "stopping the Temporal server")
            click.echo(f"server at {server.address} in {server.startup_seconds:.2f}s", err=True)
            if server.ui_url:
                click.echo(f"Temporal UI: {server.ui_url}", err=True)
            client = await Client.connect(server.address, namespace=server.namespace)
            await stack.enter_async_context(create_worker(client, TASK_QUEUE))
            stack.callback(stop.at, "stopping the demo worker")
            frameworks = await stack.enter_async_context(framework_sessions(client))
            stack.callback(stop.at, "stopping the framework workers")
            ids = [*await start_demo_sessions(client), *frameworks.session_ids]
            for line in frameworks.skipped:
                click.echo(line, err=True)
            click.echo("demo sessions: " + ", ".join(ids), err=True)
            # Other wfwatch commands (`wfwatch tail demo-live` in a second shell) find this server by default;
            # said once the sessions exist, so a command that finds the server finds them too.
            running = RunningDemo(server.address, server.namespace, os.getpid(), server.ui_url)
            with advertise(running):
                stop.at("running")
                if headless:
                    await _headless(client, ids, seconds)
                else:
                    from wfwatch.tui.app import WfwatchApp

                    await WfwatchApp(client, open_session=ids[0]).run_async()
            stop.stopping()
    except asyncio.CancelledError:
        if stop.interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        stop.cancel()


async def _headless(client: Any, ids: list[str], seconds: float) -> None:
    from wfwatch.stream.reader import Batch, StreamReader

    async def follow(workflow_id: str) -> None:
        count = 0
        async for result in StreamReader(client, workflow_id):
            if isinstance(result, Batch):
                count += len(result.records)
                click.echo(f"{workflow_id}: {count} events (next offset {result.next_offset})")

    tasks = [asyncio.create_task(follow(i)) for i in ids]
    try:
        if seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


#: ``wfwatch tail`` and ``wfwatch export`` exit codes (README, ``tail --help``).
EXIT_OK = 0
#: The workflow closed other than completed: failed, cancelled, terminated, timed out (or replaced).
EXIT_FAILED = 1
#: click's own code for a usage error.
EXIT_USAGE = 2
#: The stream had a gap (offsets truncated away before they were read); the read otherwise ended well.
EXIT_GAP = 3
#: The stream cannot be read: no such workflow, no Workflow Stream, the server or a worker does not answer.
EXIT_UNREADABLE = 4


class _Unreadable(click.ClickException):
    """One ``Error:`` line, exit :data:`EXIT_UNREADABLE`."""

    exit_code = EXIT_UNREADABLE


@dataclasses.dataclass(frozen=True, slots=True)
class _Head:
    """``--no-follow`` stopped at the head a running workflow had when the read began."""

    next_offset: int


async def _read(reader: StreamReader, follow: bool) -> AsyncIterator[ReadResult | _Head]:
    """The reader's results; without ``follow``, a running workflow's only up to its head now.

    A closed workflow is read to its end either way (the end says how it
    closed). A running one is read up to the head it has when the read
    begins, records at or past it are left out, and a :class:`_Head` ends it.
    """
    from wfwatch.stream.reader import Batch

    stop_at: int | None = None
    if not follow and await reader.closed_status() is None:
        stop_at = await reader.head()
        if reader.offset >= stop_at:
            yield _Head(stop_at)
            return
    async for result in reader:
        if stop_at is not None and isinstance(result, Batch):
            kept = [r for r in result.records if r.offset < stop_at]
            if kept:
                yield Batch(kept, min(result.next_offset, stop_at), result.run_id)
        else:
            yield result
        if stop_at is not None and reader.offset >= stop_at:
            yield _Head(stop_at)
            return


async def _connect_to_read(options: ConnectionOptions) -> Client:
    """The client for a read; a server that cannot be reached is :data:`EXIT_UNREADABLE` too."""
    from wfwatch.temporal.connect import ConnectError

    try:
        return await connect_from_cli(options)
    except ConnectError as err:
        raise _Unreadable(str(err)) from None


_EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  the workflow completed (or --no-follow stopped at the head of a running one)\n"
    "  1  the workflow failed, was cancelled, terminated, timed out or replaced\n"
    "  2  usage error\n"
    "  3  offsets were gone (a gap in the stream); the read otherwise ended with 0\n"
    "  4  the stream cannot be read: no such workflow, no stream, no server or worker answers\n"
    "  130  interrupted (Ctrl-C)\n"
    "  141  stdout was closed by its reader (| head)"
)


@main.command(epilog=_EXIT_CODES_HELP)
@click.argument("workflow_id")
@click.option("--from", "from_offset", type=int, default=0, show_default=True, help="Offset to start from.")
@click.option("--live", is_flag=True, help="Start at the current head instead (only new events).")
@click.option(
    "--follow/--no-follow",
    default=True,
    show_default=True,
    help="Keep following until the workflow closes, or print what exists now and stop at the current head.",
)
@click.option(
    "--jsonl",
    "--json",
    "as_json",
    is_flag=True,
    help="JSON Lines, the machine format: one JSON object a line, with offsets (docs/events.md). --json is an alias.",
)
@click.option("--raw", is_flag=True, help="Print every event, not just the text.")
@click.option("--mode", type=click.Choice(["update", "query"]), default="update", show_default=True)
@schema_option
@add_connection_options
@click.pass_context
def tail(
    ctx: click.Context,
    /,
    workflow_id: str,
    from_offset: int,
    live: bool,
    follow: bool,
    as_json: bool,
    raw: bool,
    mode: str,
    schema: str | None,
    **conn: Any,
) -> None:
    """Follow a workflow's stream from an offset until it ends (or, with --no-follow, up to its head)."""
    if from_offset < 0:
        raise click.BadParameter("must be >= 0", param_hint="--from")
    code = _run(
        lambda: _tail(_options(ctx, conn), workflow_id, from_offset, live, as_json, raw, mode, schema, follow=follow)
    )
    if code:
        raise SystemExit(code)


async def _tail(
    options: ConnectionOptions,
    workflow_id: str,
    from_offset: int,
    live: bool,
    as_json: bool,
    raw: bool,
    mode: str,
    schema: str | None = None,
    *,
    follow: bool = True,
) -> int:
    """Print the stream; returns the exit code (:data:`EXIT_OK` ... :data:`EXIT_GAP`)."""
    from wfwatch.logs import log_to_file
    from wfwatch.stream.reader import Batch, End, Gap, StreamNotFound, StreamReader, StreamReadError

    # stderr carries one line when tail fails; the reader's retry warnings (and
    # Temporal core's) go to the log file, so an outage is not ten lines of noise.
    log_to_file(level=logging.WARNING)
    client = await _connect_to_read(options)
    # A long backlog is read by Query (no Updates, no history), then the tail by `mode`.
    told_waiting = False

    def say_waiting(offset: int, head: int) -> None:
        """A tail beyond the head of a running stream waits; one line on stderr says for what."""
        nonlocal told_waiting
        told_waiting = True
        click.echo(
            f"waiting for offset {offset} (head {head}): nothing is printed until the stream gets there", err=True
        )

    reader = StreamReader(
        client,
        workflow_id,
        from_offset=from_offset,
        mode=mode,  # type: ignore[arg-type]
        catch_up_by_query=True,
        on_beyond_head=say_waiting,
    )
    out = sys.stdout
    code = EXIT_OK
    gaps = 0
    try:
        if live:
            reader.offset = await reader.head()
        printer = _TextPrinter(out, raw)
        # Streams other agent frameworks write are shown as the events they stand for (wfwatch.schemas).
        translator = Translator(schema)
        async for result in _read(reader, follow):
            if isinstance(result, Batch):
                for read in result.records:
                    record, _ = translator.translate(read)
                    if as_json:
                        out.write(_json_line(record))
                    else:
                        printer.write(record)
                out.flush()
            elif isinstance(result, Gap):
                gaps += 1
                printer.framing()
                _emit(
                    out,
                    as_json,
                    export.gap_json(result.start, result.end),
                    f"\n[gap: offsets {result.start}..{result.end - 1} are gone]\n",
                )
            elif isinstance(result, End):
                if result.next_offset < from_offset and not live and not told_waiting:
                    click.echo(
                        f"offset {from_offset} is beyond the head ({result.next_offset}) of the stream", err=True
                    )
                code = EXIT_OK if result.status == "completed" else EXIT_FAILED
                _emit(
                    out,
                    as_json,
                    export.end_json(result.status, result.next_offset),
                    f"\n[end: workflow {result.status}; next offset {result.next_offset}]\n",
                )
            elif isinstance(result, _Head):
                if result.next_offset < from_offset and not live:
                    click.echo(
                        f"offset {from_offset} is beyond the head ({result.next_offset}) of the stream", err=True
                    )
                _emit(
                    out,
                    as_json,
                    export.head_json(result.next_offset),
                    f"\n[head: workflow running; next offset {result.next_offset}]\n",
                )
    except (StreamNotFound, StreamReadError) as err:
        raise _Unreadable(sanitize(str(err))) from None
    return EXIT_GAP if code == EXIT_OK and gaps else code


@main.command(
    "export",
    epilog="\b\nExit codes:\n"
    "  0  written (also for a failed session: the transcript says how it ended)\n"
    "  2  usage error\n"
    "  4  the stream cannot be read (as for tail)",
)
@click.argument("workflow_id")
@click.option(
    "--format", "fmt", type=click.Choice(export.FORMATS), default="markdown", show_default=True, help="Output format."
)
@click.option(
    "--raw", is_flag=True, help="Every record too, and superseded attempts (marked); jsonl is always every record."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    default="-",
    help="Write here instead of stdout.",
)
@schema_option
@add_connection_options
@click.pass_context
def export_command(
    ctx: click.Context, /, workflow_id: str, fmt: str, raw: bool, output: Path, schema: str | None, **conn: Any
) -> None:
    """Write a session's transcript: every lane and turn, tool calls, timings.

    Canonical by default (each message's latest attempt, as the dashboard
    shows it). A running session is read up to its current head.
    """
    text = _run(lambda: _export(_options(ctx, conn), workflow_id, fmt, raw, schema))
    data = text.encode("utf-8", "backslashreplace")
    if str(output) == "-":
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            _stdout_gone()
    else:
        try:
            output.write_bytes(data)
        except OSError as err:
            raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from None
        click.echo(f"wrote {output} ({len(data)} bytes)", err=True)


async def _export(options: ConnectionOptions, workflow_id: str, fmt: str, raw: bool, schema: str | None) -> str:
    """Read the stream up to its head (a closed one to its end), then render it."""
    from wfwatch.logs import log_to_file
    from wfwatch.stream.reader import Batch, End, Gap, StreamNotFound, StreamReader, StreamReadError

    log_to_file(level=logging.WARNING)
    client = await _connect_to_read(options)
    reader = StreamReader(client, workflow_id, mode="query", catch_up_by_query=True)
    transcript = export.Transcript(workflow_id)
    try:
        async for result in _read(reader, follow=False):
            if isinstance(result, Batch):
                transcript.records.extend(result.records)
            elif isinstance(result, Gap):
                transcript.add_gap(result.start, result.end)
            elif isinstance(result, End):
                transcript.end, transcript.next_offset = result.status, result.next_offset
            elif isinstance(result, _Head):
                transcript.next_offset = result.next_offset
    except (StreamNotFound, StreamReadError) as err:
        raise _Unreadable(sanitize(str(err))) from None
    return export.render(transcript, fmt, raw=raw, schema=schema)  # type: ignore[arg-type]


#: What every line of model text after its first starts with in ``tail``'s text mode.
#: tail's own lines start with ``@`` (a record), ``[`` (a message's header, a gap,
#: the end) or nothing (blank); model text can never start one (docs/events.md).
CONTINUATION = "┆ "


class _TextPrinter:
    """Tokens as running text with a header when the message or channel changes.

    Record boundaries cannot be forged: names in headers and record lines are
    kept on one line (:func:`~wfwatch.text.one_line`), and model text, which
    starts on its header's line, has :data:`CONTINUATION` after each newline,
    so a token ``"\\n@9 session_finished"`` or ``"\\n[end: ...]"`` prints as
    a marked continuation line, never as a line of tail's own.
    """

    def __init__(self, out: Any, raw: bool) -> None:
        self.out = out
        self.raw = raw
        self.current: tuple[str, int, str] | None = None

    def write(self, record: events.Record) -> None:
        if record.derived and not self.raw:
            for event in record.derived:
                self.write(events.Record(record.offset, event))
            return
        item = record.item
        if isinstance(item, events.TokenDelta) and not self.raw:
            key = (item.message_id, item.attempt, item.channel)
            if key != self.current:
                self.current = key
                self.out.write(f"\n[{one_line(item.lane)} {one_line(item.message_id)} #{item.attempt} {item.channel}] ")
            self.out.write(sanitize(item.text).replace("\n", "\n" + CONTINUATION))
            return
        if not self.raw and isinstance(item, events.AttemptStarted | events.MessageFinished):
            return
        self.current = None
        self.out.write(f"\n@{record.offset} {one_line(events.summarize(item))}")

    def framing(self) -> None:
        """tail wrote a line of its own (a gap): the running message's next token gets its header again."""
        self.current = None


def _emit(out: Any, as_json: bool, obj: dict[str, Any], text: str) -> None:
    out.write(export.dumps_line(obj) if as_json else text)
    out.flush()


#: One record as ``tail --jsonl`` prints it (the format lives in :mod:`wfwatch.export`).
_json_line = export.json_line


@main.command()
@click.option("--task-queue", default=None, help="Task queue (default: wfwatch-agents).")
@add_connection_options
@click.pass_context
def worker(ctx: click.Context, /, task_queue: str | None, **conn: Any) -> None:
    """Run the demo agent's worker against any Temporal server."""
    _run(lambda: _worker(_options(ctx, conn), task_queue))


async def _worker(options: ConnectionOptions, task_queue: str | None) -> None:
    from wfwatch.agents.shared import TASK_QUEUE
    from wfwatch.agents.worker import create_worker

    client = await connect_from_cli(options)
    queue = task_queue or TASK_QUEUE
    click.echo(f"worker polling {queue!r} on {client.service_client.config.target_host}", err=True)
    await create_worker(client, queue).run()


@main.command()
@click.option("--id", "workflow_id", default=None, help="Workflow id (default: a new one).")
@click.option("--title", default="agent session")
@click.option("-m", "--message", "messages", multiple=True, help="A user message (repeatable).")
@click.option("--auto-turns", type=int, default=0, help="Let the session make up this many turns by itself.")
@click.option("--subagent", "subagents", multiple=True, help="A sub-agent lane in every turn (repeatable).")
@click.option("--tokens-per-second", type=float, default=40.0, show_default=True)
@click.option("--answer-words", type=int, default=48, show_default=True)
@click.option("--fail-after", type=int, default=0, help="Scripted model fails after N tokens ...")
@click.option("--fail-attempts", default="1", show_default=True, help="... on these attempts (comma list).")
@click.option(
    "--crash-after",
    type=int,
    default=0,
    help="SIGKILL the worker after N tokens on attempt 1 (worker needs WFWATCH_ALLOW_CRASH=1).",
)
@click.option("--idle-timeout", type=float, default=0.0, help="Finish after this long without messages.")
@click.option("--task-queue", default=None)
@add_connection_options
@click.pass_context
def start(
    ctx: click.Context,
    /,
    workflow_id: str | None,
    title: str,
    messages: tuple[str, ...],
    auto_turns: int,
    subagents: tuple[str, ...],
    tokens_per_second: float,
    answer_words: int,
    fail_after: int,
    fail_attempts: str,
    crash_after: int,
    idle_timeout: float,
    task_queue: str | None,
    **conn: Any,
) -> None:
    """Start a demo agent session (a worker must be running: `wfwatch worker`)."""
    from wfwatch.agents.shared import ModelSpec, SessionInput, SubagentSpec

    try:
        attempts = [int(a) for a in fail_attempts.split(",") if a.strip()]
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--fail-attempts") from None
    model = ModelSpec(
        tokens_per_second=tokens_per_second,
        answer_words=answer_words,
        fail_after_tokens=fail_after,
        fail_on_attempts=attempts,
        crash_after_tokens=crash_after,
    )
    spec = SessionInput(
        title=title,
        model=model,
        messages=list(messages),
        auto_turns=auto_turns,
        subagents=[SubagentSpec(name=s, model=model) for s in subagents],
        idle_timeout=idle_timeout,
    )
    _run(lambda: _start(_options(ctx, conn), workflow_id or f"session-{uuid.uuid4().hex[:8]}", spec, task_queue))


async def _start(options: ConnectionOptions, workflow_id: str, spec: Any, task_queue: str | None) -> None:
    from wfwatch.agents.shared import TASK_QUEUE
    from wfwatch.agents.workflows import AgentSession

    client = await connect_from_cli(options)
    await client.start_workflow(AgentSession.run, spec, id=workflow_id, task_queue=task_queue or TASK_QUEUE)
    click.echo(workflow_id)


@main.command()
@click.argument("workflow_id")
@click.argument("text")
@add_connection_options
@click.pass_context
def send(ctx: click.Context, /, workflow_id: str, text: str, **conn: Any) -> None:
    """Send a user message to a session (starts a new turn)."""

    async def go() -> None:
        from wfwatch.steering import SteeringError, send_message

        client = await connect_from_cli(_options(ctx, conn))
        try:
            result = await send_message(client, workflow_id, text)
        except SteeringError as err:
            raise click.ClickException(sanitize(str(err))) from None
        click.echo(f"turn {result.turn} queued; its events start at or after offset {result.head_offset}")

    _run(go)


@main.command()
@click.argument("workflow_id")
@add_connection_options
@click.pass_context
def cancel(ctx: click.Context, /, workflow_id: str, **conn: Any) -> None:
    """Cancel the running turn of a session."""

    async def go() -> None:
        from wfwatch.steering import SteeringError, cancel_turn

        client = await connect_from_cli(_options(ctx, conn))
        try:
            await cancel_turn(client, workflow_id)
        except SteeringError as err:
            raise click.ClickException(sanitize(str(err))) from None
        click.echo("cancel requested")

    _run(go)


@main.command()
def info() -> None:
    """Where wfwatch keeps its files, and the server of a running `wfwatch demo`."""
    from wfwatch import preferences, webui
    from wfwatch.temporal.running_demo import running_demo

    for name, path in paths.all_paths().items():
        click.echo(f"{name:<16} {path}")
    ui = webui.configured_ui(preferences.load().ui_url, address=None)
    click.echo(f"{'web ui':<16} {sanitize(ui) if ui else f'not configured (ui_url preference or {webui.ENV})'}")
    demo = running_demo()
    if demo is None:
        click.echo(f"{'demo server':<16} not running")
        return
    click.echo(f"{'demo server':<16} {demo.address} namespace {demo.namespace} (pid {demo.pid}; used by default)")
    if demo.ui_url:
        click.echo(f"{'demo web ui':<16} {demo.ui_url}")


def _register_serve() -> None:
    from wfwatch.bridge.cli import serve_command

    main.add_command(serve_command)


_register_serve()

if __name__ == "__main__":
    entry()
