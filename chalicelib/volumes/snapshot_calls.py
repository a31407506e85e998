"""Every call a volume snapshot makes into the use cases.

A volume's snapshot is written through the same use cases as a client's
(StartSnapshot with a sub-block size, sub-block or full-block writes,
CompleteSnapshot), so it is sealed, verified and readable like any other.
The calls are gathered here so that a change of the use cases' signatures
is one edit.
"""

from __future__ import annotations

from ..domain.checksums import sha256_b64
from ..domain.commands import CompleteSnapshot, PutBlock, StartRequest
from ..domain.snapshot import BLOCK_SIZE
from ..usecases import UseCases


def start(uc: UseCases, size_gib: int, parent_id: str, unit: int, description: str | None) -> str:
    request = StartRequest(size_gib, parent_snapshot_id=parent_id, description=description, sub_block_size=unit)
    return uc.starts.start(request).snapshot_id


def record(uc: UseCases, snapshot_id: str, index: int, offset: int, data: bytes) -> None:
    """Record ``data`` at ``offset`` of block ``index``: a full write for a whole block, else a sub-block write."""
    whole = offset == 0 and len(data) == BLOCK_SIZE
    uc.writes.put(PutBlock(snapshot_id, index, data, len(data), sha256_b64(data), "SHA256", None if whole else offset))


def complete(uc: UseCases, snapshot_id: str, changed_blocks: int) -> None:
    uc.completion.complete(CompleteSnapshot(snapshot_id, changed_blocks))


def status(uc: UseCases, snapshot_id: str) -> str:
    return uc.reads.describe(snapshot_id).status
