"""Connect to an existing Temporal cluster the same way the ``temporal`` CLI does.

Users already have ``temporal`` CLI profiles (``~/.config/temporalio/temporal.toml``)
and ``TEMPORAL_*`` environment variables; wfwatch honours exactly those, via
:mod:`temporalio.envconfig` (the SDK's shared implementation of that format),
with the CLI's precedence: explicit flag > environment variable > config file >
built-in default.  Failures are turned into one-line, actionable
:class:`ConnectError` messages because a raw gRPC traceback in a TUI helps no one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from wfwatch.temporal.running_demo import running_demo

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_NAMESPACE",
    "ConnectError",
    "ConnectionOptions",
    "ResolvedConnection",
    "connect",
    "describe",
    "resolve",
]

DEFAULT_ADDRESS: Final = "localhost:7233"
DEFAULT_NAMESPACE: Final = "default"
DEFAULT_CONNECT_TIMEOUT: Final = 10.0

_HINT: Final = "set --address or a --profile"
_MAX_DETAIL: Final = 160


class ConnectError(Exception):
    """Resolving or reaching the Temporal cluster failed; ``str()`` is one line.

    The CLI turns it into click's ``Error: <message>`` exit (:mod:`wfwatch.cli_options`);
    this layer knows nothing of click, so the dashboard and the bridge use it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


@dataclass(frozen=True)
class ConnectionOptions:
    """What the user asked for explicitly; ``None`` means "not given, fall back"."""

    address: str | None = None
    namespace: str | None = None
    profile: str | None = None
    config_file: Path | None = None
    tls: bool | None = None
    tls_cert_path: Path | None = None
    tls_key_path: Path | None = None
    tls_ca_path: Path | None = None
    tls_server_name: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class ResolvedConnection:
    """Fully-resolved settings, ready to hand to :meth:`Client.connect`.

    TLS material is kept as sources (paths or inline data) and only read in
    :meth:`connect_kwargs`, so resolving never touches certificate files.
    """

    address: str
    namespace: str
    api_key: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_settings: ClientConfigTLS | None = None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)
    profile: str | None = None
    config_file: Path | None = None
    #: Set when nothing said where to connect and a running ``wfwatch demo`` was used (its pid).
    demo_pid: int | None = None

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`temporalio.client.Client.connect`.

        Raises :class:`ConnectError` if a TLS file cannot be read.
        """
        tls: bool | TLSConfig = False
        if self.tls:
            settings = self.tls_settings or ClientConfigTLS()
            try:
                tls = dataclasses.replace(settings, disabled=False).to_connect_tls_config()
            except OSError as err:
                name = err.filename if err.filename else "a TLS file"
                raise ConnectError(
                    f"cannot read {name} ({err.strerror or err}); check the --tls-*-path options"
                ) from err
        return {
            "target_host": self.address,
            "namespace": self.namespace,
            "api_key": self.api_key,
            "tls": tls,
            "rpc_metadata": dict(self.rpc_metadata),
        }


def resolve(
    options: ConnectionOptions,
    *,
    env: Mapping[str, str] | None = None,
    find_demo: bool = True,
) -> ResolvedConnection:
    """Merge explicit options over the envconfig profile (file + ``TEMPORAL_*`` env).

    When nothing says where to connect (no address, profile, config file,
    TLS or API key, by flag or ``TEMPORAL_*`` variable) and a ``wfwatch demo``
    is running, its server is used (``demo_pid`` tells); explicit choices
    always win over it.

    Args:
        options: Explicit choices (CLI flags); ``None`` fields fall back.
        env: Environment to read ``TEMPORAL_*`` from instead of ``os.environ``
            (tests; also lets a caller pass ``{}`` to ignore the environment).
        find_demo: Look for a running demo (see :mod:`wfwatch.temporal.running_demo`).

    Raises:
        ConnectError: the named config file or profile does not exist or is invalid.
    """
    environ = os.environ if env is None else env
    if find_demo and not _says_where(options, environ):
        demo = running_demo()
        if demo is not None:
            return ResolvedConnection(
                address=demo.address,
                namespace=options.namespace or environ.get("TEMPORAL_NAMESPACE") or demo.namespace,
                demo_pid=demo.pid,
            )
    if options.config_file is not None and not options.config_file.is_file():
        # envconfig silently ignores a missing explicit file; the CLI would not.
        raise ConnectError(f"config file not found: {options.config_file}")
    try:
        prof = ClientConfigProfile.load(
            options.profile,
            config_source=options.config_file,
            override_env_vars=env,
        )
    except Exception as err:  # the bridge raises its own ConfigError type
        where = f" in {options.config_file}" if options.config_file else ""
        raise ConnectError(f"cannot load Temporal client config{where}: {err}") from err

    api_key = options.api_key or prof.api_key

    settings = prof.tls
    flag_tls_overrides: dict[str, Any] = {}
    if options.tls_server_name is not None:
        flag_tls_overrides["server_name"] = options.tls_server_name
    if options.tls_ca_path is not None:
        flag_tls_overrides["server_root_ca_cert"] = options.tls_ca_path
    if options.tls_cert_path is not None:
        flag_tls_overrides["client_cert"] = options.tls_cert_path
    if options.tls_key_path is not None:
        flag_tls_overrides["client_private_key"] = options.tls_key_path
    if flag_tls_overrides:
        settings = dataclasses.replace(settings or ClientConfigTLS(), **flag_tls_overrides)

    # Same rule as the CLI: explicit --tls/--no-tls wins; otherwise TLS options
    # or an API key switch TLS on, unless the profile/env explicitly disabled it.
    tls: bool
    if options.tls is not None:
        tls = options.tls
    elif flag_tls_overrides:
        tls = True
    elif prof.tls is not None and prof.tls.disabled is not None:
        tls = not prof.tls.disabled
    elif prof.tls is not None:
        tls = True  # a [tls] section with material but no "disabled" key
    else:
        tls = api_key is not None

    return ResolvedConnection(
        address=options.address or prof.address or DEFAULT_ADDRESS,
        namespace=options.namespace or prof.namespace or DEFAULT_NAMESPACE,
        api_key=api_key,
        tls=tls,
        tls_settings=settings,
        rpc_metadata=dict(prof.grpc_meta),
        profile=options.profile,
        config_file=options.config_file,
    )


#: Environment variables that say which server to use (a namespace alone does not).
_WHERE_VARIABLES: Final = ("TEMPORAL_ADDRESS", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE", "TEMPORAL_API_KEY")


def _says_where(options: ConnectionOptions, environ: Mapping[str, str]) -> bool:
    """Whether the user chose a server (or how to reach one) by flag or environment."""
    given = dataclasses.asdict(options)
    given.pop("namespace")
    if any(value is not None for value in given.values()):
        return True
    return any(environ.get(name) for name in _WHERE_VARIABLES) or any(
        name.startswith("TEMPORAL_TLS") and value for name, value in environ.items()
    )


def describe(resolved: ResolvedConnection) -> str:
    """One safe line for logs and status bars; secrets are never included."""
    parts = [resolved.address, f"namespace={resolved.namespace}"]
    parts.append("tls=on" if resolved.tls else "tls=off")
    if resolved.tls and resolved.tls_settings is not None:
        if resolved.tls_settings.client_cert is not None:
            parts.append("mtls")
        if resolved.tls_settings.server_name:
            parts.append(f"server-name={resolved.tls_settings.server_name}")
    if resolved.api_key:
        parts.append(f"api-key={_mask(resolved.api_key)}")
    if resolved.rpc_metadata:
        parts.append("grpc-meta=" + ",".join(sorted(resolved.rpc_metadata)))
    if resolved.profile:
        parts.append(f"profile={resolved.profile}")
    if resolved.demo_pid is not None:
        parts.append(f"wfwatch-demo-pid={resolved.demo_pid}")
    return " ".join(parts)


async def connect(
    options: ConnectionOptions | ResolvedConnection,
    *,
    data_converter: DataConverter | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    check_namespace: bool = True,
    env: Mapping[str, str] | None = None,
) -> Client:
    """Resolve ``options`` (if needed) and return a connected client.

    Args:
        options: Flags to resolve, or an already-resolved connection.
        data_converter: Converter for the client (default: SDK default).
        timeout: Seconds before giving up on an unresponsive address.
        check_namespace: Also verify the namespace exists, so a typo fails here
            with a clear message rather than on the first workflow call.
        env: See :func:`resolve`.

    Raises:
        ConnectError: with a one-line message; never a raw gRPC error.
    """
    resolved = options if isinstance(options, ResolvedConnection) else resolve(options, env=env)
    kwargs = resolved.connect_kwargs()
    if data_converter is not None:
        kwargs["data_converter"] = data_converter
    secret = resolved.api_key
    try:
        client = await asyncio.wait_for(
            Client.connect(
                **kwargs,
                connect_timeout=timedelta(seconds=timeout),
                # The SDK's default retries would stretch a dead address to ~10 s.
                retry_config=RetryConfig(max_retries=2, max_elapsed_time_millis=int(timeout * 1000)),
            ),
            timeout=timeout + 1,
        )
        if check_namespace:
            await _check_namespace(client, resolved, timeout)
    except ConnectError:
        raise
    except TimeoutError as err:
        raise ConnectError(
            f"timed out after {timeout:g}s connecting to Temporal at {resolved.address} "
            f"(is the address right? is TLS needed? {_HINT})"
        ) from err
    except RPCError as err:
        raise ConnectError(_scrub(_rpc_message(err, resolved), secret)) from err
    except Exception as err:  # the bridge reports transport failures as RuntimeError
        raise ConnectError(_scrub(_transport_message(err, resolved), secret)) from err
    return client


async def _check_namespace(client: Client, resolved: ResolvedConnection, timeout: float) -> None:
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=resolved.namespace),
            timeout=timedelta(seconds=timeout),
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ConnectError(
                f"namespace {resolved.namespace!r} not found at {resolved.address} (set --namespace, or create it)"
            ) from err
        if err.status == RPCStatusCode.PERMISSION_DENIED:
            return  # Some keys may use a namespace without describing it; not fatal.
        raise


def _rpc_message(err: RPCError, resolved: ResolvedConnection) -> str:
    where = f"Temporal at {resolved.address}"
    if err.status == RPCStatusCode.UNAUTHENTICATED:
        return f"{where} rejected the credentials (check --api-key or the TLS client certificate)"
    if err.status == RPCStatusCode.PERMISSION_DENIED:
        return (
            f"{where} denied access to namespace {resolved.namespace!r} "
            "(check --namespace and the API key's permissions)"
        )
    if err.status == RPCStatusCode.UNAVAILABLE:
        return f"cannot reach {where} ({_detail(err)}; is the server running? is TLS needed? {_HINT})"
    return f"{where} returned {err.status.name if err.status else 'an error'}: {_detail(err)}"


def _transport_message(err: Exception, resolved: ResolvedConnection) -> str:
    text = str(err)
    low = text.lower()
    where = f"Temporal at {resolved.address}"
    if "dns error" in low or "failed to lookup address" in low:
        return f"cannot resolve the host in {resolved.address!r} (check --address or the profile)"
    if "connection refused" in low or "tcp connect error" in low:
        return f"cannot reach {where} (is the server running? {_HINT})"
    if "invalidcontenttype" in low or "invalidmessage" in low or "corrupt message" in low:
        return f"TLS handshake with {where} failed: the server does not speak TLS (try --no-tls, or check --address)"
    if "unimplemented" in low and "get_system_info" in low:
        return (
            f"the service at {resolved.address} is not a Temporal gRPC frontend "
            "(check --address: the gRPC port, not the UI/HTTP port)"
        )
    if "invalid target" in low or "invalid uri" in low or "invalid authority" in low or "invalid port" in low:
        return f"invalid address {resolved.address!r} (expected host:port)"
    if "tls" in low or "certificate" in low or "handshake" in low or "ssl" in low:
        return (
            f"TLS handshake with {where} failed ({_detail(err)}); "
            "check --tls/--no-tls, --tls-ca-path and --tls-server-name"
        )
    if "timed out" in low or "timeout" in low:
        return f"timed out connecting to {where} (is the address right? is TLS needed? {_HINT})"
    return f"cannot connect to {where}: {_detail(err)} ({_HINT})"


def _detail(err: BaseException) -> str:
    text = _one_line(str(err)) or type(err).__name__
    text = text.removeprefix("Failed client connect: ")
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, _mask(secret)) if secret else text


def _mask(secret: str) -> str:
    """Show only enough to tell two keys apart, never enough to use one."""
    if len(secret) < 16:
        return "****"
    return f"****{secret[-4:]}"
