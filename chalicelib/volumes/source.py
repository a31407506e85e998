"""The snapshot a volume was made from, read block by block on first use.

A volume is usable the moment it is created: a read of a sub-block the
volume never wrote is served from the snapshot chain, through the same
manifest lookup and verified block read as GetSnapshotBlock (so an
encrypted snapshot's blocks are decrypted by the encryption function, never
here). Blocks are 512 KiB and a client reads 4 KiB at a time, so the last
blocks read are kept: a sequential reader fetches and verifies each block
once.
"""

from __future__ import annotations

from ..core.blockio import ZERO_BLOCK, BlockIO
from ..core.cache import BoundedCache
from ..core.manifest_store import ManifestStore
from ..domain.snapshot import BLOCK_SIZE

# 32 MiB of recent blocks per volume: one NBD maximum request's worth.
CACHED_BLOCKS = 64


class SnapshotSource:
    def __init__(self, manifests: ManifestStore, blockio: BlockIO, snapshot_id: str, lineage_id: str | None,
                 extent_bytes: int):
        self._manifest = manifests.open(snapshot_id)
        self._blockio = blockio
        self._lineage = lineage_id
        self._blocks = extent_bytes // BLOCK_SIZE
        self._cache: BoundedCache[bytes] = BoundedCache(CACHED_BLOCKS)

    def cached(self, offset: int, length: int) -> bool:
        """Whether :meth:`read` of this range needs no I/O."""
        return all(
            index >= self._blocks or self._cache.get(index) is not None
            for index in range(offset // BLOCK_SIZE, (offset + length - 1) // BLOCK_SIZE + 1)
        )

    def block(self, index: int) -> bytes:
        if index >= self._blocks:  # a volume larger than its snapshot: the rest reads as zeros
            return ZERO_BLOCK
        data = self._cache.get(index)
        if data is None:
            entry = self._manifest.lookup(index)
            data = ZERO_BLOCK if entry is None else self._blockio.read(entry, self._lineage)
            self._cache.put(index, data)
        return data

    def read(self, offset: int, length: int) -> bytes:
        parts = []
        end = offset + length
        while offset < end:
            index, within = divmod(offset, BLOCK_SIZE)
            take = min(BLOCK_SIZE - within, end - offset)
            parts.append(self.block(index)[within : within + take])
            offset += take
        return b"".join(parts)
