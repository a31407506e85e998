"""Encrypted copies: re-encrypting every block of a sealed snapshot under a new lineage.

A copy is a new, full (not incremental) snapshot whose lineage is its own id.
CopySnapshot (the API's ``POST /blocksnap/v1/snapshots/{id}/copy``) appends
:class:`CopyRequested`; the encryption function follows the log and runs
:meth:`Copier.handle`, because only it may hold the copy's data key, and the
source's when the source is encrypted too.

The copy is written as an ordinary client would write it: each block's
``BlockWritten``, then a completion with the count and the LINEAR checksum,
through a :class:`~chalicelib.usecases.write_sink.WriteSink` (the same
appends as PutSnapshotBlock and CompleteSnapshot, and nothing else of the
API), so the normal sealing projection verifies and seals it.

**Resumable.** Before copying index *i* the copier looks at the copy's
latest write of *i*: the same digest means that block is done, both its
ciphertext and its event. So a crash, a Lambda timeout, or a redelivered
event resumes where the previous run stopped, with no gap and no duplicate
``BlockWritten``; a block stored but not yet recorded is simply stored again.
A copy that already has a completion or an outcome is not touched.

**Failures** the service raises on purpose (a source block failing its
checksum, a shredded source key, a KMS key that cannot be used) fail the
copy with ``SnapshotFailed``; anything else (a store that is down, a crash)
propagates, so the event is retried and the copy resumes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

from ..core.blockio import BlockIO
from ..domain import keys
from ..domain.checksums import linear_aggregate
from ..domain.errors import BlocksnapError, SnapshotNotFound
from ..domain.events import (
    COMPLETION_KEY,
    OUTCOME_KEY,
    BlockWritten,
    CopyProgressed,
    CopyRequested,
    EventRecord,
    SnapshotFailed,
    block_key_prefix,
    block_stream,
    lifecycle_stream,
    progress_stream,
)
from ..domain.manifest import Manifest
from ..core.manifest_store import ManifestStore
from ..ports import BlockStore, EncryptionFunction, EventStore
from ..usecases.write_sink import WriteSink

# Progress is an event per this many blocks: ~1 event per 32 MiB copied keeps
# DescribeSnapshot's progress live without adding measurably to the log.
PROGRESS_EVERY = 64
# Blocks copied at once: each is a read, an encryption and two durable writes,
# which overlap (fsyncs, the GIL-free AES and SHA-256, the event store's group
# commit) instead of queueing behind each other.
COPY_WORKERS = 8


class Copier:
    def __init__(
        self,
        events: EventStore,
        manifests: ManifestStore,
        blocks: BlockStore,
        encryption: EncryptionFunction,
        sink: WriteSink,
        clock: Callable[[], float] = time.time,
    ):
        self.events = events
        self.manifests = manifests
        self.blockio = BlockIO(blocks, encryption)
        self.sink = sink
        self.clock = clock

    def handle(self, record: EventRecord) -> None:
        request = record.event
        if not isinstance(request, CopyRequested):
            return
        copy_id = request.snapshot_id
        decided = {r.key for r in self.events.query(lifecycle_stream(copy_id))}
        if COMPLETION_KEY in decided or OUTCOME_KEY in decided:
            return
        try:
            self._copy(request)
        except BlocksnapError as exc:
            message = f"Copy of {request.source_snapshot_id} failed: {exc.message}"
            failed = SnapshotFailed(copy_id, message, round(self.clock(), 3))
            self.events.append_once([EventRecord(lifecycle_stream(copy_id), OUTCOME_KEY, failed)])

    def _copy(self, request: CopyRequested) -> None:
        copy_id, source_id = request.snapshot_id, request.source_snapshot_id
        source = self.events.snapshot(source_id)
        if source is None:
            raise SnapshotNotFound(source_id)
        source_lineage = source.started.lineage_id if source.started.encrypted else None
        self.blockio.create_lineage_key(copy_id, request.kms_key_arn)
        manifest = self.manifests.open(source_id)
        total, checksum = _count_and_checksum(manifest)
        done = 0
        with ThreadPoolExecutor(max_workers=COPY_WORKERS) as pool:
            for chunk in _chunks(manifest.entries(), PROGRESS_EVERY):
                list(pool.map(lambda entry: self._copy_block(copy_id, entry, source_lineage), chunk))
                done += len(chunk)
                if done < total:
                    self._progress(copy_id, done, total)
        self._progress(copy_id, done, total)
        self.sink.request_completion(copy_id, total, checksum)

    def _copy_block(self, copy_id: str, entry, source_lineage: str | None) -> None:
        """One block, idempotently: skipped if a previous (crashed) run already recorded it."""
        if self._already_copied(copy_id, entry.index, entry.digest):
            return
        data = self.blockio.read(entry, source_lineage)
        key = keys.block_key(copy_id, entry.index, entry.digest)
        self.blockio.write(key, data, copy_id)
        self.sink.record_full_write(copy_id, entry.index, entry.digest, key)

    def _already_copied(self, copy_id: str, index: int, digest: str) -> bool:
        stream, prefix = block_stream(copy_id, index), block_key_prefix(index)
        latest = [r.event for r in self.events.query(stream, prefix, reverse=True, limit=1)]
        return bool(latest) and isinstance(latest[0], BlockWritten) and latest[0].digest == digest

    def _progress(self, copy_id: str, done: int, total: int) -> None:
        event = CopyProgressed(copy_id, done, total, round(self.clock(), 3))
        # A resumed or redelivered copy may report what was already reported.
        self.events.append_once([EventRecord(progress_stream(copy_id), f"{done:09d}", event)])

def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_and_checksum(manifest: Manifest) -> tuple[int, str]:
    """A first pass over the manifest (its pages are small and cached): count and LINEAR checksum.

    Streamed, so that no digest per block is held in memory for a large volume.
    """
    total = 0

    def digests():
        nonlocal total
        for entry in manifest.entries():
            total += 1
            yield entry.digest

    checksum = linear_aggregate(digests())
    return total, checksum
