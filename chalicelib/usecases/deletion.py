"""DeleteSnapshot: a deletion is an event like every other state change.

:class:`~chalicelib.domain.events.SnapshotDeleted` goes under the lifecycle
stream's one ``4-deleted`` key, so of two racing deletes one wins and the
other finds the snapshot gone. A pending snapshot may be deleted: its upload
is abandoned (AWS lets a pending snapshot be deleted too). What the deletion
leaves to others: the records projection marks the record ``deleted``, the
EBS read path must refuse it, and storage no live snapshot reaches is the
collector's to reclaim; descendants keep every block they reference.
"""

from __future__ import annotations

import time
from typing import Callable

from ..domain import lifecycle
from ..domain.errors import DryRunSucceeded, DuplicateEvent, SnapshotNotFound
from ..domain.events import DELETED_KEY, EventRecord, SnapshotDeleted, lifecycle_stream
from ..domain.ids import check_snapshot_id
from ..ports import EventStore


class Deletion:
    def __init__(self, events: EventStore, clock: Callable[[], float] = time.time):
        self.events = events
        self.clock = clock

    def delete_snapshot(self, snapshot_id: str, dry_run: bool = False) -> None:
        check_snapshot_id(snapshot_id)
        life = lifecycle.fold(r.event for r in self.events.query(lifecycle_stream(snapshot_id)))
        if life is None or life.deleted:
            raise SnapshotNotFound(snapshot_id)
        if dry_run:
            raise DryRunSucceeded()
        event = SnapshotDeleted(snapshot_id, round(self.clock(), 3))
        try:
            self.events.append([EventRecord(lifecycle_stream(snapshot_id), DELETED_KEY, event)])
        except DuplicateEvent:
            raise SnapshotNotFound(snapshot_id) from None
