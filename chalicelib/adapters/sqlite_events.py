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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from ..domain.errors import DuplicateEvent, StorageFull
from ..domain.events import Event, EventRecord
from ..ports import EventFeed, EventStore

_SQLITE_FULL = 13  # "database or disk is full": nothing of the transaction was committed

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


@contextmanager
def _full_is_storage_full(contents: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode == _SQLITE_FULL:
            raise StorageFull(f"The {contents} is out of space") from exc
        raise


class _Connection(sqlite3.Connection):
    """A connection on which a full disk is StorageFull, named after what the file holds."""

    contents = "database"

    def execute(self, *args):
        with _full_is_storage_full(self.contents):
            return super().execute(*args)

    def executemany(self, *args):
        with _full_is_storage_full(self.contents):
            return super().executemany(*args)


def connect(path: Path, synchronous: str = "FULL", contents: str = "database") -> sqlite3.Connection:
    """A connection with the pragmas every blocksnap SQLite file uses."""
    conn = sqlite3.connect(
        str(path), timeout=30, isolation_level=None, check_same_thread=False, factory=_Connection
    )
    conn.contents = contents
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class ThreadLocalConnections:
    """One connection per thread to one SQLite file, created on first use."""

    def __init__(self, path: Path, schema: str, synchronous: str = "FULL", contents: str = "database"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._synchronous = synchronous
        self._contents = contents
        conn = connect(self.path, synchronous, contents)
        conn.executescript(schema)
        conn.close()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._synchronous, self._contents)
            self._local.conn = conn
        return conn


class _Append:
    """One caller's records, waiting to be committed with whatever else is queued."""

    def __init__(self, rows: list[tuple]):
        self.rows = rows
        self.error: BaseException | None = None
        self.done = threading.Event()


class SQLiteEventStore(EventStore, EventFeed):
    """Appends are group-committed: concurrent callers share one transaction and one fsync.

    The first caller to find no commit under way becomes the leader and
    commits batches until the queue is empty; the others wait for their
    outcome. Each caller's records go in under a SAVEPOINT, so a duplicate
    fails only its own append. With four writers this replaces four
    ``BEGIN IMMEDIATE``/fsync rounds by one, without weakening
    ``synchronous=FULL``: nobody is answered before the shared commit is durable.
    """

    def __init__(self, path: Path):
        self._conns = ThreadLocalConnections(path, _SCHEMA, contents="event table")
        self._lock = threading.Lock()
        self._queue: list[_Append] = []
        self._leading = False

    def append(self, records: Sequence[EventRecord]) -> None:
        mine = _Append([(r.stream, r.key, r.event.type_name, r.event.to_json()) for r in records])
        with self._lock:
            self._queue.append(mine)
            lead = not self._leading
            self._leading = True
        if lead:
            while True:
                with self._lock:
                    batch, self._queue = self._queue, []
                    if not batch:
                        self._leading = False
                        break
                self._commit(batch)
        mine.done.wait()
        if mine.error is not None:
            raise mine.error

    def _commit(self, batch: list[_Append]) -> None:
        conn = self._conns.get()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for n, pending in enumerate(batch):
                conn.execute(f"SAVEPOINT a{n}")
                try:
                    conn.executemany("INSERT INTO events (stream, key, type, data) VALUES (?, ?, ?, ?)", pending.rows)
                except sqlite3.IntegrityError as exc:
                    conn.execute(f"ROLLBACK TO a{n}")
                    pending.error = DuplicateEvent(str(exc))
                conn.execute(f"RELEASE a{n}")
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for pending in batch:
                pending.error = pending.error or exc
        finally:
            for pending in batch:
                pending.done.set()

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
