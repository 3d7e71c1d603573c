"""Running the bridge: uvicorn, started from code, with a safe bind policy.

:class:`BridgeServer` runs the app on an already-bound socket (so port 0
works and the real port is known before anyone connects) and stops it
cleanly: open streams are ended first, so uvicorn is not left waiting on
connections that never close, and every client is told to reconnect.
:func:`serve` is what ``wfwatch serve`` runs until Ctrl-C.

**Draining** (SIGTERM in a fleet, docs/scaling.md): the replica first
answers ``/healthz`` and new streams with 503 while its open streams go on,
for ``drain_delay`` seconds — long enough for the balancer's health checks
to take it out — then ends every stream after the frames in flight with a
short ``retry:``, so clients come back at once, through the balancer, to
another replica, from their ``Last-Event-ID``. It exits within
``drain_delay`` plus uvicorn's graceful timeout.

Why uvicorn's own signal handling is switched off: uvicorn replaces the
process-wide SIGINT/SIGTERM handlers while it serves (and re-raises a caught
signal when it stops). Several servers started and stopped inside one
process (tests, benchmarks) must not take over each other's signals, nor the
test runner's, so :class:`BridgeServer` installs none, and :func:`serve`
turns a signal into :meth:`BridgeServer.stop` itself — which ends the
streams first, so shutdown never waits on an SSE connection that would not
close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import tempfile
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import uvicorn
from temporalio.client import Client

from wfwatch import gctune
from wfwatch.bridge.app import SEND_TIMEOUT, Bridge, create_app
from wfwatch.bridge.bind import DEFAULT_HOST, DEFAULT_PORT, BridgeConfigError, check_bind
from wfwatch.hub import Hub

log = logging.getLogger(__name__)

#: uvicorn's log levels the bridge passes on (``trace`` is left out: it logs whole ASGI scopes, query strings included).
LogLevel = Literal["debug", "info", "warning", "error"]

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "BridgeConfigError", "BridgeServer", "check_bind", "serve"]


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else ``None``: asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


#: Allocations between two young-generation collections (CPython's default is 700).
#: Fanning an event out to many streams allocates many short-lived containers
#: (refcounting frees them; the collector only walks them): at 700 that was
#: hundreds of young collections a minute with a thousand clients; at 20,000, a few.
GC_GEN0_THRESHOLD = 20_000


def settle_gc() -> None:
    """Settle the collector for a server that has just started (see :mod:`wfwatch.gctune`)."""
    gctune.settle_gc(GC_GEN0_THRESHOLD)


class _Server(uvicorn.Server):
    """uvicorn's server without process-wide signal handlers (see the module docs)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        raise BridgeConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class BridgeServer:
    """The bridge app served by uvicorn on ``host:port``, as an async context manager.

    >>> async with BridgeServer(client, hub, port=0) as server:   # doctest: +SKIP
    ...     print(server.url)
    """

    def __init__(
        self,
        client: Client,
        hub: Hub,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        namespace: str | None = None,
        heartbeat: float = 15.0,
        max_streams: int = 10_000,
        send_timeout: float = SEND_TIMEOUT,
        graceful_timeout: int = 5,
        http: Literal["auto", "h11", "httptools"] = "auto",
        log_level: LogLevel = "warning",
        replica_id: str | None = None,
    ) -> None:
        check_bind(host, token)
        self.host = host
        self.port = port
        self._replica_id = replica_id
        app = create_app(
            client,
            hub,
            token=token,
            namespace=namespace or client.namespace,
            heartbeat=heartbeat,
            max_streams=max_streams,
            send_timeout=send_timeout,
            replica_id=replica_id or "",
        )
        self.app = app
        self.bridge: Bridge = app.state.bridge
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=False,  # the query string may carry the token (tests check it at log_level="debug")
            lifespan="off",
            timeout_graceful_shutdown=graceful_timeout,
            server_header=False,
            http=http,
        )
        self._server = _Server(config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; returns once connections are accepted."""
        self._socket = bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self.bridge.replica_id = self._replica_id or default_replica_id(self.port)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="wfwatch-bridge")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what uvicorn raised
                raise BridgeConfigError(f"the bridge on {self.url} stopped while starting")
            await asyncio.sleep(0.01)

    async def wait(self) -> None:
        """Until the server has stopped."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def drain(self, delay: float) -> None:
        """Refuse new streams and fail health checks for ``delay`` seconds, then :meth:`stop`."""
        self.bridge.drain()
        if delay > 0:
            await asyncio.sleep(delay)
        await self.stop()

    async def stop(self) -> None:
        """End every stream (clients are told to reconnect), then stop accepting and return."""
        await self.bridge.close_streams()
        self._server.should_exit = True
        await self.wait()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def force_stop(self) -> None:
        """Make a pending :meth:`stop` drop requests still in flight instead of waiting."""
        self._server.should_exit = True
        self._server.force_exit = True

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def serve(
    client: Client,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    namespace: str | None = None,
    cache_dir: Path | None = None,
    heartbeat: float = 15.0,
    log_level: LogLevel = "warning",
    on_ready: Callable[[str], None] | None = None,
    replica_id: str | None = None,
    drain_delay: float = 0.0,
) -> None:
    """Serve the bridge until SIGINT/SIGTERM, with a hub of its own.

    The hub's event cache is shared with the dashboard (``cache_dir``, by
    default the hub's data dir) so completed sessions replay without
    Temporal; device positions go to a throw-away directory because a
    bridge keeps no client state — the client's ``Last-Event-ID`` is its
    position. A second signal stops without waiting for requests in flight.
    With ``drain_delay`` the first signal drains (see the module docs).
    """
    check_bind(host, token)
    loop = asyncio.get_running_loop()
    signalled = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="wfwatch-bridge-") as state_dir:
        async with Hub(client, state_dir=Path(state_dir), cache_dir=cache_dir) as hub:
            server = BridgeServer(
                client,
                hub,
                host=host,
                port=port,
                token=token,
                namespace=namespace,
                heartbeat=heartbeat,
                log_level=log_level,
                replica_id=replica_id,
            )
            await server.start()
            settle_gc()
            installed: list[signal.Signals] = []
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):  # no loop signal handlers on Windows
                    loop.add_signal_handler(sig, signalled.set)
                    installed.append(sig)
            try:
                if on_ready is not None:
                    on_ready(server.url)
                await _first(server.wait(), signalled.wait())
                signalled.clear()
                stopping = asyncio.ensure_future(server.drain(drain_delay))
                await _first(stopping, signalled.wait())
                if not stopping.done():
                    log.warning("second signal: stopping without waiting for requests in flight")
                    server.force_stop()
                await stopping
            finally:
                for sig in installed:
                    loop.remove_signal_handler(sig)
                server.force_stop()
                await server.stop()


def default_replica_id(port: int) -> str:
    """``hostname:port``: unique in a fleet of hosts, and among replicas sharing one."""
    return f"{socket.gethostname()}:{port}"


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until one of ``waits`` is done; cancel the coroutines we wrapped (never a caller's future)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    owned = {task for wait, task in zip(waits, tasks, strict=True) if task is not wait}
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending & owned:
        task.cancel()
