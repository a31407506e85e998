"""The one place where block bytes are written and read.

Every path that touches block content goes through :class:`BlockIO`: the
PutSnapshotBlock and sub-block writes, GetSnapshotBlock, and the encrypted
copy. That is the seam where encryption plugs in (an encrypted snapshot's
bytes go through the encryption function, never through key material held
here) and where checksums are verified on every read, so that corrupt or
tampered bytes produce a clean error instead of being served.
"""

from __future__ import annotations

import hashlib
import base64

from .domain.errors import CorruptData, ObjectNotFound
from .domain.manifest import Entry
from .domain.snapshot import BLOCK_SIZE
from .ports import BlockStore

ZERO_BLOCK = bytes(BLOCK_SIZE)


class BlockIO:
    def __init__(self, blocks: BlockStore):
        self._blocks = blocks

    def write(self, key: str, data: bytes) -> None:
        self._blocks.put(key, data)

    def read_object(self, key: str) -> bytes:
        try:
            return self._blocks.get(key)
        except ObjectNotFound as exc:
            raise CorruptData(f"block object {key} is missing from the block store") from exc

    def assemble(self, entry: Entry) -> bytes:
        """The full 512 KiB content of an entry: its base with its sub-block parts laid over."""
        base = ZERO_BLOCK if entry.key is None else self.read_object(entry.key)
        if not entry.parts:
            return base
        merged = bytearray(base)
        for part in entry.parts:
            merged[part.offset : part.offset + part.length] = self.read_object(part.key)[: part.length]
        return bytes(merged)

    def read(self, entry: Entry) -> bytes:
        data = self.assemble(entry)
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        if len(data) != BLOCK_SIZE or digest != entry.digest:
            raise CorruptData(f"block {entry.index} of {entry.writer} failed its checksum on read")
        return data
