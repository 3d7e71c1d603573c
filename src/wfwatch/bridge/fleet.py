"""What a replica tells the fleet around it: health, its name, what it serves.

Many ``wfwatch serve`` replicas sit behind a load balancer that hashes on the
session id (deploy/haproxy/, docs/scaling.md), so every client of a session
lands on one replica and the session has one upstream reader in the whole
fleet. The balancer and an SRE need three things from each replica, and
they live here, apart from the streaming code:

* ``GET /healthz``: 200 only while this replica can reach Temporal (a gRPC
  health check, at most one a second however often it is asked) and is not
  draining; 503 otherwise. Public, like the page shell: a balancer carries
  no token, and the answer holds no session data.
* ``GET /stats``: the replica's open streams and, per session, its upstream
  reader's counters (running, Temporal Updates, devices) — what the fleet
  test and benchmark add up across replicas to count readers per session.
* ``GET /devices``: the hub's devices, each with the replica serving it; and
  the replica id in ``/sessions`` rows this replica reads upstream, and in
  an ``X-Wfwatch-Replica`` header on every response.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from wfwatch.bridge import protocol

if TYPE_CHECKING:
    from wfwatch.bridge.app import Bridge

#: How long one answer about Temporal is reused: a balancer checking every
#: 500 ms, times N balancers, must not turn into N health RPCs a second.
HEALTH_TTL: Final = 1.0
#: A Temporal that does not answer the health check this fast counts as unreachable.
HEALTH_TIMEOUT: Final = 1.0
REPLICA_HEADER: Final = "X-Wfwatch-Replica"


class HealthCheck:
    """Whether Temporal answers, asked at most once per ``ttl`` (concurrent askers share one call)."""

    def __init__(self, client: Client, *, ttl: float = HEALTH_TTL, timeout: float = HEALTH_TIMEOUT) -> None:
        self._client = client
        self.ttl = ttl
        self.timeout = timeout
        self._answer: tuple[bool, str] = (False, "not checked yet")
        self._at = -float("inf")
        self._pending: asyncio.Future[tuple[bool, str]] | None = None
        #: Health RPCs actually made (tests check the cache works).
        self.probes = 0

    async def check(self) -> tuple[bool, str]:
        """``(reachable, reason)``; the reason is empty when reachable."""
        if time.monotonic() - self._at < self.ttl:
            return self._answer
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._probe())
        return await asyncio.shield(self._pending)

    async def _probe(self) -> tuple[bool, str]:
        self.probes += 1
        try:
            serving = await self._client.service_client.check_health(timeout=timedelta(seconds=self.timeout))
            answer = (True, "") if serving else (False, "Temporal's workflow service is not serving")
        except Exception as err:  # unreachable, timed out, refused: all mean "not ready"
            answer = (False, f"Temporal is unreachable: {type(err).__name__}")
        self._answer, self._at = answer, time.monotonic()
        return answer


def served_sessions(bridge: Bridge) -> set[str]:
    """Sessions this replica reads from Temporal right now (an upstream reader is running)."""
    return {s for s in bridge.hub.sessions() if bridge.hub.upstream_stats(s).running}


def mark_served(bridge: Bridge, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/sessions`` rows with ``served_by``: this replica's id where it reads the session, else ``None``."""
    served = served_sessions(bridge)
    for row in rows:
        row["served_by"] = bridge.replica_id if row.get("session_id") in served else None
    return rows


async def healthz(bridge: Bridge, request: Request) -> Response:
    if bridge.closing:
        status, reason = "draining", "the replica is stopping"
    else:
        reachable, reason = await bridge.health.check()
        status = "ok" if reachable else "unavailable"
    body = {"status": status, "replica": bridge.replica_id, "streams": len(bridge.streams)}
    if reason:
        body["reason"] = reason
    headers = {"Cache-Control": "no-store"}
    if status != "ok":
        headers["Retry-After"] = "1"
    return JSONResponse(body, status_code=200 if status == "ok" else 503, headers=headers)


async def stats(bridge: Bridge, request: Request) -> Response:
    sessions = []
    for session_id in sorted(bridge.hub.sessions()):
        up = bridge.hub.upstream_stats(session_id)
        sessions.append(
            {
                "session_id": session_id,
                "reader_running": up.running,
                "updates": up.updates,
                "queries": up.queries,
                "items": up.items,
                "max_in_flight": up.max_in_flight,
                "restarts": up.restarts,
                "devices": up.devices,
                "connected": up.connected,
                "head": up.head,
                "epoch": up.epoch,
                "ended": up.ended,
            }
        )
    return JSONResponse(
        {
            "replica": bridge.replica_id,
            "draining": bridge.closing,
            "streams": len(bridge.streams),
            "max_streams": bridge.max_streams,
            "upstream_readers": sum(1 for s in sessions if s["reader_running"]),
            "sessions": sessions,
        },
        headers={"Cache-Control": "no-store"},
    )


async def devices(bridge: Bridge, request: Request) -> Response:
    session = request.query_params.get("session")
    if session is not None:
        protocol.valid_session_id(session)
    rows = [
        {**asdict(info), "replica": bridge.replica_id} for info in bridge.hub.devices(session, include_offline=False)
    ]
    return JSONResponse({"replica": bridge.replica_id, "devices": rows}, headers={"Cache-Control": "no-store"})


def routes(bridge: Bridge) -> list[BaseRoute]:
    def bound(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return await handler(bridge, request)  # type: ignore[no-any-return]

        return endpoint

    return [
        Route("/healthz", bound(healthz), methods=["GET"]),
        Route("/stats", bound(stats), methods=["GET"]),
        Route("/devices", bound(devices), methods=["GET"]),
    ]


class ReplicaHeader:
    """Pure ASGI middleware: ``X-Wfwatch-Replica`` on every response, SSE included (it does not buffer)."""

    def __init__(self, app: ASGIApp, bridge: Bridge) -> None:
        self.app = app
        self.bridge = bridge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.bridge.replica_id:
            await self.app(scope, receive, send)
            return

        async def send_with_replica(message: Message) -> None:
            if message["type"] == "http.response.start":
                with contextlib.suppress(UnicodeEncodeError):  # a replica id is the operator's, ASCII
                    MutableHeaders(scope=message).setdefault(REPLICA_HEADER, self.bridge.replica_id)
            await send(message)

        await self.app(scope, receive, send_with_replica)
