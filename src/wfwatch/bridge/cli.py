"""``wfwatch serve``: the HTTP/SSE bridge as a command.

The lead registers it in the main CLI with ``main.add_command(serve_command)``;
until then (and in tests) ``python -m wfwatch.bridge`` runs the same command.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import click

from wfwatch import paths
from wfwatch.bridge.bind import DEFAULT_HOST, DEFAULT_PORT, BridgeConfigError, check_bind
from wfwatch.cli_options import add_connection_options, click_errors, connect_from_cli, options_from_click

if TYPE_CHECKING:
    from wfwatch.bridge.server import LogLevel


@click.command("serve")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Interface to listen on (beyond loopback a token is required).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port (0: any free port)."
)
@click.option(
    "--token",
    envvar="WFWATCH_TOKEN",
    default=None,
    help="Bearer token every request must carry [env WFWATCH_TOKEN; prefer the env: flags show up in ps].",
)
@click.option(
    "--replica-id",
    default=None,
    help="This replica's name in a fleet: the X-Wfwatch-Replica header, /sessions, /devices [default: hostname:port].",
)
@click.option(
    "--drain-delay",
    type=click.FloatRange(min=0.0, max=300.0),
    default=0.0,
    show_default=True,
    help="On SIGTERM, fail /healthz and refuse new streams this many seconds before ending the open ones "
    "(behind a load balancer: more than its health-check interval x fall).",
)
@click.option("--heartbeat", type=click.FloatRange(min=1.0), default=15.0, show_default=True, hidden=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning", hidden=True)
@add_connection_options
@click.pass_context
def serve_command(
    ctx: click.Context,
    /,
    host: str,
    port: int,
    token: str | None,
    replica_id: str | None,
    drain_delay: float,
    heartbeat: float,
    log_level: LogLevel,
    **conn: Any,
) -> None:
    """Serve sessions over HTTP: a web page, JSON, and Server-Sent Events.

    Open the printed address in a browser (with a token: append #token=...).
    Every tab is a device of its own; it reconnects by itself and resumes
    where it was. Several `serve` processes can run side by side: they keep
    no client state and give identical streams.
    """
    try:
        check_bind(host, token)
    except BridgeConfigError as err:
        raise click.ClickException(str(err)) from None
    merged = dict(ctx.parent.params) if ctx.parent is not None else {}
    merged.update({key: value for key, value in conn.items() if value is not None})
    options = options_from_click(merged)
    if log_level in ("debug", "info"):
        # Everything the process can log goes to stderr (tests check no token ever shows up there).
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    def ready(url: str) -> None:
        hint = " (open it with #token=<your token> appended)" if token else ""
        click.echo(f"wfwatch serve: {url}/{hint}; Ctrl-C to stop", err=False)

    async def run() -> None:
        from wfwatch.bridge.server import serve  # the web stack loads only when serving

        client = await connect_from_cli(options)
        try:
            await serve(
                client,
                host=host,
                port=port,
                token=token,
                namespace=client.namespace,
                cache_dir=paths.data_dir(),
                heartbeat=heartbeat,
                log_level=log_level,
                on_ready=ready,
                replica_id=replica_id,
                drain_delay=drain_delay,
            )
        except BridgeConfigError as err:
            raise click.ClickException(str(err)) from None

    from wfwatch.bridge.server import event_loop_factory

    # uvloop where installed: with many clients the loop's own work (wakeups, socket writes) is most of the CPU.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner, click_errors():
        runner.run(run())
