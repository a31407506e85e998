"""Every call a volume snapshot makes into :class:`~chalicelib.service.SnapshotService`.

A volume's snapshot is written through the same use cases as a client's
(StartSnapshot with a sub-block size, sub-block or full-block writes,
CompleteSnapshot), so it is sealed, verified and readable like any other.
The calls are gathered here so that a change of the service's signatures is
one edit.
"""

from __future__ import annotations

from ..domain.checksums import sha256_b64
from ..domain.snapshot import BLOCK_SIZE
from ..service import SnapshotService


def start(service: SnapshotService, size_gib: int, parent_id: str, unit: int, description: str | None) -> str:
    req = {"VolumeSize": size_gib, "ParentSnapshotId": parent_id, "SubBlockSize": unit}
    if description is not None:
        req["Description"] = description
    return service.start_snapshot(req)["SnapshotId"]


def record(service: SnapshotService, snapshot_id: str, index: int, offset: int, data: bytes) -> None:
    """Record ``data`` at ``offset`` of block ``index``: a full write for a whole block, else a sub-block write."""
    req = {
        "SnapshotId": snapshot_id,
        "BlockIndex": index,
        "BlockData": data,
        "DataLength": len(data),
        "Checksum": sha256_b64(data),
        "ChecksumAlgorithm": "SHA256",
    }
    if offset == 0 and len(data) == BLOCK_SIZE:
        service.put_snapshot_block(req)
    else:
        service.put_sub_block({**req, "Offset": offset})


def complete(service: SnapshotService, snapshot_id: str, changed_blocks: int) -> None:
    service.complete_snapshot({"SnapshotId": snapshot_id, "ChangedBlocksCount": changed_blocks})


def status(service: SnapshotService, snapshot_id: str) -> str:
    return service.describe_snapshot(snapshot_id).status
