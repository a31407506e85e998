"""Sealing: the policy that decides a completion, and the manifest it yields.

Sealing runs here, after CompleteSnapshot has returned 202, because it reads
every write of the snapshot: doing it in the request would make completion
cost O(blocks) inside an HTTP timeout. The decision (sealed, or failed with
the AWS state message) is itself an event appended under the snapshot's single
outcome key, so a racing timeout and a seal can never both win, and replaying
the log never decides twice.
"""

from __future__ import annotations

from typing import Callable

from ..domain.checksums import linear_aggregate
from ..domain.events import (
    OUTCOME_KEY,
    BlockWritten,
    CompletionRequested,
    EventRecord,
    SnapshotFailed,
    SnapshotSealed,
    SubBlockWritten,
    block_streams,
    lifecycle_stream,
)
from ..domain.manifest import Entry
from ..domain.snapshot import CHECKSUM_MISMATCH, COUNT_MISMATCH, Snapshot
from ..domain.writes import fold_writes
from ..core.manifest_store import ManifestStore
from ..ports import EventStore


def snapshot_writes(events: EventStore, snapshot_id: str) -> list[BlockWritten | SubBlockWritten]:
    writes = []
    for stream in block_streams(snapshot_id):
        for record in events.query(stream):
            if isinstance(record.event, (BlockWritten, SubBlockWritten)):
                writes.append(record.event)
    return writes


def final_entries(events: EventStore, manifests: ManifestStore, snapshot: Snapshot) -> dict[int, Entry]:
    parent_id = snapshot.started.parent_snapshot_id
    parent = manifests.open(parent_id) if parent_id else None
    return fold_writes(
        snapshot_writes(events, snapshot.snapshot_id),
        parent.lookup if parent else (lambda index: None),
    )


class Sealer:
    """On CompletionRequested: verify count and aggregate, build the manifest, decide."""

    def __init__(self, events: EventStore, manifests: ManifestStore, clock: Callable[[], float]):
        self.events = events
        self.manifests = manifests
        self.clock = clock

    def handle(self, record: EventRecord) -> None:
        request = record.event
        if not isinstance(request, CompletionRequested):
            return
        snapshot = self.events.snapshot(request.snapshot_id)
        if snapshot is None or snapshot.sealed is not None or snapshot.failed is not None:
            return
        entries = final_entries(self.events, self.manifests, snapshot)
        outcome: SnapshotSealed | SnapshotFailed
        now = round(self.clock(), 3)
        if len(entries) != request.changed_blocks_count:
            outcome = SnapshotFailed(request.snapshot_id, COUNT_MISMATCH, now)
        elif request.checksum is not None and request.checksum != linear_aggregate(
            entries[i].digest for i in sorted(entries)
        ):
            outcome = SnapshotFailed(request.snapshot_id, CHECKSUM_MISMATCH, now)
        else:
            self.manifests.seal(request.snapshot_id, snapshot.started.parent_snapshot_id, entries)
            outcome = SnapshotSealed(request.snapshot_id, len(entries), now)
        self.events.append_once([EventRecord(lifecycle_stream(request.snapshot_id), OUTCOME_KEY, outcome)])


class ManifestProjection:
    """On SnapshotSealed: make sure the manifest exists (it is rebuilt after a rebuild)."""

    def __init__(self, events: EventStore, manifests: ManifestStore):
        self.events = events
        self.manifests = manifests

    def handle(self, record: EventRecord) -> None:
        sealed = record.event
        if not isinstance(sealed, SnapshotSealed) or self.manifests.exists(sealed.snapshot_id):
            return
        snapshot = self.events.snapshot(sealed.snapshot_id)
        assert snapshot is not None
        entries = final_entries(self.events, self.manifests, snapshot)
        self.manifests.seal(sealed.snapshot_id, snapshot.started.parent_snapshot_id, entries)
