"""kill -9 in the middle of garbage collections: nothing a live snapshot reaches is lost, and the next run finishes."""

from __future__ import annotations

import random
import time

from tests.servers import BlocksnapServer

from .conftest import all_blocks, block, put, snapshot

# A short grace period, still far longer than a request: the collector may run any time.
GC_ENV = {"BLOCKSNAP_GC_SECONDS": "0.05", "BLOCKSNAP_GC_GRACE_SECONDS": "2"}


def read_all(ebs, sid: str) -> dict[int, bytes]:
    return {
        b["BlockIndex"]: ebs.get_snapshot_block(
            SnapshotId=sid, BlockIndex=b["BlockIndex"], BlockToken=b["BlockToken"]
        )["BlockData"].read()
        for b in all_blocks(ebs, sid)
    }


def blob_count(data_dir) -> int:
    return sum(1 for p in (data_dir / "store" / "blobs").rglob("*") if p.is_file() and not p.name.startswith("."))


def test_kill_during_collections_keeps_every_live_block(tmp_path):
    data_dir = tmp_path / "data"
    srv = BlocksnapServer(data_dir, env=GC_ENV).start()
    expected: dict[str, dict[int, bytes]] = {}
    prng = random.Random(7)
    try:
        for round_ in range(4):
            ebs = srv.client()
            parent, contents = None, {}
            for depth in range(2):
                blocks = {i: block(f"r{round_}-d{depth}-{i}") for i in prng.sample(range(64), 6)}
                parent = snapshot(ebs, blocks, parent=parent)
                contents = {**contents, **blocks}
                expected[parent] = contents
            # Garbage for the collector: a failed snapshot and blocks overwritten in a pending one.
            failed = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
            for i in range(8):
                put(ebs, failed, i, block(f"garbage-{round_}-{i}"))
            ebs.complete_snapshot(SnapshotId=failed, ChangedBlocksCount=99)
            time.sleep(prng.uniform(0.0, 0.3))  # the kill lands somewhere in a collection
            srv.kill()
            srv = BlocksnapServer(data_dir, env=GC_ENV).start()
        ebs = srv.client()
        for sid, contents in expected.items():
            assert read_all(ebs, sid) == contents, sid
        live = {data for contents in expected.values() for data in contents.values()}
        deadline = time.monotonic() + 20
        while blob_count(data_dir) != len(live) and time.monotonic() < deadline:
            time.sleep(0.2)  # the collector finishes the job after the last restart
        assert blob_count(data_dir) == len(live)
    finally:
        srv.stop()
