"""Items as the hub stores them: raw bytes in, decoded records out.

The cache keeps what the workflow sent (topic, payload encoding, payload
bytes) rather than decoded objects, so a newer wfwatch decodes old caches
with its newer schema, and foreign items survive byte for byte. Decoding
never raises (it goes through :func:`wfwatch.events.decode`); items that
are not wfwatch events come out as :class:`~wfwatch.events.UnknownItem`
with their topic and decoded JSON, or their raw bytes when they are not
JSON at all.
"""

from __future__ import annotations

import base64
from typing import NamedTuple

import msgspec
from temporalio.api.common.v1 import Payload

from wfwatch import events

JSON_ENCODING = "json/plain"
#: Stored as the encoding when a wire item was not a Temporal Payload at all.
NOT_A_PAYLOAD = "!not-a-payload"


class RawItem(NamedTuple):
    """One stream position as stored: the offset, topic, payload encoding and bytes."""

    offset: int
    topic: str
    encoding: str
    data: bytes


def raw_from_wire(offset: int, topic: str, wire: str) -> RawItem:
    """Unpack a Workflow Streams wire item (base64 of a serialized Payload)."""
    try:
        payload = Payload()
        payload.ParseFromString(base64.b64decode(wire))
    except Exception:  # protobuf raises its own DecodeError; binascii its Error
        return RawItem(offset, topic, NOT_A_PAYLOAD, wire.encode("ascii", "replace"))
    encoding = payload.metadata.get("encoding", b"").decode("utf-8", "replace")
    return RawItem(offset, topic, encoding, payload.data)


def decode_raw(item: RawItem) -> events.Record:
    """The record for a stored item; never raises."""
    return events.Record(item.offset, decode_item(item.topic, item.encoding, item.data))


def decode_item(topic: str, encoding: str, data: bytes) -> events.Decoded:
    """Decode one item's payload, keeping foreign bytes when they are not JSON."""
    if encoding == NOT_A_PAYLOAD:
        return events.InvalidItem(topic=topic, reason="not a Temporal payload", preview=data[:80].decode("ascii"))
    if encoding not in (JSON_ENCODING, ""):
        if topic == events.TOPIC:
            return events.InvalidItem(topic=topic, reason=f"payload encoding {encoding!r} is not {JSON_ENCODING}")
        return events.UnknownItem(
            topic=topic, data=data, reason=f"topic {topic!r} is not {events.TOPIC!r} ({encoding} payload)"
        )
    decoded = events.decode(data, topic)
    if (
        isinstance(decoded, events.UnknownItem)
        and decoded.data is None
        and topic != events.TOPIC
        and "not JSON" in decoded.reason
    ):
        # Generic pass-through: a foreign item that is not JSON keeps its bytes.
        return msgspec.structs.replace(decoded, data=data)
    return decoded
