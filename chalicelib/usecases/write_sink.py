"""The two appends that write a snapshot: a full block, then the completion.

The copier (:mod:`chalicelib.encryption.copier`) writes a copy through
exactly these, so the encryption function is given this sink over the event
store and nothing else of the API: no read models, no token minter, no
use case that could answer a client. It appends the same events, with the
same concurrency control, as PutSnapshotBlock and CompleteSnapshot.

A block write is :class:`~.writes.BlockWrites`'s, the API's own append path;
a completion is :meth:`WriteSink.append_completion`, which
:class:`~.completion.Completion` calls too, around its request checks and its
visible-status answer (those need the read models, which the copier's role
may not read).
"""

from __future__ import annotations

import time
from typing import Callable

from ..domain.events import COMPLETION_KEY, CompletionRequested, EventRecord, lifecycle_stream
from ..domain.snapshot import PENDING, Snapshot
from ..ports import EventStore
from .writes import BlockWrites


class WriteSink:
    def __init__(self, events: EventStore, clock: Callable[[], float] = time.time):
        self.events = events
        self.clock = clock
        self._block_writes = BlockWrites(events, clock)

    def record_full_write(self, snapshot_id: str, index: int, digest: str, key: str) -> None:
        """Append a BlockWritten with the index's next seq; a repeat of its latest digest appends nothing."""
        self._block_writes.record_full_write(snapshot_id, index, digest, key)

    def request_completion(self, snapshot_id: str, changed_blocks_count: int, linear_checksum: str) -> bool:
        """Append the CompletionRequested of a pending snapshot; False if it has one or has an outcome.

        The checksum is the LINEAR aggregate (SHA256) of the block digests in
        index order, which the sealer verifies before it seals.
        """
        snapshot = self.events.snapshot(snapshot_id)
        return snapshot is not None and self.append_completion(snapshot, changed_blocks_count, linear_checksum)

    def append_completion(self, snapshot: Snapshot, changed_blocks_count: int, checksum: str | None) -> bool:
        """Append the snapshot's one CompletionRequested; False if it has one already or has an outcome."""
        if snapshot.completion is not None or snapshot.status != PENDING:
            return False
        event = CompletionRequested(snapshot.snapshot_id, changed_blocks_count, checksum, round(self.clock(), 3))
        return self.events.append_once([EventRecord(lifecycle_stream(snapshot.snapshot_id), COMPLETION_KEY, event)])
