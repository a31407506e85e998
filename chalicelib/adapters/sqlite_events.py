"""The embedded event table: one SQLite file in WAL mode.

``synchronous=FULL`` makes every commit durable before the request is
answered: an acknowledged write survives a crash or a power cut. The UNIQUE
(stream, key) constraint is the concurrency control the domain relies on, and
the rowid gives the global order that projections follow from a checkpoint.
Connections are per thread, because a SQLite connection must not be shared
between the server's worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Sequence

from ..domain.errors import DuplicateEvent
from ..domain.events import Event, EventRecord
from ..ports import EventFeed, EventStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream   TEXT NOT NULL,
    key      TEXT NOT NULL,
    type     TEXT NOT NULL,
    data     TEXT NOT NULL,
    UNIQUE (stream, key)
);
"""


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection with the pragmas every blocksnap SQLite file uses."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class ThreadLocalConnections:
    """One connection per thread to one SQLite file, created on first use."""

    def __init__(self, path: Path, schema: str, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._synchronous = synchronous
        conn = connect(self.path, synchronous)
        conn.executescript(schema)
        conn.close()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._synchronous)
            self._local.conn = conn
        return conn


class SQLiteEventStore(EventStore, EventFeed):
    def __init__(self, path: Path):
        self._conns = ThreadLocalConnections(path, _SCHEMA)

    def append(self, records: Sequence[EventRecord]) -> None:
        conn = self._conns.get()
        rows = [(r.stream, r.key, r.event.type_name, r.event.to_json()) for r in records]
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO events (stream, key, type, data) VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise DuplicateEvent(str(exc)) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def query(self, stream, prefix="", *, reverse=False, limit=None):
        order = "DESC" if reverse else "ASC"
        sql = (
            "SELECT position, stream, key, type, data FROM events "
            "WHERE stream = ? AND key >= ? AND key < ? "
            f"ORDER BY key {order}"
        )
        params: list = [stream, prefix, prefix + "\U0010ffff"]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_record(row) for row in self._conns.get().execute(sql, params)]

    def read_after(self, position, limit):
        rows = self._conns.get().execute(
            "SELECT position, stream, key, type, data FROM events WHERE position > ? "
            "ORDER BY position LIMIT ?",
            (int(position), int(limit)),
        )
        return [_record(row) for row in rows]


def _record(row) -> EventRecord:
    position, stream, key, type_name, data = row
    return EventRecord(stream, key, Event.from_json(type_name, data), position)
