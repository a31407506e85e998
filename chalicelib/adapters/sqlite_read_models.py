"""Embedded read models: snapshot records and projection checkpoints in SQLite.

Kept in their own file beside the event table, so ``blocksnap rebuild`` can
drop them wholesale without touching the source of truth. Commits here use
``synchronous=NORMAL``: a power cut may roll records and checkpoint back
together, and the projector then replays the lost events (projections are
idempotent), so durability here would only cost an fsync per batch.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..domain.snapshot import PENDING, SnapshotRecord
from ..ports import ReadModelStore
from .sqlite_events import ThreadLocalConnections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_by_status ON snapshots (status);
CREATE TABLE IF NOT EXISTS checkpoints (
    name     TEXT PRIMARY KEY,
    position TEXT NOT NULL
);
"""


class SQLiteReadModelStore(ReadModelStore):
    def __init__(self, path: Path):
        self._conns = ThreadLocalConnections(path, _SCHEMA, synchronous="NORMAL", contents="read-model table")

    def get_snapshot(self, snapshot_id):
        row = self._conns.get().execute(
            "SELECT record FROM snapshots WHERE snapshot_id = ?", (snapshot_id,)
        ).fetchone()
        return None if row is None else SnapshotRecord.from_dict(json.loads(row[0]))

    def put_snapshot(self, record):
        self._conns.get().execute(
            "INSERT OR REPLACE INTO snapshots (snapshot_id, status, record) VALUES (?, ?, ?)",
            (record.snapshot_id, record.status, json.dumps(record.to_dict(), sort_keys=True)),
        )

    def touch_snapshot(self, snapshot_id, when):
        self._conns.get().execute(
            "UPDATE snapshots SET record = json_set(record, '$.last_activity', ?) "
            "WHERE snapshot_id = ? AND json_extract(record, '$.last_activity') < ?",
            (when, snapshot_id, when),
        )

    def pending_snapshots(self):
        rows = self._conns.get().execute(
            "SELECT record FROM snapshots WHERE status = ? ORDER BY snapshot_id", (PENDING,)
        )
        return [SnapshotRecord.from_dict(json.loads(r[0])) for r in rows]

    def all_snapshots(self):
        rows = self._conns.get().execute("SELECT record FROM snapshots ORDER BY snapshot_id")
        return [SnapshotRecord.from_dict(json.loads(r[0])) for r in rows]

    def snapshots_after(self, after, limit):
        rows = self._conns.get().execute(
            "SELECT record FROM snapshots WHERE snapshot_id > ? ORDER BY snapshot_id LIMIT ?", (after or "", limit)
        )
        return [SnapshotRecord.from_dict(json.loads(r[0])) for r in rows]

    def get_checkpoint(self, name):
        row = self._conns.get().execute(
            "SELECT position FROM checkpoints WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_checkpoint(self, name, position):
        self._conns.get().execute(
            "INSERT OR REPLACE INTO checkpoints (name, position) VALUES (?, ?)", (name, str(position))
        )

    def clear(self):
        conn = self._conns.get()
        conn.execute("DELETE FROM snapshots")
        conn.execute("DELETE FROM checkpoints")
