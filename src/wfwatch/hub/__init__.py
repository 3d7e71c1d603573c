"""The delivery hub: one upstream reader per session, any number of devices.

Import from here; the submodules are implementation detail. Nothing in this
package imports Textual (a guard test checks it).
"""

from __future__ import annotations

from wfwatch.hub.device import Device
from wfwatch.hub.hub import DEFAULT_UPSTREAM_MODE, Hub
from wfwatch.hub.results import (
    Delivery,
    DeviceEvent,
    DeviceInfo,
    EndOfStream,
    GapNotice,
    HubError,
    Join,
    JoinError,
    JoinMode,
    KnownHead,
    UpstreamStats,
)
from wfwatch.stream.reader import StreamNotFound

__all__ = [
    "DEFAULT_UPSTREAM_MODE",
    "Delivery",
    "Device",
    "DeviceEvent",
    "DeviceInfo",
    "EndOfStream",
    "GapNotice",
    "Hub",
    "HubError",
    "Join",
    "JoinError",
    "JoinMode",
    "KnownHead",
    "StreamNotFound",
    "UpstreamStats",
]
