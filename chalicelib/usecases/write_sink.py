"""The two appends that write a snapshot: a full block, then the completion.

The copier (:mod:`chalicelib.encryption.copier`) writes a copy through
exactly these, so the encryption function is given this sink over the event
store and nothing else of the API: no read models, no token minter, no
use case that could answer a client. It appends the same events, with the
same concurrency control, as PutSnapshotBlock and CompleteSnapshot.

A block write is :class:`~.writes.BlockWrites`'s, the API's own append path.
:meth:`WriteSink.request_completion` duplicates the append half of
:meth:`.completion.Completion.complete`, without its request checks and its
visible-status answer, which need the read models (and the copier's role
may not read them): extracting that half from ``Completion`` into a
records-free class, as ``BlockWrites`` is for writes, would remove it.
"""

from __future__ import annotations

import time
from typing import Callable

from ..domain.events import COMPLETION_KEY, CompletionRequested, EventRecord, lifecycle_stream
from ..domain.snapshot import PENDING
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
        if snapshot is None or snapshot.completion is not None or snapshot.status != PENDING:
            return False
        event = CompletionRequested(snapshot_id, changed_blocks_count, linear_checksum, round(self.clock(), 3))
        return self.events.append_once([EventRecord(lifecycle_stream(snapshot_id), COMPLETION_KEY, event)])
