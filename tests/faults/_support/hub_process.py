"""A hub and its devices in a process of their own, so a test can SIGKILL it.

Usage: python hub_process.py ADDRESS NAMESPACE SESSION_ID ROOT DEVICE[:DELAY_MS] ...

Opens a :class:`~wfwatch.hub.Hub` whose positions and cache live under ROOT
(``ROOT/state``, ``ROOT/cache``), opens each device with join mode
``resume`` (a device id never seen before starts at offset 0) and prints
JSON lines on stdout:

* ``{"device": ID, "ready": POSITION}`` once the device is open;
* ``{"device": ID, "offset": N, "item": {...}}`` per delivered record;
* ``{"device": ID, "gap": [START, END]}`` and ``{"device": ID, "end": STATUS, "next_offset": N}``;
* ``{"done": true}`` when every device reached its end.

Each delivery is written and flushed before the device asks for its next
event, which is when auto-ack acknowledges it: a consumer that processes a
record before acknowledging it. So every acknowledged (persisted) offset
has been printed, and after a crash the device's saved position is the
contract: it resumes exactly there.

An optional ``:DELAY_MS`` per device makes it a slow consumer.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.client import Client

from wfwatch import events
from wfwatch.hub import Delivery, EndOfStream, GapNotice, Hub, Join


def item_json(item: events.Decoded) -> dict[str, Any]:
    if isinstance(item, events.UnknownItem):
        return {"kind": "unknown", "topic": item.topic, "reason": item.reason}
    if isinstance(item, events.InvalidItem):
        return {"kind": "invalid", "topic": item.topic, "reason": item.reason}
    return events.to_dict(item)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def follow(hub: Hub, session_id: str, spec: str) -> None:
    device_id, _, delay_ms = spec.partition(":")
    delay = int(delay_ms or 0) / 1000
    device = await hub.open_device(session_id, name=device_id, device_id=device_id, join=Join("resume"))
    emit({"device": device_id, "ready": device.position})
    async for event in device:
        if isinstance(event, Delivery):
            for record in event.records:
                emit({"device": device_id, "offset": record.offset, "item": item_json(record.item)})
            if delay:
                await asyncio.sleep(delay)
        elif isinstance(event, GapNotice):
            emit({"device": device_id, "gap": [event.start, event.end]})
        elif isinstance(event, EndOfStream):
            emit({"device": device_id, "end": event.status, "next_offset": event.next_offset})


async def main(address: str, namespace: str, session_id: str, root: str, specs: list[str]) -> None:
    client = await Client.connect(address, namespace=namespace)
    async with Hub(client, state_dir=Path(root) / "state", cache_dir=Path(root) / "cache") as hub:
        await asyncio.gather(*(follow(hub, session_id, spec) for spec in specs))
    emit({"done": True})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
    os._exit(0)  # a live temporalio Client can crash the interpreter's shutdown
