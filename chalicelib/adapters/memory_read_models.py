"""The reference read models: snapshot records and checkpoints in two dicts.

:class:`SnapshotRecord` is frozen, so a record is stored as given and a
touch replaces it; the lock makes that read-compare-replace one step, as the
SQLite UPDATE and the DynamoDB conditional update are.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from ..domain.snapshot import PENDING, SnapshotRecord
from ..ports import ReadModelStore


class MemoryReadModelStore(ReadModelStore):
    def __init__(self):
        self._lock = threading.Lock()
        self._snapshots: dict[str, SnapshotRecord] = {}
        self._checkpoints: dict[str, str] = {}

    def get_snapshot(self, snapshot_id):
        with self._lock:
            return self._snapshots.get(snapshot_id)

    def put_snapshot(self, record):
        with self._lock:
            self._snapshots[record.snapshot_id] = record

    def touch_snapshot(self, snapshot_id, when):
        with self._lock:
            record = self._snapshots.get(snapshot_id)
            if record is not None and record.last_activity < when:
                self._snapshots[snapshot_id] = replace(record, last_activity=when)

    def pending_snapshots(self):
        return [r for r in self.all_snapshots() if r.status == PENDING]

    def all_snapshots(self):
        with self._lock:
            return [self._snapshots[k] for k in sorted(self._snapshots)]

    def snapshots_after(self, after, limit):
        with self._lock:
            ids = sorted(k for k in self._snapshots if k > (after or ""))[:limit]
            return [self._snapshots[k] for k in ids]

    def get_checkpoint(self, name):
        with self._lock:
            return self._checkpoints.get(name)

    def set_checkpoint(self, name, position):
        with self._lock:
            self._checkpoints[name] = str(position)

    def clear(self):
        with self._lock:
            self._snapshots.clear()
            self._checkpoints.clear()
