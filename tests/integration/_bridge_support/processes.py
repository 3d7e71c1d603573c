"""``wfwatch serve`` in a process of its own, so a test can SIGKILL it mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from pathlib import Path

READY = re.compile(r"wfwatch serve: (http://\S+?)/?[ ;]")


class BridgeProcess:
    """``python -m wfwatch.bridge`` against a test's dev server; ``url`` once started."""

    def __init__(
        self,
        address: str,
        namespace: str,
        home: Path,
        *,
        port: int = 0,
        token: str | None = None,
        heartbeat: float = 15,
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.home = home
        self.port = port
        self.token = token
        self.heartbeat = heartbeat
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self.log = home / "bridge.log"

    async def start(self, timeout: float = 30.0) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "WFWATCH_TOKEN"}
        env["WFWATCH_HOME"] = str(self.home)
        if self.token:
            env["WFWATCH_TOKEN"] = self.token
        with open(self.log, "ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "wfwatch.bridge",
                "--address",
                self.address,
                "--namespace",
                self.namespace,
                "--port",
                str(self.port),
                "--heartbeat",
                str(self.heartbeat),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"the bridge did not start in {timeout}s; log: {self.log.read_text()[-2000:]}"
            ) from None
        match = READY.search(line.decode())
        if match is None:
            await self.kill()
            raise AssertionError(f"the bridge said {line!r}; log: {self.log.read_text()[-2000:]}")
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no goodbye to any client, like a crashed or killed server."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    async def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self._proc is not None
        if self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        assert self._proc.returncode is not None
        return self._proc.returncode

    async def __aenter__(self) -> BridgeProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self.kill()
