"""The local durable cache: every item the hub has read, in sqlite.

Why: a restarted hub should not read again what it already has, and a
completed session should replay to a new device without touching Temporal
at all (reading a closed workflow's stream replays its whole history on a
worker for every page: ~750 items/s). The cache makes both instant.

Layout (one file, WAL mode): a ``streams`` row per workflow id with its
*epoch* (the first run id of its continue-as-new chain, so a different
workflow later reusing the id is detected and its stale items dropped) and,
once known, how it ended; ``items`` keyed by (stream, offset) holding the
raw topic, payload encoding and bytes; ``spans`` saying which offset ranges
are complete (``items``) or known to be gone (``gaps``); ``runs`` mapping
each run id of the chain to the first offset read from it; ``turns`` the
offset where each turn started.

All sqlite work runs on two private threads (one writing, one reading, each
with its own connection) so the event loop never blocks on disk. Writes
execute in submission order, so an end marker never lands before the items
it follows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from wfwatch.events import Record
from wfwatch.hub.codec import RawItem, decode_item
from wfwatch.hub.spans import SpanSet

T = TypeVar("T")

SpanKind = Literal["items", "gaps"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    stream      INTEGER PRIMARY KEY,
    workflow_id TEXT NOT NULL UNIQUE,
    epoch       TEXT NOT NULL,
    end_status  TEXT,
    end_offset  INTEGER,
    updated     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    stream        INTEGER NOT NULL,
    stream_offset INTEGER NOT NULL,
    topic         TEXT NOT NULL,
    encoding      TEXT NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (stream, stream_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spans (
    stream     INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    start_off  INTEGER NOT NULL,
    end_off    INTEGER NOT NULL,
    PRIMARY KEY (stream, kind, start_off)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    stream       INTEGER NOT NULL,
    run_id       TEXT NOT NULL,
    first_offset INTEGER NOT NULL,
    PRIMARY KEY (stream, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turns (
    stream        INTEGER NOT NULL,
    turn          INTEGER NOT NULL,
    stream_offset INTEGER NOT NULL,
    PRIMARY KEY (stream, turn)
) WITHOUT ROWID;
"""


@dataclass
class CachedStream:
    """What the cache knows about one workflow's stream."""

    key: int
    workflow_id: str
    epoch: str
    end_status: str | None = None
    end_offset: int | None = None
    items: SpanSet = field(default_factory=SpanSet)
    gaps: SpanSet = field(default_factory=SpanSet)
    turns: dict[int, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CacheWrite:
    """One transaction's worth of new knowledge about a stream."""

    items: list[RawItem] = field(default_factory=list)
    #: The offset range these items complete (may be wider than the items
    #: when a poll returned nothing for part of it).
    covered: tuple[int, int] | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    turns: Mapping[int, int] = field(default_factory=dict)
    runs: Mapping[str, int] = field(default_factory=dict)


class EventCache:
    """An sqlite file of streams; all methods are coroutines safe to call from the loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wfwatch-cache-w")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wfwatch-cache-r")
        self._write_conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._closed = False
        # Create the schema synchronously once, so readers never see a bare file.
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    # --- plumbing -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _wconn(self) -> sqlite3.Connection:
        if self._write_conn is None:
            self._write_conn = self._connect()
        return self._write_conn

    def _rconn(self) -> sqlite3.Connection:
        if self._read_conn is None:
            self._read_conn = self._connect()
        return self._read_conn

    async def _on(self, executor: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        if self._closed:
            raise RuntimeError(f"the event cache {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    async def close(self) -> None:
        """Finish pending writes and close both connections."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()

        def close_writer() -> None:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None

        def close_reader() -> None:
            if self._read_conn is not None:
                self._read_conn.close()
                self._read_conn = None

        await loop.run_in_executor(self._writer, close_writer)
        await loop.run_in_executor(self._reader, close_reader)
        self._closed = True
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    # --- streams --------------------------------------------------------------

    async def load(self, workflow_id: str) -> CachedStream | None:
        """What is cached for ``workflow_id`` (``None`` when nothing is)."""
        return await self._on(self._reader, lambda: self._load(self._rconn(), workflow_id))

    @staticmethod
    def _load(conn: sqlite3.Connection, workflow_id: str) -> CachedStream | None:
        row = conn.execute(
            "SELECT stream, epoch, end_status, end_offset FROM streams WHERE workflow_id = ?", (workflow_id,)
        ).fetchone()
        if row is None:
            return None
        key = int(row[0])
        stream = CachedStream(key=key, workflow_id=workflow_id, epoch=row[1], end_status=row[2], end_offset=row[3])
        for kind, start, end in conn.execute("SELECT kind, start_off, end_off FROM spans WHERE stream = ?", (key,)):
            (stream.items if kind == "items" else stream.gaps).add(int(start), int(end))
        stream.turns = {
            int(t): int(o) for t, o in conn.execute("SELECT turn, stream_offset FROM turns WHERE stream = ?", (key,))
        }
        stream.runs = {
            str(r): int(o) for r, o in conn.execute("SELECT run_id, first_offset FROM runs WHERE stream = ?", (key,))
        }
        return stream

    async def reset(self, workflow_id: str, epoch: str) -> CachedStream:
        """Forget everything cached for ``workflow_id`` and start epoch ``epoch``."""

        def run() -> CachedStream:
            conn = self._wconn()
            with conn:
                row = conn.execute("SELECT stream FROM streams WHERE workflow_id = ?", (workflow_id,)).fetchone()
                if row is not None:
                    key = int(row[0])
                    for table in ("items", "spans", "runs", "turns"):
                        conn.execute(f"DELETE FROM {table} WHERE stream = ?", (key,))
                    conn.execute(
                        "UPDATE streams SET epoch = ?, end_status = NULL, end_offset = NULL, updated = ? "
                        "WHERE stream = ?",
                        (epoch, time.time(), key),
                    )
                else:
                    cursor = conn.execute(
                        "INSERT INTO streams (workflow_id, epoch, updated) VALUES (?, ?, ?)",
                        (workflow_id, epoch, time.time()),
                    )
                    key = int(cursor.lastrowid or 0)
            return CachedStream(key=key, workflow_id=workflow_id, epoch=epoch)

        return await self._on(self._writer, run)

    async def write(self, key: int, change: CacheWrite) -> None:
        """Store items, coverage, gaps, turns and runs in one transaction."""

        def run() -> None:
            conn = self._wconn()
            with conn:
                if change.items:
                    conn.executemany(
                        "INSERT OR REPLACE INTO items (stream, stream_offset, topic, encoding, data) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(key, i.offset, i.topic, i.encoding, i.data) for i in change.items],
                    )
                if change.covered is not None:
                    _add_span(conn, key, "items", *change.covered)
                for start, end in change.gaps:
                    _add_span(conn, key, "gaps", start, end)
                if change.turns:
                    conn.executemany(
                        "INSERT OR REPLACE INTO turns (stream, turn, stream_offset) VALUES (?, ?, ?)",
                        [(key, t, o) for t, o in change.turns.items()],
                    )
                if change.runs:
                    conn.executemany(
                        "INSERT OR IGNORE INTO runs (stream, run_id, first_offset) VALUES (?, ?, ?)",
                        [(key, r, o) for r, o in change.runs.items()],
                    )

        await self._on(self._writer, run)

    async def set_end(self, key: int, status: str, offset: int) -> None:
        """Record how the stream ended; queued after every earlier write."""

        def run() -> None:
            conn = self._wconn()
            with conn:
                conn.execute(
                    "UPDATE streams SET end_status = ?, end_offset = ?, updated = ? WHERE stream = ?",
                    (status, offset, time.time(), key),
                )

        await self._on(self._writer, run)

    async def read(self, key: int, start: int, end: int) -> list[RawItem]:
        """The stored items with offsets in ``[start, end)``, in offset order."""

        def run() -> list[RawItem]:
            rows = self._rconn().execute(
                "SELECT stream_offset, topic, encoding, data FROM items "
                "WHERE stream = ? AND stream_offset >= ? AND stream_offset < ? ORDER BY stream_offset",
                (key, start, end),
            )
            return [RawItem(o, t, e, d) for o, t, e, d in rows]

        return await self._on(self._reader, run)

    async def read_records(self, key: int, start: int, end: int) -> list[Record]:
        """Like :meth:`read` but decoded, off the event loop (decoding is the costly part)."""

        def run() -> list[Record]:
            rows = self._rconn().execute(
                "SELECT stream_offset, topic, encoding, data FROM items "
                "WHERE stream = ? AND stream_offset >= ? AND stream_offset < ? ORDER BY stream_offset",
                (key, start, end),
            )
            return [Record(o, decode_item(t, e, d)) for o, t, e, d in rows]

        return await self._on(self._reader, run)

    async def flush(self) -> None:
        """Wait until every write submitted so far is committed."""
        await self._on(self._writer, lambda: None)

    async def touch(self, key: int) -> None:
        """Mark a stream as used now, so :meth:`prune` keeps it."""

        def run() -> None:
            conn = self._wconn()
            with conn:
                conn.execute("UPDATE streams SET updated = ? WHERE stream = ?", (time.time(), key))

        await self._on(self._writer, run)

    async def prune(self, older_than: float, keep: Collection[str] = ()) -> list[str]:
        """Drop streams not used for ``older_than`` seconds (except ``keep``); returns their ids.

        The cache is a copy: a pruned session is read from Temporal again if
        someone opens it while Temporal still has it.
        """
        cutoff = time.time() - older_than
        kept = set(keep)

        def run() -> list[str]:
            conn = self._wconn()
            with conn:
                rows = conn.execute("SELECT stream, workflow_id FROM streams WHERE updated < ?", (cutoff,)).fetchall()
                doomed = [(int(key), str(wid)) for key, wid in rows if wid not in kept]
                for key, _ in doomed:
                    for table in ("items", "spans", "runs", "turns", "streams"):
                        conn.execute(f"DELETE FROM {table} WHERE stream = ?", (key,))
            return [wid for _, wid in doomed]

        return await self._on(self._writer, run)

    async def heads(self, workflow_ids: Collection[str]) -> dict[str, tuple[int, bool]]:
        """``workflow_id -> (head, final)`` for the cached ones among ``workflow_ids``.

        ``head`` is the end offset of a stream that ended (``final``), else the
        highest offset cached so far: a lower bound of where the stream is now.
        """
        wanted = list(dict.fromkeys(workflow_ids))

        def run() -> dict[str, tuple[int, bool]]:
            found: dict[str, tuple[int, bool]] = {}
            for start in range(0, len(wanted), 500):  # stay under sqlite's bound-parameter limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._rconn().execute(
                    "SELECT s.workflow_id, s.end_offset, MAX(sp.end_off) FROM streams s "
                    f"LEFT JOIN spans sp ON sp.stream = s.stream WHERE s.workflow_id IN ({marks}) "
                    "GROUP BY s.stream",
                    chunk,
                )
                for workflow_id, end_offset, covered in rows:
                    if end_offset is not None:
                        found[str(workflow_id)] = (int(end_offset), True)
                    elif covered is not None:
                        found[str(workflow_id)] = (int(covered), False)
            return found

        return await self._on(self._reader, run)

    async def workflow_ids(self) -> list[str]:
        return await self._on(
            self._reader, lambda: [str(r[0]) for r in self._rconn().execute("SELECT workflow_id FROM streams")]
        )


def _add_span(conn: sqlite3.Connection, key: int, kind: SpanKind, start: int, end: int) -> None:
    """Merge ``[start, end)`` into the stored ranges of ``kind`` (touching ranges join)."""
    if end <= start:
        return
    rows = conn.execute(
        "SELECT start_off, end_off FROM spans WHERE stream = ? AND kind = ? AND start_off <= ? AND end_off >= ?",
        (key, kind, end, start),
    ).fetchall()
    merged = SpanSet([(start, end), *((int(s), int(e)) for s, e in rows)])
    conn.executemany(
        "DELETE FROM spans WHERE stream = ? AND kind = ? AND start_off = ?", [(key, kind, s) for s, _ in rows]
    )
    conn.executemany(
        "INSERT INTO spans (stream, kind, start_off, end_off) VALUES (?, ?, ?, ?)",
        [(key, kind, s, e) for s, e in merged],
    )
