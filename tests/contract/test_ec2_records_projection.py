"""The records projection of the EC2 events: tag changes land in the record, a deletion is final."""

from __future__ import annotations

from chalicelib.adapters.sqlite_read_models import SQLiteReadModelStore
from chalicelib.domain.events import (
    DELETED_KEY,
    OUTCOME_KEY,
    STARTED_KEY,
    EventRecord,
    SnapshotDeleted,
    SnapshotSealed,
    SnapshotStarted,
    TagsChanged,
    tags_key,
)
from chalicelib.domain.lifecycle import DELETED
from chalicelib.projections.snapshot_records import SnapshotRecordsProjection

SNAP = "snap-0123456789abcdef0"


def at(key, event):
    return EventRecord(SNAP, key, event)


def test_tags_then_deletion_and_nothing_after_it(tmp_path):
    records = SQLiteReadModelStore(tmp_path / "r.sqlite3")
    projection = SnapshotRecordsProjection(records)
    started = SnapshotStarted(SNAP, 1, SNAP, 1.0, 60, "111122223333", tags=(("a", "1"),))
    batch = [at(STARTED_KEY, started),
             at(tags_key(0), TagsChanged(SNAP, 0, (("a", "1"), ("b", "2")), 2.0)),
             at(tags_key(1), TagsChanged(SNAP, 1, (("b", "2"),), 3.0))]
    projection.handle_batch(batch)
    assert records.get_snapshot(SNAP).tags == (("b", "2"),)

    projection.handle_batch([at(DELETED_KEY, SnapshotDeleted(SNAP, 4.0)),
                             # a pending upload sealed after its deletion
                             at(OUTCOME_KEY, SnapshotSealed(SNAP, 0, 5.0)),
                             at(tags_key(2), TagsChanged(SNAP, 2, (), 6.0))])
    record = records.get_snapshot(SNAP)
    assert (record.status, record.tags) == (DELETED, (("b", "2"),))
    assert records.pending_snapshots() == []  # the timekeeper no longer sees it

    projection.handle_batch(batch)  # a replay changes nothing
    assert records.get_snapshot(SNAP) == record
