"""Deduplicated storage and the garbage collector, in-process on the embedded store."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import pytest

from chalicelib import wiring
from chalicelib.core.bloom import BloomFilter
from chalicelib.http.bindings import Calls
from chalicelib.usecases.garbage import GarbageCollector

BLOCK = 524288


def data(tag: str) -> bytes:
    return (tag.encode() * BLOCK)[:BLOCK]


def put(calls: Calls, sid: str, index: int, body: bytes) -> None:
    calls.put_snapshot_block({
        "SnapshotId": sid, "BlockIndex": index, "BlockData": body, "DataLength": len(body),
        "Checksum": base64.b64encode(hashlib.sha256(body).digest()).decode(), "ChecksumAlgorithm": "SHA256",
    })


@pytest.fixture
def runtime(tmp_path):
    return wiring.embedded(tmp_path / "data")


def snapshot(runtime, blocks: dict[int, bytes], parent: str | None = None, complete: bool = True, count=None) -> str:
    calls = Calls(runtime.usecases)
    sid = calls.start_snapshot({"VolumeSize": 1, **({"ParentSnapshotId": parent} if parent else {})})["SnapshotId"]
    for index, body in blocks.items():
        put(calls, sid, index, body)
    if complete:
        calls.complete_snapshot({"SnapshotId": sid, "ChangedBlocksCount": len(blocks) if count is None else count})
    runtime.projector.catch_up()
    return sid


def stored(runtime, prefix: str) -> list[str]:
    return list(runtime.blocks.list(prefix))


def collector(runtime, grace: float = 0.0) -> GarbageCollector:
    return GarbageCollector(runtime.events, runtime.records, runtime.manifests, runtime.blocks, grace=grace)


def readback(runtime, sid: str) -> dict[int, bytes]:
    calls = Calls(runtime.usecases)
    out = {}
    for ref in calls.list_snapshot_blocks({"SnapshotId": sid})["Blocks"]:
        out[ref["BlockIndex"]] = calls.get_snapshot_block(
            {"SnapshotId": sid, "BlockIndex": ref["BlockIndex"], "BlockToken": ref["BlockToken"]}
        )["BlockData"]
    return out


def test_identical_blocks_are_stored_once_whichever_snapshot_or_index_writes_them(runtime):
    a = snapshot(runtime, {0: data("x"), 1: data("y")})
    b = snapshot(runtime, {5: data("x"), 6: data("y"), 7: data("x")})
    assert len(stored(runtime, "blobs/")) == 2
    assert readback(runtime, a) == {0: data("x"), 1: data("y")}
    assert readback(runtime, b) == {5: data("x"), 6: data("y"), 7: data("x")}


def test_a_collection_keeps_everything_live_snapshots_reach(runtime):
    parent = snapshot(runtime, {i: data(f"p{i}") for i in range(4)})
    child = snapshot(runtime, {1: data("c1")}, parent=parent)
    before = {p: stored(runtime, p) for p in ("blobs/", "manifests/")}
    result = collector(runtime).collect()
    assert result.freed == 0
    assert {p: stored(runtime, p) for p in before} == before
    assert readback(runtime, child) == {0: data("p0"), 1: data("c1"), 2: data("p2"), 3: data("p3")}


def test_blocks_overwritten_in_a_pending_snapshot_and_a_failed_snapshot_are_freed(runtime):
    calls = Calls(runtime.usecases)
    sid = calls.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    put(calls, sid, 0, data("old"))
    put(calls, sid, 0, data("new"))
    failed = snapshot(runtime, {3: data("lost")}, count=5)  # wrong count: the seal fails it
    assert runtime.records.get_snapshot(failed).status == "error"
    result = collector(runtime).collect()
    assert result.freed == 2
    remaining = stored(runtime, "blobs/")
    assert len(remaining) == 1 and remaining[0].endswith(hashlib.sha256(data("new")).hexdigest())
    calls.complete_snapshot({"SnapshotId": sid, "ChangedBlocksCount": 1})
    runtime.projector.catch_up()
    assert readback(runtime, sid) == {0: data("new")}


def test_unreferenced_objects_younger_than_the_grace_period_are_kept(runtime):
    snapshot(runtime, {3: data("lost")}, count=5)
    result = collector(runtime, grace=3600).collect()
    assert result.freed == 0 and result.kept_young == 1
    assert len(stored(runtime, "blobs/")) == 1


def test_a_reused_old_block_is_made_young_so_a_concurrent_collection_keeps_it(runtime):
    first = snapshot(runtime, {0: data("shared")}, count=9)  # failed: its blob is garbage
    [key] = stored(runtime, "blobs/")
    path = Path(runtime.blocks.root) / key
    old = time.time() - 7200
    os.utime(path, (old, old))
    second = Calls(runtime.usecases).start_snapshot({"VolumeSize": 1})["SnapshotId"]
    put(Calls(runtime.usecases), second, 0, data("shared"))  # dedup hit: no second copy, but a touch
    assert stored(runtime, "blobs/") == [key]
    assert path.stat().st_mtime > old + 3600
    # A collection that began before the write was recorded sees no reference, but the object is young.
    assert runtime.records.get_snapshot(first).status == "error"
    result = GarbageCollector(runtime.events, runtime.records, runtime.manifests, runtime.blocks, grace=600).collect()
    assert result.freed == 0
    assert stored(runtime, "blobs/") == [key]


def test_a_collection_runs_only_when_the_log_moved_or_young_garbage_has_aged(runtime):
    gc = collector(runtime, grace=0.0)
    assert gc.collect_if_needed(1) is not None
    assert gc.collect_if_needed(1) is None
    assert gc.collect_if_needed(2) is not None


def test_the_bloom_filter_has_no_false_negatives_and_few_false_positives():
    bloom = BloomFilter(10_000, 1e-3)
    members = [f"blobs/{i:064x}" for i in range(10_000)]
    for key in members:
        bloom.add(key)
    assert all(key in bloom for key in members)
    false = sum(f"blocks/{i:064x}" in bloom for i in range(20_000))
    assert false < 20_000 * 3e-3
    assert bloom.memory_bytes < 20_000
