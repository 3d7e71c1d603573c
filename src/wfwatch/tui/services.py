"""Everything the dashboard needs from the layers below, in one object.

The TUI never calls Temporal itself: it calls these functions. The default
set is built from a Temporal client and a :class:`~wfwatch.hub.Hub` the app
owns (panes are hub devices); tests and the snapshot suite pass their own
deterministic ones.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

from temporalio.client import Client

from wfwatch import sessions, steering
from wfwatch.hub import DeviceInfo, Hub, UpstreamStats
from wfwatch.hub.remote import RemoteDevices
from wfwatch.steering import SendResult
from wfwatch.tui.device import DeviceFactory, hub_devices

SessionLister = Callable[[str], Awaitable[list[sessions.SessionRow]]]


@dataclass
class Services:
    list_sessions: SessionLister
    open_device: DeviceFactory
    send_message: Callable[[str, str], Awaitable[SendResult]]
    cancel_turn: Callable[[str], Awaitable[None]]
    #: The hub's devices on a session (open and saved), when a hub is in use.
    device_table: Callable[[str], list[DeviceInfo]] | None = None
    #: How the hub reads a session upstream, when a hub is in use.
    upstream: Callable[[str], UpstreamStats] | None = None
    #: Releases what the services hold (the hub: positions saved, readers stopped).
    aclose: Callable[[], Awaitable[None]] | None = None
    #: One run's last error and retries (workflow id, run id), fetched for the highlighted row only.
    describe: Callable[[str, str], Awaitable[sessions.SessionDetail]] | None = None
    #: The namespace listed, and the server's address (which demo's Web UI is this server's).
    namespace: str = "default"
    address: str | None = None
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def for_client(cls, client: Client, *, hub: Hub | None = None, remote: RemoteDevices | None = None) -> Services:
        """Services over ``client``; panes become devices of ``hub`` (a new one by default).

        A hub created here is closed by :attr:`aclose`; one passed in belongs
        to the caller. With ``remote``, the devices table also lists the
        devices of those ``wfwatch serve`` replicas (browser viewers served
        elsewhere), each named after its replica; :attr:`aclose` stops its polling.
        """
        own_hub = hub is None
        the_hub = hub if hub is not None else Hub(client)

        async def lister(query: str) -> list[sessions.SessionRow]:
            rows = await sessions.list_sessions(client, query)
            heads = await the_hub.known_heads([row.workflow_id for row in rows])
            return [replace(row, head=heads.get(row.workflow_id)) for row in rows]

        def table(session_id: str) -> list[DeviceInfo]:
            rows = the_hub.devices(session_id)
            return rows + remote.devices(session_id) if remote is not None else rows

        async def close() -> None:
            if remote is not None:
                await remote.aclose()
            if own_hub:
                await the_hub.aclose()

        return cls(
            list_sessions=lister,
            open_device=hub_devices(the_hub),
            send_message=partial(steering.send_message, client),
            cancel_turn=partial(steering.cancel_turn, client),
            device_table=table,
            upstream=the_hub.upstream_stats,
            aclose=close,
            describe=partial(sessions.describe_session, client),
            namespace=client.namespace,
            address=client.service_client.config.target_host,
        )
