"""The sealing policy, driven with events on the memory adapters.

The API tests see the outcome only after a server, a projector thread and a
poll; here each rule of a completion is one assertion on the outcome event:
ChangedBlocksCount counts the distinct indexes written, the LINEAR aggregate
hashes their final digests in ascending index order (not write order, not the
order of the block shards), and the outcome is decided once. The aggregate is
computed here with hashlib, not with the code under test.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.adapters.memory_events import MemoryEventStore
from chalicelib.core.manifest_store import ManifestStore
from chalicelib.domain import keys
from chalicelib.domain.events import (
    COMPLETION_KEY,
    OUTCOME_KEY,
    STARTED_KEY,
    BlockWritten,
    CompletionRequested,
    EventRecord,
    SnapshotFailed,
    SnapshotSealed,
    SnapshotStarted,
    SubBlockWritten,
    block_key,
    block_stream,
    lifecycle_stream,
)
from chalicelib.domain.snapshot import CHECKSUM_MISMATCH, COUNT_MISMATCH
from chalicelib.projections.sealing import Sealer

SNAP = "snap-0123456789abcdef0"
CHILD = "snap-0123456789abcdef1"
NOW = 1_700_000_500.0
# Written in this order; shard order (index % 16) is 1, 17, 2, 40, 2047; index order 1, 2, 17, 40, 2047.
INDEXES = (40, 17, 2, 1, 2047)


def digest(label: str) -> str:
    return base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()


def aggregate(digests) -> str:
    return base64.b64encode(hashlib.sha256(b"".join(base64.b64decode(d) for d in digests)).digest()).decode()


class SnapshotLog:
    """One snapshot's stream on a memory event store, and the sealer that decides it."""

    def __init__(self, snapshot_id: str = SNAP, parent: SnapshotLog | None = None):
        self.id = snapshot_id
        self.events = parent.events if parent else MemoryEventStore()
        self.manifests = parent.manifests if parent else ManifestStore(MemoryBlockStore())
        self.sealer = Sealer(self.events, self.manifests, lambda: NOW)
        self.seq = 0
        self.events.append([EventRecord(lifecycle_stream(snapshot_id), STARTED_KEY, SnapshotStarted(
            snapshot_id=snapshot_id, volume_size=2, lineage_id="lin-1", start_time=NOW - 100,
            timeout_minutes=60, owner_id="111122223333", parent_snapshot_id=parent.id if parent else None,
            sub_block_size=4096,
        ))])

    def write(self, index: int, label: str) -> str:
        self.seq += 1
        d = digest(label)
        event = BlockWritten(self.id, index, self.seq, d, keys.block_key(self.id, index, d), NOW - 50)
        self.events.append([EventRecord(block_stream(self.id, index), block_key(index, self.seq), event)])
        return d

    def write_part(self, index: int, label: str, merged_label: str) -> str:
        self.seq += 1
        d, merged = digest(label), digest(merged_label)
        key = keys.sub_block_key(self.id, index, 0, 4096, d)
        event = SubBlockWritten(self.id, index, self.seq, 0, 4096, d, key, merged, NOW - 50)
        self.events.append([EventRecord(block_stream(self.id, index), block_key(index, self.seq), event)])
        return merged

    def complete(self, count: int, checksum: str | None = None) -> SnapshotSealed | SnapshotFailed:
        record = EventRecord(
            lifecycle_stream(self.id), COMPLETION_KEY, CompletionRequested(self.id, count, checksum, NOW - 10)
        )
        self.events.append([record])
        self.sealer.handle(record)
        return self.outcome()

    def outcome(self) -> SnapshotSealed | SnapshotFailed | None:
        found = self.events.query(lifecycle_stream(self.id), OUTCOME_KEY)
        return found[0].event if found else None


@pytest.fixture
def snapshot() -> SnapshotLog:
    return SnapshotLog()


def write_all(snapshot: SnapshotLog) -> dict[int, str]:
    return {i: snapshot.write(i, f"block-{i}") for i in INDEXES}


def test_the_aggregate_in_ascending_index_order_seals(snapshot):
    digests = write_all(snapshot)

    outcome = snapshot.complete(len(INDEXES), aggregate(digests[i] for i in sorted(digests)))

    assert outcome == SnapshotSealed(SNAP, len(INDEXES), NOW)
    assert [(e.index, e.digest) for e in snapshot.manifests.open(SNAP).entries()] == sorted(digests.items())


@pytest.mark.parametrize("order", ["write", "descending", "shard"])
def test_the_aggregate_in_any_other_order_is_a_checksum_mismatch(snapshot, order):
    digests = write_all(snapshot)
    indexes = {
        "write": list(INDEXES),
        "descending": sorted(INDEXES, reverse=True),
        "shard": sorted(INDEXES, key=lambda i: (i % 16, i)),
    }[order]
    assert indexes != sorted(INDEXES)

    outcome = snapshot.complete(len(INDEXES), aggregate(digests[i] for i in indexes))

    assert outcome == SnapshotFailed(SNAP, CHECKSUM_MISMATCH, NOW)
    assert not snapshot.manifests.exists(SNAP)


def test_a_wrong_aggregate_is_a_checksum_mismatch(snapshot):
    digests = write_all(snapshot)
    wrong = {**digests, 2: digest("something else")}

    outcome = snapshot.complete(len(INDEXES), aggregate(wrong[i] for i in sorted(wrong)))

    assert outcome == SnapshotFailed(SNAP, CHECKSUM_MISMATCH, NOW)
    assert not snapshot.manifests.exists(SNAP)


def test_the_aggregate_covers_the_last_write_of_each_index(snapshot):
    first = snapshot.write(3, "first")
    last = snapshot.write(3, "last")
    other = snapshot.write(4, "other")
    stale = SnapshotLog()
    stale.write(3, "first")
    stale.write(3, "last")

    assert snapshot.complete(2, aggregate([last, other])) == SnapshotSealed(SNAP, 2, NOW)
    assert stale.complete(1, aggregate([first])) == SnapshotFailed(SNAP, CHECKSUM_MISMATCH, NOW)


def test_a_snapshot_with_no_writes_seals_on_a_count_of_zero(snapshot):
    assert snapshot.complete(0) == SnapshotSealed(SNAP, 0, NOW)


def test_a_sub_block_write_counts_its_merged_digest(snapshot):
    merged = snapshot.write_part(6, "part", "merged")

    assert snapshot.complete(1, aggregate([merged])) == SnapshotSealed(SNAP, 1, NOW)
    assert snapshot.manifests.open(SNAP).lookup(6).digest == merged


@pytest.mark.parametrize("count", [len(INDEXES) - 1, len(INDEXES) + 1, 0])
def test_a_wrong_changed_blocks_count_is_a_count_mismatch(snapshot, count):
    write_all(snapshot)

    outcome = snapshot.complete(count)

    assert outcome == SnapshotFailed(SNAP, COUNT_MISMATCH, NOW)
    assert not snapshot.manifests.exists(SNAP)


def test_the_count_is_of_distinct_indexes_not_of_writes(snapshot):
    snapshot.write(0, "x")
    snapshot.write(0, "y")

    assert snapshot.complete(2) == SnapshotFailed(SNAP, COUNT_MISMATCH, NOW)
    again = SnapshotLog()
    again.write(0, "x")
    again.write(0, "y")
    assert again.complete(1) == SnapshotSealed(SNAP, 1, NOW)


def test_the_count_is_checked_before_a_right_aggregate(snapshot):
    digests = write_all(snapshot)

    outcome = snapshot.complete(len(INDEXES) + 1, aggregate(digests[i] for i in sorted(digests)))

    assert outcome == SnapshotFailed(SNAP, COUNT_MISMATCH, NOW)


def test_a_child_counts_and_hashes_only_what_it_wrote(snapshot):
    write_all(snapshot)
    assert snapshot.complete(len(INDEXES)) == SnapshotSealed(SNAP, len(INDEXES), NOW)
    child = SnapshotLog(CHILD, snapshot)
    changed = child.write(17, "child-17")

    assert child.complete(1, aggregate([changed])) == SnapshotSealed(CHILD, 1, NOW)
    entries = {e.index: e for e in child.manifests.open(CHILD).entries()}
    assert sorted(entries) == sorted(INDEXES)
    assert (entries[17].writer, entries[17].digest) == (CHILD, changed)
    assert entries[40].writer == SNAP


def test_the_outcome_is_decided_once(snapshot):
    write_all(snapshot)
    record = EventRecord(lifecycle_stream(SNAP), COMPLETION_KEY, CompletionRequested(SNAP, 1, None, NOW - 10))
    snapshot.events.append([record])
    snapshot.sealer.handle(record)
    assert snapshot.outcome() == SnapshotFailed(SNAP, COUNT_MISMATCH, NOW)

    snapshot.sealer.handle(record)  # a replayed batch, or a redelivered stream record

    assert len(snapshot.events.query(lifecycle_stream(SNAP), OUTCOME_KEY)) == 1
    assert not snapshot.manifests.exists(SNAP)
