"""The two appends that write a snapshot: a full block, then the completion.

The copier (:mod:`chalicelib.encryption.copier`) writes a copy through
exactly these, so the encryption function is given this sink over the event
store and nothing else of the API: no read models, no token minter, no
wire-shaped service call. It appends the same events, with the same
concurrency control, as the API's PutSnapshotBlock and CompleteSnapshot.

Duplicates, until the use cases move out of ``service.py``:
:meth:`record_full_write` is ``SnapshotService.record_full_write`` (its
``_append_write`` with ``full_history=False``), and
:meth:`request_completion` is the append half of
``SnapshotService.complete_snapshot``, without its request checks and its
visible-status answer, which only a client needs.
"""

from __future__ import annotations

import time
from typing import Callable

from ..domain.errors import DuplicateEvent, ValidationError
from ..domain.events import (
    COMPLETION_KEY,
    BlockWritten,
    CompletionRequested,
    EventRecord,
    block_key,
    block_key_prefix,
    block_stream,
    lifecycle_stream,
)
from ..domain.snapshot import PENDING
from ..ports import EventStore

APPEND_RETRIES = 20


class WriteSink:
    def __init__(self, events: EventStore, clock: Callable[[], float] = time.time):
        self.events = events
        self.clock = clock

    def record_full_write(self, snapshot_id: str, index: int, digest: str, key: str) -> None:
        """Append a BlockWritten for durable bytes at ``key``, with the index's next seq.

        A repeat of the index's latest write (same digest) appends nothing.
        The first attempt assumes a fresh index (seq 0) and skips the read, as
        for every block of a new snapshot; a collision reads the latest write.
        """
        stream, prefix = block_stream(snapshot_id, index), block_key_prefix(index)
        for attempt in range(APPEND_RETRIES):
            latest = [] if attempt == 0 else [
                r.event for r in self.events.query(stream, prefix, reverse=True, limit=1)
            ]
            if latest and isinstance(latest[0], BlockWritten) and latest[0].digest == digest:
                return
            seq = latest[0].seq + 1 if latest else 0
            event = BlockWritten(snapshot_id, index, seq, digest, key, round(self.clock(), 3))
            try:
                self.events.append([EventRecord(stream, block_key(index, seq), event)])
                return
            except DuplicateEvent:
                continue
        raise ValidationError(
            f"Too many concurrent writes to block {index}; retry the request",
            reason="CONFLICTING_BLOCK_UPDATE",
        )

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
