"""The ``temporal`` CLI's connection flags for click commands, and the CLI's error conversion.

Only the command-line modules (:mod:`wfwatch.cli`, :mod:`wfwatch.bridge.cli`)
use click; the connection layer (:mod:`wfwatch.temporal.connect`) and the
layers below raise their own errors, turned into click's one-line
``Error: ...`` exits here.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from temporalio.client import Client

from wfwatch.temporal.connect import (
    DEFAULT_ADDRESS,
    DEFAULT_NAMESPACE,
    ConnectError,
    ConnectionOptions,
    connect,
    resolve,
)

F = TypeVar("F", bound=Callable[..., Any])


async def connect_from_cli(options: ConnectionOptions) -> Client:
    """Connect as a command does: a running ``wfwatch demo`` used by default is said on stderr."""
    resolved = resolve(options)
    if resolved.demo_pid is not None:
        click.echo(
            f"using the running wfwatch demo's server at {resolved.address} (pid {resolved.demo_pid}; "
            "--address or --profile to choose another)",
            err=True,
        )
    return await connect(resolved)


@contextlib.contextmanager
def click_errors() -> Iterator[None]:
    """Errors a user can act on, from the layers below, as click's ``Error: <message>`` (exit 1)."""
    try:
        yield
    except ConnectError as err:
        raise click.ClickException(str(err)) from None


def add_connection_options(f: F) -> F:
    """Add the ``temporal`` CLI's connection flags to a click command.

    Every option defaults to ``None`` so that an omitted flag falls back to the
    profile and ``TEMPORAL_*`` environment (read by envconfig, not by click, so
    each variable is handled exactly once).  Use :func:`options_from_click` on
    the command's kwargs to build :class:`ConnectionOptions`.
    """
    path = click.Path(path_type=Path, dir_okay=False)
    decorators = [
        click.option(
            "--address",
            metavar="HOST:PORT",
            default=None,
            help=f"Temporal frontend gRPC address [env TEMPORAL_ADDRESS; default {DEFAULT_ADDRESS}].",
        ),
        click.option(
            "--namespace",
            "-n",
            default=None,
            help=f"Temporal namespace [env TEMPORAL_NAMESPACE; default {DEFAULT_NAMESPACE}].",
        ),
        click.option(
            "--profile",
            default=None,
            help="Profile in the temporal CLI config file [env TEMPORAL_PROFILE; default 'default'].",
        ),
        click.option(
            "--config-file",
            type=path,
            default=None,
            help="temporal CLI TOML config file [env TEMPORAL_CONFIG_FILE].",
        ),
        click.option(
            "--tls/--no-tls",
            default=None,
            help="Force TLS on/off (auto-enabled by an API key or TLS options) [env TEMPORAL_TLS].",
        ),
        click.option("--tls-cert-path", type=path, default=None, help="mTLS client certificate."),
        click.option("--tls-key-path", type=path, default=None, help="mTLS client private key."),
        click.option("--tls-ca-path", type=path, default=None, help="Server CA certificate."),
        click.option(
            "--tls-server-name",
            default=None,
            help="Override the TLS server name (SNI).",
        ),
        click.option(
            "--api-key",
            default=None,
            help="API key, e.g. for Temporal Cloud [env TEMPORAL_API_KEY].",
        ),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


_OPTION_NAMES: Final = tuple(f.name for f in dataclasses.fields(ConnectionOptions))


def options_from_click(kwargs: Mapping[str, Any]) -> ConnectionOptions:
    """Build :class:`ConnectionOptions` from a command's kwargs (extra keys ignored)."""
    return ConnectionOptions(**{name: kwargs.get(name) for name in _OPTION_NAMES})
