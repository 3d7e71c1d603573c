"""What the hub hands to callers: join requests, device events, status rows.

These are plain frozen dataclasses so a dashboard, an SSE bridge or a test
can hold them without importing anything else from the hub. The three
:data:`DeviceEvent` kinds follow Centrifugo's recovery model: a device either
receives a contiguous run of records from its position (:class:`Delivery`),
is told explicitly which offsets no longer exist (:class:`GapNotice`), or
learns that the stream is over (:class:`EndOfStream`). There is no silent
jump and no "maybe": a consumer can check its own contiguity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wfwatch.events import Record

#: Where a device starts reading.
#:
#: * ``start`` — offset 0 (everything the workflow still holds);
#: * ``live`` — the current head: only what is published from now on;
#: * ``offset`` — an explicit offset (``Join.offset``);
#: * ``turn`` — the first offset of turn ``Join.turn``;
#: * ``resume`` — the position this device id last acknowledged (persisted
#:   across process restarts); a device never seen before starts at 0.
JoinMode = Literal["start", "live", "offset", "turn", "resume"]

JOIN_MODES: tuple[JoinMode, ...] = ("start", "live", "offset", "turn", "resume")


@dataclass(frozen=True)
class Join:
    """A join (or seek) request; validated on construction so mistakes fail early."""

    mode: JoinMode = "start"
    offset: int | None = None
    turn: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in JOIN_MODES:
            raise ValueError(f"unknown join mode {self.mode!r} (expected one of {', '.join(JOIN_MODES)})")
        if self.mode == "offset" and (self.offset is None or self.offset < 0):
            raise ValueError(f"join mode 'offset' needs an offset >= 0, got {self.offset!r}")
        if self.mode == "turn" and (self.turn is None or self.turn < 1):
            raise ValueError(f"join mode 'turn' needs a turn number >= 1, got {self.turn!r}")

    @classmethod
    def at(cls, offset: int) -> Join:
        return cls("offset", offset=offset)

    @classmethod
    def at_turn(cls, turn: int) -> Join:
        return cls("turn", turn=turn)

    def describe(self) -> str:
        """A short label for tables: ``start``, ``live``, ``offset 120``, ``turn 3``."""
        if self.mode == "offset":
            return f"offset {self.offset}"
        if self.mode == "turn":
            return f"turn {self.turn}"
        return self.mode


@dataclass(frozen=True, slots=True)
class Delivery:
    """Records contiguous from the device's position; ``next_offset`` follows the last one."""

    records: list[Record]
    next_offset: int


@dataclass(frozen=True, slots=True)
class GapNotice:
    """Offsets ``start`` .. ``end - 1`` are gone from the workflow; reading resumes at ``end``."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The workflow closed with ``status`` and the device has everything up to ``next_offset``.

    ``next_offset`` is the stream's head where it ended, also for a device
    that asked for an offset beyond it (that device's position stays where it asked).

    ``status`` is one of ``completed``, ``failed``, ``cancelled``,
    ``terminated``, ``timed_out`` (or ``deleted`` when the workflow vanished
    while being read).
    """

    status: str
    next_offset: int


DeviceEvent = Delivery | GapNotice | EndOfStream


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One row of the devices table.

    ``position`` is the next offset the device will be given; ``acked`` the
    position it confirmed having processed (what ``resume`` uses);
    ``head`` the newest offset the hub knows of, so ``lag = head - position``.
    """

    device_id: str
    name: str
    session_id: str
    join: str
    position: int
    head: int
    lag: int
    connected: bool
    direct: bool
    last_seen: float
    delivered: int
    acked: int = 0
    open: bool = True


@dataclass(frozen=True, slots=True)
class UpstreamStats:
    """How a session is being read from Temporal, for the dashboard and the tests.

    ``updates`` and ``queries`` count the hub's own calls for this session
    (upstream reader plus catch-up reads); ``max_in_flight`` is the most
    poll calls the hub ever had outstanding at once for it (the design keeps
    it at 1). ``direct_updates`` counts the polls of devices in direct mode,
    which bypass the hub on purpose.
    """

    session_id: str
    mode: str
    running: bool
    caught_up: bool
    updates: int
    queries: int
    items: int
    in_flight: int
    max_in_flight: int
    backfill_queries: int
    restarts: int
    errors: int
    last_error: str
    base: int
    head: int
    retained: int
    cached: int
    epoch: str
    ended: str | None
    devices: int
    connected: int
    direct_devices: int
    direct_updates: int
    #: What keeps the upstream from reading right now (a server outage...); "" when fine.
    trouble: str = ""


class HubError(Exception):
    """Something the hub cannot do, with a message a user can act on."""


class JoinError(HubError):
    """A join request cannot be resolved (unknown turn, device already open, ...)."""


@dataclass(frozen=True)
class KnownHead:
    """A session's head offset as the hub knows it.

    ``exact`` is false when it comes from the cache of a stream that may have
    moved on since: the head is at least ``offset``.
    """

    offset: int
    exact: bool

    def describe(self) -> str:
        return str(self.offset) if self.exact else f"≥{self.offset}"
