"""Headless Chromium driven over the Chrome DevTools Protocol, on a closed network.

Only loopback is reachable: every host name but localhost resolves to
nothing (``--host-resolver-rules``), and the browser's own background
traffic (updates, sync, metrics, safe browsing...) is switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

CLOSED_NETWORK_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--password-store=basic",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
)


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


class Chromium:
    """One headless browser with a throw-away profile; ``page()`` attaches to its tab."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    async def start(self, url: str, timeout: float = 30.0) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        log = open(self.profile.parent / "chromium.log", "ab")  # noqa: SIM115 - lives as long as the browser
        self.proc = subprocess.Popen(
            [self.binary, *CLOSED_NETWORK_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", url],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not marker.exists() or not marker.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"chromium did not start (exit {self.proc.poll()}); see {log.name}")
            await asyncio.sleep(0.05)
        self.port = int(marker.read_text().split()[0])

    async def page(self) -> Page:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                targets = (await http.get(f"http://127.0.0.1:{self.port}/json/list")).json()
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    break
                await asyncio.sleep(0.05)
        assert pages, "chromium shows no page"
        socket = await websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        return Page(socket)

    async def close(self) -> None:
        """Stop the browser, then anything left of the process group it started (renderers, zygote)."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.get_running_loop().run_in_executor(None, lambda: proc.wait(10))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own group: start_new_session=True


class Page:
    """A tab: evaluate JavaScript and get the value back."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        await self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll ``expression`` until it is truthy; returns its value.

        An exception counts as "not yet" (the page may be between documents
        while it navigates); the last one is reported on timeout.
        """
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                value = await self.evaluate(expression)
            except AssertionError as err:
                value, last_error = None, str(err)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression} {last_error}")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.socket.close()
