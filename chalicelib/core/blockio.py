"""The one place where block bytes are written and read.

Every path that touches block content goes through :class:`BlockIO`: full and
sub-block writes, GetSnapshotBlock, and the encrypted copy. For an encrypted
lineage the bytes pass through the encryption function (a separate process or
Lambda) and only ciphertext reaches the store; this module never holds a key.
Checksums are verified on every read, so corrupt or tampered bytes produce a
clean error instead of being served.
"""

from __future__ import annotations

from ..domain.checksums import sha256_b64
from ..domain.collection import GRACE_SECONDS
from ..domain.errors import CorruptData, ObjectNotFound, ValidationError
from ..domain.manifest import Entry
from ..domain.snapshot import BLOCK_SIZE
from ..ports import BlockStore, EncryptionFunction

ZERO_BLOCK = bytes(BLOCK_SIZE)



class BlockIO:
    def __init__(self, blocks: BlockStore, encryption: EncryptionFunction | None = None, grace: float = GRACE_SECONDS):
        self._blocks = blocks
        self._encryption = encryption
        # A reused block older than this is made young again, so that it stays well
        # inside the garbage collector's grace period until its write is recorded.
        self._refresh_after = grace / 2

    def _function(self) -> EncryptionFunction:
        if self._encryption is None:
            raise ValidationError(
                "Encrypted snapshots need the encryption function, which this deployment does not run",
                reason="INVALID_CUSTOMER_KEY",
            )
        return self._encryption

    def create_lineage_key(self, lineage_id: str, kms_key_arn: str) -> None:
        self._function().create_lineage_key(lineage_id, kms_key_arn)

    def write(self, key: str, data: bytes, lineage_id: str | None = None) -> None:
        if lineage_id is not None:
            data = self._function().encrypt(lineage_id, key, data)
        self._blocks.put(key, data)

    def write_shared(self, key: str, data: bytes) -> bool:
        """Store a plaintext block under its content's key unless it is there (deduplication); True if stored."""
        return self._blocks.put_shared(key, data, self._refresh_after)

    def read_object(self, key: str, lineage_id: str | None = None) -> bytes:
        try:
            data = self._blocks.get(key)
        except ObjectNotFound as exc:
            raise CorruptData(f"block object {key} is missing from the block store") from exc
        if lineage_id is not None:
            data = self._function().decrypt(lineage_id, key, data)
        return data

    def read(self, entry: Entry, lineage_id: str | None = None) -> bytes:
        """The full 512 KiB content of an entry, its base with its sub-block parts laid over, verified.

        Verified here, where every reader passes (GetSnapshotBlock, the base of
        a sub-block merge, the encrypted copy), so no path can build on bytes
        that do not match the digest the manifest recorded for them.
        """
        data = ZERO_BLOCK if entry.key is None else self.read_object(entry.key, lineage_id)
        if entry.parts:
            merged = bytearray(data)
            for part in entry.parts:
                merged[part.offset : part.offset + part.length] = self.read_object(part.key, lineage_id)[: part.length]
            data = bytes(merged)
        if len(data) != BLOCK_SIZE or sha256_b64(data) != entry.digest:
            raise CorruptData(f"block {entry.index} of {entry.writer} failed its checksum on read")
        return data
