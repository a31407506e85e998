"""Garbage collection: free the block-store objects that no live snapshot reaches.

Mark, then sweep, in one pass each:

* **Mark.** For every live snapshot, the pages of its manifest (each page
  once: a page shared along a chain roots the same subtree everywhere) and
  the block objects its entries name; for a snapshot not yet sealed, the
  objects its own writes fold to (so blocks overwritten within it are not
  kept) and its parent's manifest, which its seal will copy entries from. Page
  keys are held exactly (a few per seal); block keys in a Bloom filter,
  whose false positives only keep garbage for a later run.
* **Sweep.** List ``blobs/``, ``blocks/`` and ``manifests/``; an unmarked
  object is freed if it was already older than the grace period when
  marking began (:mod:`chalicelib.domain.collection` says why that makes
  concurrent writes and deduplication safe).

A collection holds no lock and writes no state: killed at any point, it has
freed only unreachable objects, and the next run finds the rest. Wrapped data
keys (``keys/``) are never collected; deleting one is crypto-shredding.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..core.bloom import BloomFilter
from ..core.manifest_store import ManifestStore
from ..domain import keys
from ..domain.collection import GRACE_SECONDS, collectable
from ..domain.events import BlockWritten, SubBlockWritten, block_streams
from ..domain.manifest import Entry
from ..domain.lifecycle import DELETED
from ..domain.volumes import VOLUMES_STREAM, fold_all
from ..domain.snapshot import ERROR, SnapshotRecord
from ..domain.writes import fold_writes
from ..ports import BlockStore, EventStore, ReadModelStore

log = logging.getLogger(__name__)

SWEPT_PREFIXES = (keys.BLOB_PREFIX, "blocks/", "manifests/")
DEFAULT_CAPACITY = 1_000_000


@dataclass(frozen=True)
class Collection:
    """What one collection did (or, measuring only, would do), for logs, usage figures and the benchmark."""

    live_snapshots: int
    marked_pages: int
    marked_blocks: int
    examined: int
    freed: int
    kept_young: int
    filter_bytes: int
    seconds: float
    held_deleted: int = 0  # deleted snapshots still inside the grace period: freed by a later run
    stored_blocks: int = 0
    stored_bytes: int = 0
    referenced_bytes: int = 0
    reclaimable_bytes: int = 0


class GarbageCollector:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        manifests: ManifestStore,
        blocks: BlockStore,
        clock: Callable[[], float] = time.time,
        grace: float = GRACE_SECONDS,
        capacity: int = DEFAULT_CAPACITY,
    ):
        self.events = events
        self.records = records
        self.manifests = manifests
        self.blocks = blocks
        self.clock = clock
        self.grace = grace
        self.capacity = capacity
        self._last: Collection | None = None
        self._last_changes: object = None
        self._last_time = 0.0

    def collect_if_needed(self, changes: object) -> Collection | None:
        """Collect when ``changes`` (any value that moves with the event log) moved since the last run,
        or when the last run kept young garbage, or recently deleted snapshots, that the grace
        period has since aged.

        So an idle server lists its store once after its last change, not every few seconds.
        """
        now = self.clock()
        last = self._last
        due = last is None or changes != self._last_changes
        waiting = last is not None and (last.kept_young > 0 or last.held_deleted > 0)
        due = due or (waiting and now - self._last_time >= self.grace)
        if not due:
            return None
        self._last_changes, self._last_time = changes, now
        self._last = self.collect()
        return self._last

    def collect(self, *, free: bool = True) -> Collection:
        """One mark and sweep; ``free=False`` only measures (``GET /blocksnap/v1/usage``)."""
        started = time.monotonic()
        mark_start = self.clock()
        pages: set[str] = set()
        marks = BloomFilter(self.capacity)
        records = self.records.all_snapshots()
        read_by_volumes = self._read_by_volumes()
        live = [r for r in records if r.snapshot_id in read_by_volumes or self._live(r, mark_start)]
        held = sum(1 for r in live if r.status == DELETED)
        for record in live:
            self._mark(record, pages, marks)
        examined = freed = young = 0
        blocks = block_bytes = referenced = 0
        for prefix in SWEPT_PREFIXES:
            is_block = prefix != "manifests/"
            for key, size in self.blocks.list_sizes(prefix):
                examined += 1
                if is_block:
                    blocks += 1
                    block_bytes += size
                marked = key in marks if is_block else key in pages
                if marked:
                    referenced += size if is_block else 0
                    continue
                if collectable(False, self.blocks.modified(key), mark_start, self.grace):
                    if free:
                        self.blocks.delete(key)
                        freed += 1
                else:
                    young += 1
        # The next filter is sized for what this one held, so its error rate stays near the target.
        self.capacity = max(self.capacity, 2 * marks.count)
        result = Collection(
            len(live), len(pages), marks.count, examined, freed, young, marks.memory_bytes,
            round(time.monotonic() - started, 3), held, blocks, block_bytes, referenced, block_bytes - referenced,
        )
        if freed:
            log.info("garbage collection freed %d of %d objects", freed, examined)
        return result

    def _read_by_volumes(self) -> set[str]:
        """The snapshots a volume that exists reads its unwritten blocks from (its source, its last snapshot).

        Kept even when deleted: a volume is a disk someone is using, and its
        first read of a block may come at any time.
        """
        volumes = fold_all(r.event for r in self.events.query(VOLUMES_STREAM))
        return {
            snapshot_id
            for volume in volumes if volume.deleted is None
            for snapshot_id in (volume.created.snapshot_id, volume.parent_for_next_snapshot)
        }

    def _live(self, record: SnapshotRecord, now: float) -> bool:
        """Whether a snapshot's data is kept: pending and completed ones, and deleted ones for the grace period.

        A failed snapshot's bytes are reclaimed. A deleted one is kept a while
        because a StartSnapshot that checked it as a parent just before the
        deletion may still append its start: the child then keeps it live.
        """
        if record.status == ERROR:
            return False
        if record.status == DELETED:
            deleted = self.events.snapshot(record.snapshot_id)
            return deleted is None or deleted.deleted is None or now - deleted.deleted.deleted_at < self.grace
        return True

    def _mark(self, record: SnapshotRecord, pages: set[str], marks: BloomFilter) -> None:
        if self.manifests.exists(record.snapshot_id):
            self._mark_manifest(record.snapshot_id, pages, marks)
            return
        if record.parent_snapshot_id and self.manifests.exists(record.parent_snapshot_id):
            self._mark_manifest(record.parent_snapshot_id, pages, marks)
        writes = [
            r.event
            for stream in block_streams(record.snapshot_id)
            for r in self.events.query(stream)
            if isinstance(r.event, (BlockWritten, SubBlockWritten))
        ]
        _mark_entries(fold_writes(writes, lambda index: None).values(), marks)

    def _mark_manifest(self, snapshot_id: str, pages: set[str], marks: BloomFilter) -> None:
        for _, entries in self.manifests.open(snapshot_id).pages(pages):
            _mark_entries(entries, marks)




def _mark_entries(entries: Iterable[Entry], marks: BloomFilter) -> None:
    for entry in entries:
        if entry.key is not None:
            marks.add(entry.key)
        for part in entry.parts:
            marks.add(part.key)
