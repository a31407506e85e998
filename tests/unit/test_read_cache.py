"""Completed snapshot records are read once per process; anything else is read every time."""

from __future__ import annotations

import pytest

from chalicelib.http.bindings import Calls
from chalicelib import wiring
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import SnapshotNotFound

BLOCK = b"\x07" * 524288


def test_completed_records_are_cached_and_pending_ones_are_not(monkeypatch):
    runtime = wiring.memory()
    service = Calls(runtime.usecases)
    sid = service.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    service.put_snapshot_block({"SnapshotId": sid, "BlockIndex": 0, "BlockData": BLOCK, "DataLength": len(BLOCK),
                                "Checksum": sha256_b64(BLOCK), "ChecksumAlgorithm": "SHA256"})
    reads: list[str] = []
    real = runtime.records.get_snapshot
    monkeypatch.setattr(runtime.records, "get_snapshot", lambda snapshot_id: reads.append(snapshot_id) or real(snapshot_id))

    for _ in range(2):  # pending: refused, and looked up again each time
        with pytest.raises(SnapshotNotFound):
            service.list_snapshot_blocks({"SnapshotId": sid})
    assert len(reads) == 2

    service.complete_snapshot({"SnapshotId": sid, "ChangedBlocksCount": 1})
    runtime.projector.catch_up()  # the projection reads records too; count the read operations' only
    reads.clear()
    token = service.list_snapshot_blocks({"SnapshotId": sid})["Blocks"][0]["BlockToken"]
    for _ in range(3):
        got = service.get_snapshot_block({"SnapshotId": sid, "BlockIndex": 0, "BlockToken": token})
        assert got["BlockData"] == BLOCK
    assert reads == [sid]  # the first completed read, then none
