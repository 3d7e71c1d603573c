"""A paced, size-bounded publisher for Workflow Streams.

It speaks the SDK's publish protocol (the ``__temporal_workflow_stream_publish``
Signal carrying ``PublishInput`` with a publisher id and a sequence number, so
the workflow's dedup gives exactly-once delivery across retries) but fixes
three things the SDK's ``WorkflowStreamClient`` leaves to the caller:

* **Latency without a fixed timer.** Nagle-like: when the publisher has been
  idle for ``linger`` it sends at once; while busy, events accumulate and go
  out together at most once per ``linger``. Only one Signal is in flight at a
  time, so a slow server slows the publisher down instead of piling up Signals.
* **Bounded Signals.** A Signal never carries more than ``max_batch_bytes``
  nor ``max_batch_items``; the rest waits for the next one. The SDK sends its
  whole buffer as one Signal, which the server rejects over 2 MB and gRPC over
  4 MB, and which can stall the workflow task decoding thousands of items.
* **Token coalescing.** Consecutive token deltas of the same message, attempt
  and channel merge while they wait in the buffer, so a model emitting tokens
  faster than the workflow can take them costs fewer, larger items instead of
  an ever-growing queue. Readers see the same text; only the split differs.

``publish`` is a coroutine that waits while too much is buffered, so a fast
producer is paced by the stream instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Self

import msgspec
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.workflow_streams import PublishEntry, PublishInput
from temporalio.service import RPCError, RPCStatusCode

from wfwatch import events

log = logging.getLogger(__name__)

PUBLISH_SIGNAL = "__temporal_workflow_stream_publish"

_JSON_METADATA = {"encoding": b"json/plain"}
# Per-item overhead on the wire besides the event's own bytes: Payload
# framing, base64 growth of that framing, the topic name and JSON punctuation.
_ITEM_OVERHEAD = 64
_RETRYABLE = frozenset(
    {
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.DATA_LOSS,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.DEADLINE_EXCEEDED,
    }
)


def publisher_id_for(epoch: str | None) -> str:
    """A fresh publisher id; with ``epoch``, one that names the stream it writes to.

    ``epoch`` is the first run id of the target's continue-as-new chain. Publish
    Signals address a workflow by id alone, so an activity of a workflow that
    was replaced under the same id (terminated and started again) would write
    into the new one; a session drops batches whose id claims another epoch
    (:func:`claimed_epoch`). Ids without the prefix (the SDK's own publishers)
    are accepted as before.
    """
    random = uuid.uuid4().hex[:16]
    return f"e:{epoch}:{random}" if epoch else random


def claimed_epoch(publisher_id: str) -> str | None:
    """The epoch a publisher id names (see :func:`publisher_id_for`), or None."""
    if not publisher_id.startswith("e:"):
        return None
    epoch, separator, _ = publisher_id[2:].rpartition(":")
    return epoch if separator and epoch else None


class PublishError(Exception):
    """Events could not be delivered to the workflow (and why)."""


@dataclass(frozen=True, slots=True)
class PublisherSettings:
    """How a publisher batches. The defaults come from ``benchmarks/publish_latency.py``."""

    linger: float = 0.05
    max_batch_bytes: int = 256 * 1024
    max_batch_items: int = 256
    max_buffer_bytes: int = 1024 * 1024
    max_event_bytes: int = 1024 * 1024 + 64 * 1024
    max_coalesced_chars: int = 16 * 1024
    max_retry_duration: float = 600.0


@dataclass(slots=True)
class PublisherStats:
    signals: int = 0
    items: int = 0
    events: int = 0
    retries: int = 0
    max_signal_bytes: int = 0


def payload_wire(data: bytes) -> str:
    """The wire string of one item: base64 of a serialized json/plain Payload."""
    payload = Payload(metadata=_JSON_METADATA, data=data)
    return base64.b64encode(payload.SerializeToString()).decode("ascii")


def event_payload(event: events.Event) -> Payload:
    """A Payload for publishing from inside a workflow (zero-copy fast path)."""
    return Payload(metadata=_JSON_METADATA, data=events.encode(event))


class EventPublisher:
    """Publishes wfwatch events to one workflow's stream; use as ``async with``.

    Leaving the ``async with`` block flushes everything buffered, even when
    the block raised, so a failing activity still delivers what it produced.
    """

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        *,
        topic: str = events.TOPIC,
        settings: PublisherSettings | None = None,
        epoch: str | None = None,
    ) -> None:
        self._handle = handle
        self._topic = topic
        self.settings = settings or PublisherSettings()
        self.stats = PublisherStats()
        self._publisher_id = publisher_id_for(epoch)
        self._sequence = 0
        self._buffer: list[events.Event] = []
        self._buffer_bytes = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._last_send = 0.0

    @classmethod
    def for_workflow(
        cls,
        client: Client,
        workflow_id: str,
        *,
        settings: PublisherSettings | None = None,
        epoch: str | None = None,
    ) -> EventPublisher:
        """Target the latest run of ``workflow_id``, so continue-as-new is followed.

        With ``epoch`` (the chain's first run id) a session refuses the batches
        once ``workflow_id`` names another workflow; see :func:`publisher_id_for`.
        """
        return cls(client.get_workflow_handle(workflow_id), settings=settings, epoch=epoch)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="wfwatch-publisher")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.flush()
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, PublishError):
                    await self._task
                self._task = None

    async def publish(self, event: events.Event) -> None:
        """Buffer ``event``; waits while the buffer is full (backpressure)."""
        self._raise_if_failed()
        while self._buffer_bytes >= self.settings.max_buffer_bytes:
            self._room.clear()
            await self._room.wait()
            self._raise_if_failed()
        self.publish_nowait(event)

    def publish_nowait(self, event: events.Event) -> None:
        """Buffer ``event`` without waiting (for callers that pace themselves)."""
        self._raise_if_failed()
        size = _estimate(event)
        if size > self.settings.max_event_bytes:
            raise PublishError(
                f"event of ~{size} bytes exceeds the limit of {self.settings.max_event_bytes} bytes "
                "(Temporal rejects Signals over 2 MB); split it"
            )
        self.stats.events += 1
        last = self._buffer[-1] if self._buffer else None
        if (
            isinstance(event, events.TokenDelta)
            and isinstance(last, events.TokenDelta)
            and _same_stream(last, event)
            and len(last.text) + len(event.text) <= self.settings.max_coalesced_chars
        ):
            merged = msgspec.structs.replace(last, text=last.text + event.text)
            self._buffer[-1] = merged
            self._buffer_bytes += _estimate(merged) - _estimate(last)
        else:
            self._buffer.append(event)
            self._buffer_bytes += size
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until everything published so far has reached the server."""
        if self._task is None and self._buffer:
            await self._send_all_now()
            return
        while self._buffer or not self._idle.is_set():
            self._raise_if_failed()
            self._wake.set()
            await self._idle.wait()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise PublishError(str(self._failure)) from self._failure

    async def _send_all_now(self) -> None:
        while self._buffer:
            await self._send(self._take_batch())

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if not self._buffer:
                    self._idle.set()
                    continue
                # Nagle: right away after idleness, otherwise once per linger.
                wait = self._last_send + self.settings.linger - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last_send = time.monotonic()
                await self._send(self._take_batch())
                if self._buffer:
                    self._wake.set()
                else:
                    self._idle.set()
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # surfaced to the producer on its next call
            self._failure = err
            self._idle.set()
            self._room.set()
            raise

    def _take_batch(self) -> list[PublishEntry]:
        entries: list[PublishEntry] = []
        size = 0
        taken = 0
        for event in self._buffer:
            wire = payload_wire(events.encode(event))
            item_size = len(wire) + len(self._topic) + _ITEM_OVERHEAD
            if entries and (
                size + item_size > self.settings.max_batch_bytes or len(entries) >= self.settings.max_batch_items
            ):
                break
            entries.append(PublishEntry(topic=self._topic, data=wire))
            size += item_size
            taken += 1
            self._buffer_bytes -= _estimate(event)
        del self._buffer[:taken]
        self._room.set()
        self.stats.max_signal_bytes = max(self.stats.max_signal_bytes, size)
        return entries

    async def _send(self, entries: list[PublishEntry]) -> None:
        """Send one batch, retrying transient errors with the same sequence."""
        self._sequence += 1
        batch = PublishInput(items=entries, publisher_id=self._publisher_id, sequence=self._sequence)
        started = time.monotonic()
        delay = 0.05
        while True:
            try:
                await self._handle.signal(PUBLISH_SIGNAL, batch)
                break
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise PublishError(
                        f"workflow {self._handle.id!r} is not running; cannot publish ({err.message})"
                    ) from err
                if err.status not in _RETRYABLE or time.monotonic() - started > self.settings.max_retry_duration:
                    raise PublishError(f"publishing to {self._handle.id!r} failed: {err.message}") from err
                self.stats.retries += 1
                log.warning("publish to %s failed (%s); retrying", self._handle.id, err.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.stats.signals += 1
        self.stats.items += len(entries)


def _same_stream(a: events.TokenDelta, b: events.TokenDelta) -> bool:
    return (
        a.message_id == b.message_id
        and a.attempt == b.attempt
        and a.channel == b.channel
        and a.lane == b.lane
        and a.turn == b.turn
    )


def _estimate(event: events.Event) -> int:
    if isinstance(event, events.TokenDelta):
        return len(event.text.encode("utf-8")) + 160
    return len(events.encode(event)) + 32
