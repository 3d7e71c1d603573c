"""Device positions that outlive the process: the ``resume`` join reads them.

A device's position is ``(epoch, offset)`` as in Centrifugo: the offset is
only meaningful within the stream it was taken from, so a position saved
for one epoch of a workflow id is not applied to a different workflow that
later reuses the id.

The rows are tiny and written in debounced batches (see ``Hub``), so this
store uses one sqlite connection on the event loop's thread.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    epoch      TEXT NOT NULL,
    join_label TEXT NOT NULL,
    position   INTEGER NOT NULL,
    direct     INTEGER NOT NULL,
    last_seen  REAL NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class SavedPosition:
    """What is remembered of a device between runs."""

    device_id: str
    name: str
    session_id: str
    epoch: str
    join: str
    position: int
    direct: bool
    last_seen: float


class PositionStore:
    """Persisted device positions, keyed by device id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def get(self, device_id: str) -> SavedPosition | None:
        row = self._conn.execute(
            "SELECT device_id, name, session_id, epoch, join_label, position, direct, last_seen "
            "FROM devices WHERE device_id = ?",
            (device_id,),
        ).fetchone()
        return _saved(row) if row is not None else None

    def all(self, session_id: str | None = None) -> list[SavedPosition]:
        query = "SELECT device_id, name, session_id, epoch, join_label, position, direct, last_seen FROM devices"
        rows = (
            self._conn.execute(query + " WHERE session_id = ? ORDER BY device_id", (session_id,))
            if session_id is not None
            else self._conn.execute(query + " ORDER BY session_id, device_id")
        )
        return [_saved(row) for row in rows]

    def save(self, positions: list[SavedPosition]) -> None:
        if not positions:
            return
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO devices "
                "(device_id, name, session_id, epoch, join_label, position, direct, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (p.device_id, p.name, p.session_id, p.epoch, p.join, p.position, int(p.direct), p.last_seen)
                    for p in positions
                ],
            )

    def forget(self, device_id: str) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM devices WHERE device_id = ?", (device_id,))

    def close(self) -> None:
        self._conn.close()


def _saved(row: tuple[object, ...]) -> SavedPosition:
    device_id, name, session_id, epoch, join, position, direct, last_seen = row
    return SavedPosition(
        device_id=str(device_id),
        name=str(name),
        session_id=str(session_id),
        epoch=str(epoch),
        join=str(join),
        position=int(position),  # type: ignore[call-overload]
        direct=bool(direct),
        last_seen=float(last_seen),  # type: ignore[arg-type]
    )
