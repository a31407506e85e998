"""A pending snapshot times out ``Timeout`` minutes after its last put or complete, not after its start."""

from __future__ import annotations

from chalicelib.http.bindings import Calls
from chalicelib import wiring
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.snapshot import ERROR, PENDING

BLOCK = b"\x05" * 524288


def test_writes_postpone_a_timeout():
    now = [1_800_000_000.0]
    runtime = wiring.memory(clock=lambda: now[0], minute_seconds=1.0)
    service = Calls(runtime.usecases)

    def status_after(seconds: float, snapshot_id: str) -> str:
        now[0] += seconds
        runtime.projector.catch_up()
        runtime.timekeeper.sweep()
        runtime.projector.catch_up()
        return runtime.records.get_snapshot(snapshot_id).status

    busy = service.start_snapshot({"VolumeSize": 1, "Timeout": 10})["SnapshotId"]
    idle = service.start_snapshot({"VolumeSize": 1, "Timeout": 10})["SnapshotId"]
    assert status_after(8, busy) == PENDING
    service.put_snapshot_block({"SnapshotId": busy, "BlockIndex": 0, "BlockData": BLOCK, "DataLength": len(BLOCK),
                                "Checksum": sha256_b64(BLOCK), "ChecksumAlgorithm": "SHA256"})
    assert status_after(4, idle) == ERROR  # 12 s after its start
    assert runtime.records.get_snapshot(busy).status == PENDING  # 4 s after its write
    assert status_after(5, busy) == PENDING  # 9 s after the write
    assert status_after(1.5, busy) == ERROR  # 10.5 s after it
    assert runtime.records.get_snapshot(busy).state_message == "Snapshot timed out"
