"""PutSnapshotBlock and sub-block writes: one append path for every block write.

Bytes are stored first, under a key that names their content, then the write
is recorded as the next event of its block index; the event is the
acknowledgement. Writes to one index are ordered by a sequence number, and
appending an existing (stream, key) fails, so concurrent writers of one index
retry against each other's result instead of overwriting it.
"""

from __future__ import annotations

import time
from typing import Callable

from ..core.blockio import ZERO_BLOCK, BlockIO
from ..core.manifest_store import ManifestStore
from ..domain import keys, rules
from ..domain.checksums import sha256_b64
from ..domain.commands import PutBlock
from ..domain.errors import (
    ChecksumMismatch,
    DuplicateEvent,
    InvalidBlock,
    InvalidSnapshotId,
    SnapshotNotFound,
    ValidationError,
)
from ..domain.events import BlockWritten, EventRecord, SubBlockWritten, block_key, block_key_prefix, block_stream
from ..domain.snapshot import COMPLETED, ERROR, Snapshot
from ..domain.writes import fold_writes
from ..ports import EventStore

_APPEND_RETRIES = 20

Decide = Callable[[list, int], "BlockWritten | SubBlockWritten | None"]


class BlockWrites:
    """The append of one block write, shared by the API and the encryption function's copier.

    It needs only the event store: whoever stored the bytes records them here.
    """

    def __init__(self, events: EventStore, clock: Callable[[], float] = time.time):
        self.events = events
        self.clock = clock

    def record_full_write(self, snapshot_id: str, index: int, digest: str, key: str) -> None:
        """Append a BlockWritten for durable bytes at ``key``; a repeat of the latest write is a no-op."""

        def decide(history: list, seq: int) -> BlockWritten | None:
            if history and isinstance(history[-1], BlockWritten) and history[-1].digest == digest:
                return None
            return BlockWritten(snapshot_id, index, seq, digest, key, round(self.clock(), 3))

        self.append(snapshot_id, index, decide, full_history=False)

    def append(self, snapshot_id: str, index: int, decide: Decide, *, full_history: bool):
        """Append the next write of ``index`` (optimistic concurrency on its seq).

        ``decide(history, seq)`` returns the event to append, or None when the
        request is a retry of the latest write, so a retried request never
        appends a duplicate event.

        Without ``full_history`` the first attempt assumes the index has no
        writes yet (seq 0), as for every block of a fresh snapshot, and skips
        the read; if it has, seq 0 collides and the attempts that follow read
        the latest write as usual. That saves a query per PutSnapshotBlock
        (a strongly consistent Query on DynamoDB).
        """
        stream = block_stream(snapshot_id, index)
        prefix = block_key_prefix(index)
        for attempt in range(_APPEND_RETRIES):
            if full_history:
                history = [r.event for r in self.events.query(stream, prefix)]
            elif attempt == 0:
                history = []
            else:
                history = [r.event for r in self.events.query(stream, prefix, reverse=True, limit=1)]
            seq = history[-1].seq + 1 if history else 0
            event = decide(history, seq)
            if event is None:
                return history[-1]
            try:
                self.events.append([EventRecord(stream, block_key(index, seq), event)])
                return event
            except DuplicateEvent:
                continue
        raise ValidationError(
            f"Too many concurrent writes to block {index}; retry the request",
            reason="CONFLICTING_BLOCK_UPDATE",
        )


class Writes:
    def __init__(
        self,
        events: EventStore,
        manifests: ManifestStore,
        blockio: BlockIO,
        clock: Callable[[], float] = time.time,
    ):
        self.events = events
        self.manifests = manifests
        self.blockio = blockio
        self.clock = clock
        self.block_writes = BlockWrites(events, clock)

    def put(self, command: PutBlock) -> str:
        """Store and record a write; returns the digest of the whole block as it now is."""
        snapshot, digest = self._check(command)
        if command.offset is None:
            lineage = _lineage(snapshot)
            if lineage is None:
                key = keys.blob_key(digest)
                self.blockio.write_shared(key, command.data)
            else:
                key = keys.block_key(snapshot.snapshot_id, command.index, digest)
                self.blockio.write(key, command.data, lineage)
            self.block_writes.record_full_write(snapshot.snapshot_id, command.index, digest, key)
            return digest
        return self._put_sub_block(snapshot, command, digest)

    def _check(self, command: PutBlock) -> tuple[Snapshot, str]:
        """Checks shared by full and sub-block writes, in AWS's order; returns the body's digest."""
        rules.check_checksum_algorithm(command.checksum_algorithm)
        snapshot = self.writable(command.snapshot_id)
        if command.offset is None:
            rules.check_full_block_length(command.declared_length)
        else:
            rules.check_sub_block_range(
                snapshot.snapshot_id, snapshot.started.sub_block_size, command.offset, command.declared_length
            )
        if len(command.data) != command.declared_length:
            raise ValidationError("Failed to read block data")
        if command.index >= snapshot.block_count_limit:
            raise InvalidBlock(f"Block index {command.index} is beyond the volume size extent")
        digest = sha256_b64(command.data)
        if digest != command.checksum:
            raise ChecksumMismatch(digest, command.checksum)
        return snapshot, digest

    def _put_sub_block(self, snapshot: Snapshot, command: PutBlock, digest: str) -> str:
        """Write part of a block; only these bytes are stored, the rest is inherited.

        The merged block's digest is computed against the write history seen at
        append time; a concurrent write to the same block makes the append
        collide on its sequence number, and the merge is simply redone.
        """
        snapshot_id, index, offset, length = snapshot.snapshot_id, command.index, command.offset or 0, command.declared_length
        key = keys.sub_block_key(snapshot_id, index, offset, length, digest)
        lineage = _lineage(snapshot)
        self.blockio.write(key, command.data, lineage)
        parent_id = snapshot.started.parent_snapshot_id

        def decide(history: list, seq: int) -> SubBlockWritten | None:
            last = history[-1] if history else None
            if isinstance(last, SubBlockWritten) and last.key == key:
                return None
            inherited = self.manifests.open(parent_id).lookup(index) if parent_id else None
            current = fold_writes(history, lambda i: inherited).get(index, inherited)
            merged = bytearray(self.blockio.read(current, lineage) if current else ZERO_BLOCK)
            merged[offset : offset + length] = command.data
            return SubBlockWritten(
                snapshot_id, index, seq, offset, length, digest, key,
                sha256_b64(bytes(merged)), round(self.clock(), 3),
            )

        event = self.block_writes.append(snapshot_id, index, decide, full_history=True)
        return event.merged_digest

    def writable(self, snapshot_id: str) -> Snapshot:
        snapshot = self.events.snapshot(snapshot_id)
        if snapshot is None or snapshot.deleted is not None or snapshot.status == ERROR:
            raise SnapshotNotFound(snapshot_id)
        if snapshot.status == COMPLETED or snapshot.completion is not None:
            raise InvalidSnapshotId("Snapshot is already completed")
        return snapshot


def _lineage(snapshot: Snapshot) -> str | None:
    """The lineage whose data key encrypts this snapshot's blocks, or None if it is plaintext."""
    return snapshot.started.lineage_id if snapshot.started.encrypted else None
