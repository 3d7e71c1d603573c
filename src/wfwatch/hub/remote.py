"""Devices of other processes: the ``/devices`` tables of ``wfwatch serve`` replicas.

In a fleet (docs/scaling.md) a session's browser viewers are devices of the
replica that serves it, not of the dashboard's own hub. The dashboard's
devices panel asks this for them next to its own: a remote viewer is just
another device row, named ``<replica> · <name>``. Nothing here talks to
Temporal; it reads a bridge over HTTP (stdlib only, off the event loop),
and only for sessions someone looked at in the last few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Final

from wfwatch.hub.results import DeviceInfo

log = logging.getLogger(__name__)

#: A session nobody asked about for this long is no longer polled.
WANTED_FOR: Final = 5.0
_FIELDS: Final = {f.name for f in fields(DeviceInfo)}


class RemoteDevices:
    """Polls each bridge's ``GET /devices?session=`` every ``interval`` seconds for the sessions asked about.

    :meth:`devices` answers at once from the last poll (it is called from a
    UI refresh); the first call for a session starts polling it. A bridge
    that does not answer keeps its last rows and is named in :attr:`errors`.
    """

    def __init__(
        self, bridges: Sequence[str], *, token: str | None = None, interval: float = 1.0, timeout: float = 2.0
    ) -> None:
        self.bridges = [b.rstrip("/") for b in bridges]
        self.interval = interval
        self.timeout = timeout
        self._token = token
        self._wanted: dict[str, float] = {}
        self._rows: dict[tuple[str, str], list[DeviceInfo]] = {}  # (bridge, session) -> rows
        self.errors: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def devices(self, session_id: str) -> list[DeviceInfo]:
        """The remote devices on ``session_id`` as last seen (empty until the first poll answers)."""
        first = session_id not in self._wanted
        self._wanted[session_id] = time.monotonic()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll_loop(), name="wfwatch-remote-devices")
        if first:
            self._wake.set()
        return [row for bridge in self.bridges for row in self._rows.get((bridge, session_id), [])]

    async def poll_once(self) -> None:
        """One round over every bridge and wanted session."""
        now = time.monotonic()
        for session_id, asked in list(self._wanted.items()):
            if now - asked > WANTED_FOR:
                del self._wanted[session_id]
                for bridge in self.bridges:
                    self._rows.pop((bridge, session_id), None)
        for bridge in self.bridges:
            for session_id in list(self._wanted):
                try:
                    answer = await asyncio.to_thread(self._fetch, bridge, session_id)
                    rows = [_device(row) for row in answer["devices"]]
                except Exception as err:  # unreachable, refused, not our JSON: keep the last rows
                    self.errors[bridge] = f"{type(err).__name__}: {err}"
                    continue
                self.errors.pop(bridge, None)
                self._rows[(bridge, session_id)] = rows

    def _fetch(self, bridge: str, session_id: str) -> dict[str, Any]:
        url = f"{bridge}/devices?{urllib.parse.urlencode({'session': session_id})}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body

    async def _poll_loop(self) -> None:
        while True:
            self._wake.clear()
            await self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _device(row: dict[str, Any]) -> DeviceInfo:
    """A bridge's ``/devices`` row as a :class:`DeviceInfo`, its name prefixed with the replica serving it."""
    values = {k: v for k, v in row.items() if k in _FIELDS}
    replica = str(row.get("replica") or "?")
    values["name"] = f"{replica} · {values.get('name', '')}"
    values["device_id"] = f"{replica}/{values.get('device_id', '')}"
    return DeviceInfo(**values)
