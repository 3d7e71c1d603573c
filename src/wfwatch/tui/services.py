"""Everything the dashboard needs from the layers below, in one object.

The TUI never calls Temporal itself: it calls these functions. The default
set is built from a Temporal client (and, when given, a hub); tests and the
snapshot suite pass their own deterministic ones.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from temporalio.client import Client

from wfwatch import sessions, steering
from wfwatch.agents.shared import SendResult
from wfwatch.tui.device import DeviceFactory, direct_devices

SessionLister = Callable[[str], Awaitable[list[sessions.SessionRow]]]


@dataclass
class Services:
    list_sessions: SessionLister
    open_device: DeviceFactory
    send_message: Callable[[str, str], Awaitable[SendResult]]
    cancel_turn: Callable[[str], Awaitable[None]]
    #: The hub's device table, when a hub is in use: () -> list of rows.
    device_table: Callable[[], list[Any]] | None = None
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def for_client(cls, client: Client, *, open_device: DeviceFactory | None = None) -> Services:
        async def lister(query: str) -> list[sessions.SessionRow]:
            return await sessions.list_sessions(client, query)

        return cls(
            list_sessions=lister,
            open_device=open_device or direct_devices(client),
            send_message=partial(steering.send_message, client),
            cancel_turn=partial(steering.cancel_turn, client),
        )
