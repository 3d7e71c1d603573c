"""``wfwatch serve`` in a process of its own, so a test can SIGKILL it mid-stream.

Everything the process writes, on stdout and on stderr, goes to files for
the whole of its life (nothing is left unread in a pipe), so a test can
check that a secret never appears in any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import Sequence
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
        log_level: str = "warning",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.home = home
        self.port = port
        self.token = token
        self.heartbeat = heartbeat
        self.log_level = log_level
        self.extra_args = tuple(extra_args)
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None
        #: stderr (uvicorn's and Python's logs) and stdout (the ready line; uvicorn's access log if it were on).
        self.log = home / "bridge.log"
        self.stdout = home / "bridge.stdout"

    def output(self) -> str:
        """All the process has written so far, stdout then stderr."""
        return self.stdout.read_text(errors="replace") + self.log.read_text(errors="replace")

    async def start(self, timeout: float = 30.0) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "WFWATCH_TOKEN"}
        env["WFWATCH_HOME"] = str(self.home)
        if self.token:
            env["WFWATCH_TOKEN"] = self.token
        skip = self.stdout.stat().st_size if self.stdout.exists() else 0  # an earlier run's ready line
        with open(self.log, "ab") as log, open(self.stdout, "ab") as out:
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
                "--log-level",
                self.log_level,
                *self.extra_args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while (match := READY.search(self.stdout.read_bytes()[skip:].decode(errors="replace"))) is None:
            if self._proc.returncode is not None or time.monotonic() > deadline:
                await self.kill()
                raise AssertionError(
                    f"the bridge did not start in {timeout}s (exit {self._proc.returncode}); "
                    f"output: {self.output()[-2000:]}"
                )
            await asyncio.sleep(0.05)
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
