"""StartSnapshot and encrypted copies: the use cases that create a snapshot."""

from __future__ import annotations

import time
from typing import Callable

from ..core.blockio import BlockIO
from ..domain import rules
from ..domain.commands import CopyRequest, StartRequest
from ..domain.errors import InvalidSnapshotId, SnapshotNotFound
from ..domain.events import COPY_KEY, CopyRequested, EventRecord, SnapshotStarted, lifecycle_stream
from ..domain.ids import new_snapshot_id
from ..domain.snapshot import COMPLETED, ERROR, SnapshotRecord
from ..ports import EventStore, ReadModelStore
from .client_tokens import ClientTokens, request_digest


class Starts:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        blockio: BlockIO,
        settings: rules.Settings,
        clock: Callable[[], float] = time.time,
    ):
        self.events = events
        self.records = records
        self.blockio = blockio
        self.settings = settings
        self.clock = clock
        self.tokens = ClientTokens(events)

    def start(self, request: StartRequest) -> SnapshotStarted:
        rules.check_start(request, self.settings)
        digest = request_digest("StartSnapshot", request)
        replay = self.tokens.replay(request.client_token, digest)
        if replay is not None:
            return replay
        parent = self.completed(request.parent_snapshot_id) if request.parent_snapshot_id else None
        snapshot_id = new_snapshot_id()
        started = rules.decide_start(request, parent, self.settings, snapshot_id, self.clock(), digest)
        if started.encrypted and parent is None:
            self.blockio.create_lineage_key(snapshot_id, started.kms_key_arn or "")
        return self.tokens.append_start(started, [])

    def copy(self, request: CopyRequest) -> SnapshotStarted:
        """Record an encrypted copy; the encryption function does the work when it sees the event.

        The copy starts a new lineage with its own data key, so later
        incremental snapshots of the copy inherit that key, and the source's
        lineage is untouched.
        """
        rules.copy_key(request, self.settings)
        digest = request_digest("CopySnapshot", request)
        replay = self.tokens.replay(request.client_token, digest)
        if replay is not None:
            return replay
        source = self.completed(request.source_snapshot_id)
        started = rules.decide_copy(request, source, self.settings, new_snapshot_id(), self.clock(), digest)
        copy = CopyRequested(started.snapshot_id, source.snapshot_id, started.kms_key_arn or "", started.start_time)
        return self.tokens.append_start(started, [EventRecord(lifecycle_stream(started.snapshot_id), COPY_KEY, copy)])

    def completed(self, snapshot_id: str) -> SnapshotRecord:
        """A snapshot another may be built on: started, not failed or deleted, and completed.

        A parent deleted after this check but before the child's start is
        appended keeps its data: the collector keeps a deleted snapshot's
        data for its grace period, longer than any request.
        """
        snapshot = self.events.snapshot(snapshot_id)
        if snapshot is None or snapshot.deleted is not None or snapshot.status == ERROR:
            raise SnapshotNotFound(snapshot_id)
        record = self.records.get_snapshot(snapshot_id)
        if record is None or record.status != COMPLETED:
            raise InvalidSnapshotId(f"Source snapshot ({snapshot_id}) is not complete.")
        return record
