"""The HTTP/SSE bridge: a browser tab (or ``curl``) is one more hub device.

Endpoints (JSON errors are ``{"error": "..."}`` with a fitting status)::

    GET  /                               the built-in page (static, no secret in it)
    GET  /static/...                     its script and stylesheet
    GET  /sessions[?status=&limit=]      AgentSession workflows from visibility
    GET  /sessions/{id}/events           Server-Sent Events (see below)
    POST /sessions/{id}/messages         {"text": "..."} → a new turn
    POST /sessions/{id}/cancel           cancel the running turn

**Events.** Each record is a default (``message``) event whose ``data`` is
the event's JSON from docs/events.md plus ``"offset"``; ``gap``
(``{"start", "end"}``), ``end`` (``{"status", "next_offset"}``) and
``reset`` (``{"epoch", "previous_epoch"}``) are named events. Every event's
``id`` is a cursor ``"{epoch}:{next offset}"`` (:mod:`.protocol`; the wire
format is written up in docs/events.md, "SSE bridge"). Where a stream
starts, first match wins: the ``Last-Event-ID`` header (what EventSource
sends when it reconnects), ``?last_event_id=`` (the same, for clients that
cannot set headers), ``?from=OFFSET``, then ``?join=start|live|turn`` (with
``&turn=N``); default ``start``. A comment line is sent every ``heartbeat``
seconds so proxies keep the connection.

**Stateless.** Nothing about a client lives in the process: each request
opens a hub device at the position the request names and closes it when the
response ends; ids are derived from the workflow alone. Two processes give
the same stream, and a client can move between them with its
``Last-Event-ID``.

**Security.** With a token, every route but the page shell needs
``Authorization: Bearer <token>`` or ``?token=`` (EventSource cannot send
headers), compared in constant time, and cut from the request once checked;
the page reads the token from its URL fragment, which never reaches a server
log. Without a token (loopback only, see
:func:`wfwatch.bridge.server.check_bind`) the ``Host`` header must name the
loopback interface, so a DNS-rebinding page cannot talk to it. A request
carrying an ``Origin`` from another site is refused, and POSTs must be JSON,
so a cross-site form cannot steer a session. Visibility is only ever asked
a fixed query, and the Temporal client is bound to one namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

import anyio
import msgspec
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from wfwatch.bridge import protocol
from wfwatch.bridge.protocol import BadRequest, Cursor
from wfwatch.hub import Delivery, Device, EndOfStream, GapNotice, Hub, HubError, Join, JoinError, StreamNotFound
from wfwatch.schemas import Translator
from wfwatch.sessions import QueryError, SessionRow, list_sessions
from wfwatch.steering import SteeringError, cancel_turn, send_message

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).parent / "static"

#: The only visibility queries the bridge ever runs: users choose among them by name.
SESSIONS_QUERY: Final = "WorkflowType = 'AgentSession'"
STATUS_QUERIES: Final = {
    "all": SESSIONS_QUERY,
    "running": f"{SESSIONS_QUERY} AND ExecutionStatus = 'Running'",
    # A run that continued-as-new is closed, but its session is not: the next run carries on.
    "closed": f"{SESSIONS_QUERY} AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'",
}
MAX_LIST: Final = 1000
MAX_BODY: Final = 256 * 1024
MAX_MESSAGE: Final = 100_000
#: How soon EventSource reconnects after a drop.
RETRY_MS: Final = 1000
#: A client that accepts no bytes for this long is dropped (it resumes when it comes back).
SEND_TIMEOUT: Final = 60.0
#: A stream whose workflow was replaced under it restarts at most this often.
MAX_RESETS: Final = 3
#: An SSE response's headers (``Transfer-Encoding: chunked`` is the server's).
SSE_HEADERS: Final = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
)
#: The comment line sent every ``heartbeat`` seconds so proxies keep the connection.
HEARTBEAT: Final = b": heartbeat\n\n"
#: Where :class:`_App` puts the server's ``send`` in the scope.
RAW_SEND: Final = "wfwatch.raw_send"
#: Routes anyone may fetch: the page shell holds no data and no secret.
PUBLIC_PATHS: Final = ("/", "/index.html", "/favicon.ico")
PUBLIC_PREFIX: Final = "/static/"
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class Bridge:
    """The state one app holds: the hub, the token, and the streams open right now.

    Open streams are tracked only so a stopping server can end them cleanly
    (each then tells its client to reconnect); nothing here is needed to
    serve the next request.
    """

    def __init__(
        self,
        client: Client,
        hub: Hub,
        *,
        token: str | None,
        namespace: str,
        heartbeat: float,
        max_streams: int,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.client = client
        self.hub = hub
        self.namespace = namespace
        self.heartbeat = heartbeat
        self.max_streams = max_streams
        self.send_timeout = send_timeout
        self._token = token.encode() if token else None
        self.frames = protocol.FrameCache()
        self.streams: set[Device] = set()
        self.closing = False

    @property
    def needs_token(self) -> bool:
        return self._token is not None

    def authorized(self, headers: Headers, query: dict[str, str]) -> bool:
        if self._token is None:
            return True
        given = ""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
        elif "token" in query:
            given = query["token"]
        return hmac.compare_digest(given.encode(), self._token)

    async def close_streams(self) -> None:
        """End every open stream (a stopping server); clients reconnect elsewhere."""
        self.closing = True
        for device in list(self.streams):
            with contextlib.suppress(Exception):
                await device.close()

    # --- sessions ---------------------------------------------------------------

    async def sessions(self, request: Request) -> Response:
        status = request.query_params.get("status", "all")
        if status not in STATUS_QUERIES:
            raise BadRequest(f"status must be one of {', '.join(STATUS_QUERIES)}")
        limit = protocol.parse_offset(request.query_params.get("limit", "200"), "limit")
        if not 1 <= limit <= MAX_LIST:
            raise BadRequest(f"limit must be between 1 and {MAX_LIST}")
        try:
            rows = await list_sessions(self.client, STATUS_QUERIES[status], limit=limit)
        except QueryError as err:
            return _error(502, f"listing sessions failed: {err}")
        return JSONResponse({"namespace": self.namespace, "sessions": [_row(row) for row in rows]})

    # --- steering ----------------------------------------------------------------

    async def send(self, request: Request) -> Response:
        session_id = protocol.valid_session_id(request.path_params["session_id"])
        body = await _json_body(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise BadRequest('expected a JSON object {"text": "..."} with a non-empty text')
        if len(text) > MAX_MESSAGE:
            raise BadRequest(f"text is longer than {MAX_MESSAGE:,} characters")
        try:
            result = await send_message(self.client, session_id, text)
        except SteeringError as err:
            return _steering_error(err)
        return JSONResponse({"turn": result.turn, "head_offset": result.head_offset}, status_code=202)

    async def cancel(self, request: Request) -> Response:
        session_id = protocol.valid_session_id(request.path_params["session_id"])
        await _json_body(request, allow_empty=True)
        try:
            await cancel_turn(self.client, session_id)
        except SteeringError as err:
            return _steering_error(err)
        return JSONResponse({"cancel_requested": True}, status_code=202)

    # --- the event stream ------------------------------------------------------------

    async def events(self, request: Request) -> ASGIApp:
        session_id = protocol.valid_session_id(request.path_params["session_id"])
        cursor, join = _where_to_start(request)
        if self.closing:
            return _error(503, "the server is stopping; reconnect")
        if len(self.streams) >= self.max_streams:
            return _error(503, f"too many open streams (limit {self.max_streams}); retry later")
        peer = f"{request.client.host}:{request.client.port}" if request.client else "?"
        stream = _Stream(self, session_id, peer)
        await stream.open(join)
        if cursor is not None and cursor.epoch is not None and cursor.epoch != stream.epoch:
            # The id now names another stream (the workflow was replaced): start it over.
            try:
                await stream.restart(previous_epoch=cursor.epoch)
            except BaseException:
                await stream.close()
                raise
        return _StreamResponse(stream, heartbeat=self.heartbeat, send_timeout=self.send_timeout)

    async def open_device(self, session_id: str, join: Join, peer: str) -> Device:
        try:
            device = await self.hub.open_device(
                session_id, name=f"sse {peer}", join=join, device_id=f"sse-{uuid.uuid4().hex[:12]}", auto_ack=False
            )
        except StreamNotFound as err:
            raise HTTPException(404, str(err)) from err
        except JoinError as err:
            raise BadRequest(str(err)) from err
        except HubError as err:
            raise HTTPException(503, str(err)) from err
        except RPCError as err:
            raise HTTPException(502, f"Temporal refused to describe {session_id!r}: {err.message}") from err
        self.streams.add(device)
        return device

    async def release_device(self, device: Device) -> None:
        """Close a stream's device and drop its saved position: the client holds its own."""
        self.streams.discard(device)
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(Exception):
                await device.close()
            with contextlib.suppress(HubError):
                self.hub.forget_device(device.device_id)


class _Stream:
    """One SSE response's device and the frames it turns into.

    The device is opened before the response starts (so an unknown session
    is a plain 404) and is released by :class:`_StreamResponse` however the
    response ends — even one whose body was never iterated (HEAD, a client
    gone before the first byte), which would otherwise keep a hub device,
    and so an upstream reader, alive forever.
    """

    def __init__(self, bridge: Bridge, session_id: str, peer: str) -> None:
        self.bridge = bridge
        self.session_id = session_id
        self.peer = peer
        self.device: Device | None = None
        self.reset_from: str | None = None

    @property
    def epoch(self) -> str:
        assert self.device is not None
        return self.device.epoch

    async def open(self, join: Join) -> None:
        self.device = await self.bridge.open_device(self.session_id, join, self.peer)

    async def restart(self, *, previous_epoch: str) -> None:
        """Start over at 0 on the session's current stream; the body begins with a ``reset``."""
        await self.close()
        await self.open(Join("start"))
        self.reset_from = previous_epoch

    async def close(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            await self.bridge.release_device(device)

    async def body(self) -> AsyncGenerator[bytes, None]:
        """Frames from the device until the end, a drop, or a stopping server."""
        head = protocol.retry_frame(RETRY_MS)
        if self.reset_from is not None:
            head += protocol.reset_frame(self.epoch, self.reset_from)
        yield head
        frames = self.bridge.frames
        for _ in range(MAX_RESETS + 1):
            device = self.device
            if device is None:
                return
            epoch = device.epoch
            # A framework's items travel with the events they stand for (wfwatch.schemas), folded
            # from where this stream began, as a pane folds them.
            translator = Translator()
            async for event in device:
                if isinstance(event, Delivery):
                    records = [translator.translate(record)[0] for record in event.records]
                    yield frames.chunk(self.session_id, epoch, records)
                elif isinstance(event, GapNotice):
                    yield protocol.gap_frame(epoch, event.start, event.end)
                elif isinstance(event, EndOfStream):
                    if event.status != "replaced":
                        yield protocol.end_frame(epoch, event.status, event.next_offset)
                        return
                    break
            else:
                return  # the device was closed: the server is stopping
            # The workflow id was taken over by a new workflow while we streamed it.
            await self.restart(previous_epoch=epoch)
            yield protocol.reset_frame(self.epoch, epoch)
        yield protocol.end_frame(self.epoch, "replaced", 0)


class _StreamResponse:
    """The SSE response of one stream: the device's frames, heartbeats, and a send timeout.

    A lean pure-ASGI response rather than sse-starlette's ``EventSourceResponse``:
    with a thousand clients on one session every event is sent a thousand
    times, and there the per-send costs add up to most of the process's CPU
    and, through the event loop, to everyone's latency (benchmarks/sse_fanout.py).
    So each body chunk is a single ``send``:

    * no cancel scope and timer per send: the **send timeout** is enforced by
      a watcher that looks every few seconds whether a send has been waiting
      (the client's socket buffer full) for longer than ``send_timeout``;
    * body chunks go to the server's ``send`` as :class:`_App` received it,
      past the middleware wrappers, which only look at ``http.response.start``
      (that one still goes through them, so :class:`Guard` adds its headers).

    Per stream there are two tasks: the pump (device frames → ``send``) and
    the watcher (the client's disconnect, heartbeat comments, the send
    timeout); whichever ends first ends the other. The stream's device is
    released however the response ends — even one whose body was never
    iterated (HEAD, a client gone before the first byte), which would
    otherwise keep a hub device, and so an upstream reader, alive forever.
    """

    def __init__(self, stream: _Stream, *, heartbeat: float, send_timeout: float) -> None:
        self._stream = stream
        self._heartbeat = heartbeat
        self._send_timeout = send_timeout
        #: When the pump's current send started (0: not sending).
        self._sending_since = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await self._stream_body(scope.get(RAW_SEND, send), receive)
        finally:
            await self._stream.close()

    async def _stream_body(self, send: Send, receive: Receive) -> None:
        pump = asyncio.create_task(self._pump(send), name=f"wfwatch-sse-{self._stream.peer}")
        watcher = asyncio.create_task(self._watch(send, receive), name=f"wfwatch-sse-watch-{self._stream.peer}")
        try:
            await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watcher):
                task.cancel()
            await asyncio.wait((pump, watcher))
        if not watcher.cancelled():
            watcher.result()  # returned: the client left or stopped reading; no end of body to send
        if not pump.cancelled():
            pump.result()  # an error in the body is the server's (logged by uvicorn)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> None:
        body = self._stream.body()
        try:
            async for chunk in body:
                self._sending_since = time.monotonic()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self._sending_since = 0.0
        finally:
            await body.aclose()

    async def _watch(self, send: Send, receive: Receive) -> None:
        """Returns when the client has gone or stopped reading; sends heartbeats meanwhile."""
        tick = min(self._heartbeat, self._send_timeout / 4)
        next_beat = time.monotonic() + self._heartbeat
        listen: asyncio.Future[Message] = asyncio.ensure_future(receive())
        try:
            while True:
                await asyncio.wait((listen,), timeout=tick)
                if listen.done():
                    if listen.result()["type"] == "http.disconnect":
                        return
                    listen = asyncio.ensure_future(receive())
                    continue
                now = time.monotonic()
                since = self._sending_since
                if since and now - since > self._send_timeout:
                    # The client stopped reading (a frozen tab, a dead peer TCP has not noticed):
                    # give the connection up; a live client reconnects with its Last-Event-ID.
                    log.info("dropped %s: it read nothing for %ss", self._stream.peer, self._send_timeout)
                    return
                if now >= next_beat:
                    next_beat = now + self._heartbeat
                    if not since:  # a send in progress means bytes are queued anyway
                        try:
                            async with asyncio.timeout(self._send_timeout):
                                await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
                        except TimeoutError:
                            log.info("dropped %s: it read nothing for %ss", self._stream.peer, self._send_timeout)
                            return
        finally:
            listen.cancel()


class _App(Starlette):
    """Starlette that also hands the server's own ``send`` to SSE responses (see :class:`_StreamResponse`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)


# --- request helpers --------------------------------------------------------------------


def _where_to_start(request: Request) -> tuple[Cursor | None, Join]:
    params = request.query_params
    raw = request.headers.get("last-event-id") or params.get("last_event_id")
    if raw:
        cursor = protocol.parse_event_id(raw)
        return cursor, Join.at(cursor.offset)
    if "from" in params:
        offset = protocol.parse_offset(params["from"])
        return Cursor(offset), Join.at(offset)
    mode = params.get("join", "start")
    if mode == "start":
        return None, Join("start")
    if mode == "live":
        return None, Join("live")
    if mode == "turn":
        turn = protocol.parse_offset(params.get("turn", ""), "turn")
        if turn < 1:
            raise BadRequest("turn must be >= 1")
        return None, Join.at_turn(turn)
    if mode == "offset":
        raise BadRequest("join=offset needs from=OFFSET")
    raise BadRequest("join must be one of start, live, turn (or give from=OFFSET)")


async def _json_body(request: Request, *, allow_empty: bool = False) -> Any:
    """The JSON body of a POST; anything but ``application/json`` is refused.

    Also for bodiless POSTs (cancel): a cross-site ``<form>`` cannot send
    JSON, so this is one of the two walls (with the Origin check) that keep
    another site from steering a session through a user's browser.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(415, "send the body as application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"request body larger than {MAX_BODY // 1024} KiB")
    if not body.strip() and allow_empty:
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as err:
        raise BadRequest(f"body is not valid JSON: {err}") from err


def _row(row: SessionRow) -> dict[str, Any]:
    return {
        "session_id": row.workflow_id,
        "run_id": row.run_id,
        "workflow_type": row.workflow_type,
        "status": row.status,
        "start_time": row.start_time.isoformat() if isinstance(row.start_time, datetime) else None,
        "title": row.title,
        "turn": row.turn,
    }


def _steering_error(err: SteeringError) -> Response:
    cause = err.__cause__
    if isinstance(cause, RPCError) and cause.status == RPCStatusCode.NOT_FOUND:
        return _error(404, str(err))
    if isinstance(cause, WorkflowUpdateFailedError):
        return _error(409, str(err))
    return _error(502, str(err))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": PAGE_CSP})


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error(400, str(exc))


async def _temporal_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RPCError)
    return _error(502, f"Temporal answered {exc.status.name if exc.status else 'an error'}: {exc.message}")


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)  # the path only: no query, no token
    return _error(500, "internal error (see the server log)")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers) if exc.headers else None)


# --- the guard: auth, host and origin checks, security headers -----------------------------


class Guard:
    """Pure ASGI middleware (it must not buffer streaming responses).

    Checks run before any route: a refused request never reaches Temporal.
    The token is read from the header or the query string and is never
    logged: uvicorn's access log is off in :mod:`wfwatch.bridge.server`, and
    a ``token=`` parameter is cut from the scope's query string once checked,
    because uvicorn turns its access log back on for any handler attached to
    ``uvicorn.access`` (an embedding app's logging setup, say) and prints the
    query string there.
    """

    def __init__(self, app: ASGIApp, bridge: Bridge) -> None:
        self.app = app
        self.bridge = bridge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        refusal = self._refusal(scope, headers, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        query_string: bytes = scope.get("query_string", b"")
        if b"token" in query_string:
            scope["query_string"] = _without_token(query_string)  # in place: uvicorn logs from this dict

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = MutableHeaders(scope=message)
                extra.setdefault("X-Content-Type-Options", "nosniff")
                extra.setdefault("Referrer-Policy", "no-referrer")
                extra.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: Headers, path: str) -> Response | None:
        host = headers.get("host", "")
        if not self.bridge.needs_token and not _is_loopback_host(host):
            return _error(403, "this server only answers to localhost (start it with a token to expose it)")
        origin = headers.get("origin")
        if origin is not None and origin != "null" and urlsplit(origin).netloc.lower() != host.lower():
            return _error(403, "cross-origin requests are not allowed")
        if origin == "null" and scope["method"] != "GET":
            return _error(403, "cross-origin requests are not allowed")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX):
            return None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if not self.bridge.authorized(headers, query):
            return _error(401, "missing or wrong token", {"WWW-Authenticate": 'Bearer realm="wfwatch"'})
        return None


def _without_token(query_string: bytes) -> bytes:
    """``query_string`` without its ``token`` parameters; the others byte for byte."""
    kept = [
        part
        for part in query_string.split(b"&")
        if unquote_to_bytes(part.partition(b"=")[0].replace(b"+", b" ")) != b"token"
    ]
    return b"&".join(kept)


def _is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback interface."""
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def create_app(
    client: Client,
    hub: Hub,
    *,
    token: str | None,
    namespace: str,
    heartbeat: float = 15.0,
    max_streams: int = 10_000,
    send_timeout: float = SEND_TIMEOUT,
) -> Starlette:
    """The bridge as an ASGI app. ``client`` must already be bound to ``namespace``.

    ``token=None`` disables authentication; only do that on loopback (the
    server refuses otherwise). ``app.state.bridge`` is the :class:`Bridge`
    (a stopping server calls ``close_streams`` on it). At most
    ``max_streams`` streams are open at once (then 503); a stream whose
    client accepts no bytes for ``send_timeout`` seconds is dropped.
    """
    bridge = Bridge(
        client,
        hub,
        token=token or None,
        namespace=namespace,
        heartbeat=heartbeat,
        max_streams=max_streams,
        send_timeout=send_timeout,
    )
    routes = [
        Route("/", _page, methods=["GET"]),
        Route("/index.html", _page, methods=["GET"]),
        Route("/sessions", bridge.sessions, methods=["GET"]),
        Route("/sessions/{session_id}/events", bridge.events, methods=["GET"]),
        Route("/sessions/{session_id}/messages", bridge.send, methods=["POST"]),
        Route("/sessions/{session_id}/cancel", bridge.cancel, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = _App(
        routes=routes,
        exception_handlers={
            BadRequest: _bad_request,
            HTTPException: _http_error,
            RPCError: _temporal_error,
            Exception: _internal_error,
        },
    )
    app.state.bridge = bridge
    app.add_middleware(Guard, bridge=bridge)
    return app
