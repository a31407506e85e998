"""The snapshot-record read model.

A record turns ``completed`` only on SnapshotSealed, which the runner hands to
this projection after :class:`~.sealing.ManifestProjection`, so a reader that
sees ``completed`` always finds the whole manifest. Block writes only move
``last_activity`` forward (for the timeout), coalesced to one update per
snapshot per batch because a busy snapshot writes a thousand blocks a second.

A deleted snapshot's record is kept with status ``deleted`` (the collector
finds what to reclaim by it) and nothing that follows changes it: a pending
snapshot deleted mid-upload may still be sealed or time out in the events.
A tag change carries the whole tag set, so the last one projected wins.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from ..domain.events import (
    BlockWritten,
    CompletionRequested,
    CopyProgressed,
    EventRecord,
    SnapshotDeleted,
    SnapshotFailed,
    SnapshotSealed,
    SnapshotStarted,
    SubBlockWritten,
    TagsChanged,
)
from ..domain.lifecycle import DELETED
from ..domain.snapshot import COMPLETED, ERROR, PENDING, SnapshotRecord
from ..ports import ReadModelStore


class SnapshotRecordsProjection:
    def __init__(self, records: ReadModelStore):
        self.records = records

    def handle_batch(self, batch: Sequence[EventRecord]) -> None:
        activity: dict[str, float] = {}
        for record in batch:
            event = record.event
            if isinstance(event, (BlockWritten, SubBlockWritten)):
                activity[event.snapshot_id] = max(activity.get(event.snapshot_id, 0.0), event.written_at)
            elif isinstance(event, CopyProgressed):
                self._flush(activity)
                self._progress(event)
            elif isinstance(event, CompletionRequested):
                activity[event.snapshot_id] = max(activity.get(event.snapshot_id, 0.0), event.requested_at)
            else:
                self._flush(activity)
                self.handle(record)
        self._flush(activity)

    def _flush(self, activity: dict[str, float]) -> None:
        for snapshot_id, when in activity.items():
            self.records.touch_snapshot(snapshot_id, when)
        activity.clear()

    def _progress(self, event: CopyProgressed) -> None:
        """A copy reports 0-99 while blocks are copied; 100 comes with the seal."""
        current = self.records.get_snapshot(event.snapshot_id)
        if current is None or current.status != PENDING or not event.blocks_total:
            return
        progress = min(99, event.blocks_done * 100 // event.blocks_total)
        if progress > (current.progress or 0):
            self.records.put_snapshot(replace(current, progress=progress))
        self.records.touch_snapshot(event.snapshot_id, event.reported_at)

    def handle(self, record: EventRecord) -> None:
        event = record.event
        if isinstance(event, SnapshotStarted):
            if self.records.get_snapshot(event.snapshot_id) is None:
                self.records.put_snapshot(SnapshotRecord.from_started(event))
        elif isinstance(event, SnapshotDeleted):
            current = self.records.get_snapshot(event.snapshot_id)
            if current is not None and current.status != DELETED:
                self.records.put_snapshot(replace(current, status=DELETED))
        elif isinstance(event, TagsChanged):
            current = self.records.get_snapshot(event.snapshot_id)
            if current is not None and current.status != DELETED and current.tags != event.tags:
                self.records.put_snapshot(replace(current, tags=event.tags))
        elif isinstance(event, SnapshotSealed):
            current = self.records.get_snapshot(event.snapshot_id)
            if current is not None and current.status not in (COMPLETED, DELETED):
                self.records.put_snapshot(
                    replace(
                        current,
                        status=COMPLETED,
                        completion_time=event.sealed_at,
                        changed_blocks_count=event.changed_blocks_count,
                        progress=100,
                    )
                )
        elif isinstance(event, SnapshotFailed):
            current = self.records.get_snapshot(event.snapshot_id)
            if current is not None and current.status not in (ERROR, DELETED):
                self.records.put_snapshot(replace(current, status=ERROR, state_message=event.message))
