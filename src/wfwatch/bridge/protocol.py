"""The bridge's wire format: SSE event ids, frames and request validation.

Kept apart from the ASGI app so the rules a client relies on (what an ``id:``
means, what a frame holds, which ids are accepted) are pure functions with
no server around them, unit-testable and identical in every ``serve``
process — which is what makes the bridge stateless: any process turns the
same records into the same bytes.

**Event ids are cursors.** An event's ``id:`` is ``"{epoch}:{next}"``: the
stream's epoch (the first run id of the workflow's continue-as-new chain)
and the offset a client resumes from after this event. So ``Last-Event-ID``
and ``?from=`` mean the same thing — the first offset wanted — and a gap, an
end or a reset carries a usable id too (a record at offset 41 has id
``E:42``; its ``data`` still says ``"offset": 41``). An id from another
epoch means the workflow id now names a different stream: the client is
sent a ``reset`` and the stream restarts at 0.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from wfwatch import events

#: Workflow ids the bridge accepts: printable ASCII without spaces, slashes,
#: quotes or anything a visibility query or a URL would treat specially.
SESSION_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,254}")
#: Epochs are run ids (UUIDs); anything longer or stranger is not ours.
EPOCH_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Offsets are bounded so a client cannot ask for absurd numbers.
MAX_OFFSET: Final = 2**53

_json: Final = msgspec.json.Encoder()


class BadRequest(ValueError):
    """A request the bridge refuses; ``str()`` is the message sent to the client."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a client wants to continue: an offset, and the epoch it was taken in (if known)."""

    offset: int
    epoch: str | None = None


def valid_session_id(session_id: str) -> str:
    if not SESSION_ID_PATTERN.fullmatch(session_id):
        raise BadRequest(
            "invalid session id: use 1-255 characters from A-Z a-z 0-9 . _ : @ + = ~ -, starting with a letter or digit"
        )
    return session_id


def parse_offset(value: str, name: str = "from") -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 16:
        raise BadRequest(f"{name} must be a non-negative integer offset, got {value[:40]!r}")
    offset = int(value)
    if offset > MAX_OFFSET:
        raise BadRequest(f"{name} is out of range")
    return offset


def parse_event_id(value: str) -> Cursor:
    """Parse a ``Last-Event-ID``: ``"{epoch}:{offset}"``, or a bare offset (no epoch check).

    A refusal says which forms are accepted: a client that sent ``abc`` learns
    what an id looks like rather than only that an offset is wrong.
    """
    value = value.strip()
    epoch, _, offset = value.rpartition(":")
    if ":" in value and not EPOCH_PATTERN.fullmatch(epoch):
        raise _bad_event_id(value)
    try:
        parsed = parse_offset(offset, "Last-Event-ID")
    except BadRequest:
        raise _bad_event_id(value) from None
    return Cursor(parsed, epoch or None)


def _bad_event_id(value: str) -> BadRequest:
    return BadRequest(
        "Last-Event-ID must be '<epoch>:<offset>' (an event's id, as the stream sent it) "
        f"or a bare offset '<offset>' (a non-negative integer), got {value[:60]!r}"
    )


def event_id(epoch: str, next_offset: int) -> str:
    return f"{epoch}:{next_offset}"


# --- frames -------------------------------------------------------------------------


def record_json(record: events.Record) -> bytes:
    """One record as the JSON object of docs/events.md with ``"offset"`` first.

    Items that are not wfwatch events keep their offset and travel as
    ``{"kind": "unknown" | "invalid", ...}`` so a page can list them as odd
    items, exactly as the reducer does.
    """
    item = record.item
    if isinstance(item, events.UnknownItem):
        fields: dict[str, Any] = {
            "kind": "unknown",
            "topic": item.topic,
            "item_kind": item.kind,
            "reason": item.reason,
            "data": _payload(item),
        }
        if record.schema:
            # A framework's item (wfwatch.schemas): the events it stands for, which the page applies.
            named = item.type_name()
            fields["item_kind"] = named[1] if named else ""
            fields["schema"] = record.schema
            fields["derived"] = [events.to_dict(event) for event in record.derived]
        body = _encode_odd(fields)
    elif isinstance(item, events.InvalidItem):
        body = _json.encode({"kind": "invalid", "topic": item.topic, "reason": item.reason, "preview": item.preview})
    else:
        body = events.encode(item)
    return b'{"offset":%d,' % record.offset + body[1:]


def _payload(item: events.UnknownItem) -> Any:
    """The item's JSON for a frame: its bytes as they came when they fit on one SSE ``data:`` line."""
    data = item.data
    if type(data) is msgspec.Raw:
        raw = bytes(data)
        if b"\n" in raw or b"\r" in raw:
            return item.value()  # whitespace between a publisher's tokens would end the SSE field
    return data


def _encode_odd(fields: dict[str, Any]) -> bytes:
    try:
        return _json.encode(fields)
    except (TypeError, ValueError, OverflowError):
        return _json.encode({**fields, "data": None})


def record_frame(epoch: str, record: events.Record) -> bytes:
    return b"id: %s:%d\ndata: %s\n\n" % (epoch.encode(), record.offset + 1, record_json(record))


def control_frame(kind: str, epoch: str, next_offset: int, data: dict[str, Any]) -> bytes:
    """A named event (``gap``, ``end``, ``reset``) carrying the cursor after it."""
    return b"event: %s\nid: %s:%d\ndata: %s\n\n" % (kind.encode(), epoch.encode(), next_offset, _json.encode(data))


def gap_frame(epoch: str, start: int, end: int) -> bytes:
    return control_frame("gap", epoch, end, {"start": start, "end": end})


def end_frame(epoch: str, status: str, next_offset: int) -> bytes:
    return control_frame("end", epoch, next_offset, {"status": status, "next_offset": next_offset})


def reset_frame(epoch: str, previous_epoch: str | None) -> bytes:
    return control_frame("reset", epoch, 0, {"epoch": epoch, "previous_epoch": previous_epoch})


def retry_frame(retry_ms: int) -> bytes:
    """Tells EventSource how soon to reconnect after a drop (no event is dispatched)."""
    return b"retry: %d\n\n" % retry_ms


class FrameCache:
    """Encoded frames shared by every stream of a process.

    A thousand tabs on one session receive the same records in (mostly) the
    same slices, so a record is encoded once and a slice joined once. An
    ``(epoch, offset)`` never changes meaning, so entries never go stale;
    they are only evicted, least recently used first.
    """

    def __init__(self, max_frames: int = 50_000, max_chunks: int = 1024) -> None:
        self._frames: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._chunks: OrderedDict[tuple[str, str, int, int], bytes] = OrderedDict()
        self._max_frames = max_frames
        self._max_chunks = max_chunks

    def chunk(self, session_id: str, epoch: str, records: list[events.Record]) -> bytes:
        """The frames of ``records`` (contiguous, in order) as one body chunk.

        Records with derived events (a framework's items, translated by each
        stream from where its client joined) are keyed by those events too:
        the same offset can stand for different events on two streams.
        """
        if any(record.derived for record in records):
            return b"".join([self._frame(session_id, epoch, record) for record in records])
        key = (session_id, epoch, records[0].offset, records[-1].offset)
        found = self._chunks.get(key)
        if found is not None:
            self._chunks.move_to_end(key)
            return found
        data = b"".join([self._frame(session_id, epoch, record) for record in records])
        self._chunks[key] = data
        if len(self._chunks) > self._max_chunks:
            self._chunks.popitem(last=False)
        return data

    def _frame(self, session_id: str, epoch: str, record: events.Record) -> bytes:
        key: tuple[Any, ...] = (
            (session_id, epoch, record.offset, record.derived) if record.derived else (session_id, epoch, record.offset)
        )
        found = self._frames.get(key)
        if found is None:
            found = self._frames[key] = record_frame(epoch, record)
            if len(self._frames) > self._max_frames:
                self._frames.popitem(last=False)
        return found
