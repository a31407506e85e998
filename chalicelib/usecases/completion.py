"""CompleteSnapshot: record the request; the sealing projection decides the outcome.

Sealing reads every write of the snapshot, so it runs in the projection, not
in the request: the request appends CompletionRequested under the snapshot's
single completion key (so a retry or a racing second request finds it taken)
and answers ``pending`` until the record says otherwise.
"""

from __future__ import annotations

import time
from typing import Callable

from ..domain import rules
from ..domain.commands import CompleteSnapshot
from ..domain.errors import SnapshotNotFound
from ..domain.snapshot import ERROR, PENDING, Snapshot
from ..ports import EventStore, ReadModelStore
from .write_sink import WriteSink


class Completion:
    def __init__(self, events: EventStore, records: ReadModelStore, clock: Callable[[], float] = time.time):
        self.events = events
        self.records = records
        self.clock = clock
        self.sink = WriteSink(events, clock)

    def complete(self, command: CompleteSnapshot) -> str:
        """The snapshot's status as a client may see it: pending, completed or error."""
        rules.check_completion_checksum(command.checksum, command.checksum_algorithm, command.aggregation_method)
        snapshot = self.events.snapshot(command.snapshot_id)
        if snapshot is None or snapshot.deleted is not None:
            raise SnapshotNotFound(command.snapshot_id)
        if self.sink.append_completion(snapshot, command.changed_blocks_count, command.checksum):
            return PENDING
        if snapshot.completion is None and snapshot.status == PENDING:  # a racing request appended first
            snapshot = self.events.snapshot(command.snapshot_id)
            assert snapshot is not None
        return self._visible_status(snapshot)

    def _visible_status(self, snapshot: Snapshot) -> str:
        if snapshot.status == ERROR:
            return ERROR
        record = self.records.get_snapshot(snapshot.snapshot_id)
        return record.status if record is not None else PENDING
