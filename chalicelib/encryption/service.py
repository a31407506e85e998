"""The encryption service: the only code that ever holds a plaintext data key.

Each lineage (a chain of snapshots; a copy starts its own) has one 256-bit
data key from the key service's GenerateDataKey, under the snapshot's KMS key
and the encryption context ``{"aws:ebs:id": <lineage id>}``, as EBS asks KMS.
It is stored only wrapped, as ``keys/<lineage id>`` in the block store::

    {"KmsKeyArn": "...", "CiphertextBlob": "<base64>"}

Blocks are sealed with AES-256-GCM (:mod:`.cipher`) with their block-store
key as associated data. That key names the writer snapshot, the block index
and the digest (or sub-block offset), so bytes copied to another key,
snapshot or index fail authentication rather than decrypt to the wrong block.

**Crypto-shredding** is deleting ``keys/<lineage id>``: no process can unwrap
the data key again, so every block of the lineage is unreadable, wherever
its ciphertext lives. A running function may keep using the key for at most
its cache TTL (:data:`KEY_CACHE_SECONDS`), as a KMS data-key cache does.

**The cache** holds plaintext keys in this process's memory only, at most
:data:`KEY_CACHE_LINEAGES` of them, each for :data:`KEY_CACHE_SECONDS`: it
spares a key-service call per block (KMS Decrypt costs a round trip and a
request quota), and the TTL bounds how long a shredded or revoked key lives on.

Inputs are checked before any storage is touched: lineage ids must be
snapshot ids and object keys must be block keys of the key scheme, so a caller
cannot make the function read or write anything else, such as ``keys/``.

It needs a :class:`~chalicelib.ports.KeyService` and the block store, and
nothing else; the wires that carry requests to it are :mod:`.dispatch`'s.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Callable

from ..core.cache import BoundedCache
from ..domain import keys
from ..domain.errors import CorruptData, DependencyAccessDenied, ObjectNotFound, ValidationError
from ..ports import BlockStore, EncryptionFunction, KeyService
from .cipher import AeadCipher

KEY_CACHE_LINEAGES = 256
KEY_CACHE_SECONDS = 300.0
CONTEXT_KEY = "aws:ebs:id"

MAX_KMS_KEY_ID = 2048  # the KmsKeyArn length limit of the EBS model


class _KeyCache:
    """A small LRU of unwrapped keys, each valid for ``ttl`` seconds after it was unwrapped."""

    def __init__(self, capacity: int, ttl: float, clock: Callable[[], float]):
        self._entries: BoundedCache[tuple[float, AeadCipher]] = BoundedCache(capacity)
        self._ttl = ttl
        self._clock = clock

    def get(self, lineage_id: str) -> AeadCipher | None:
        entry = self._entries.get(lineage_id)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self._ttl:
            self._entries.discard(lineage_id)  # no key material kept past its time
            return None
        return entry[1]

    def put(self, lineage_id: str, cipher: AeadCipher) -> None:
        self._entries.put(lineage_id, (self._clock(), cipher))


class EncryptionService(EncryptionFunction):
    def __init__(
        self,
        keys: KeyService,
        blocks: BlockStore,
        clock: Callable[[], float] = time.time,
        cache_lineages: int = KEY_CACHE_LINEAGES,
        cache_seconds: float = KEY_CACHE_SECONDS,
    ):
        self._keys = keys
        self._blocks = blocks
        self._cache = _KeyCache(cache_lineages, cache_seconds, clock)
        self._create_lock = threading.Lock()

    def create_lineage_key(self, lineage_id: str, kms_key_arn: str) -> None:
        """Idempotent: a lineage that has a key keeps it.

        Lineage ids are fresh snapshot ids, created by one StartSnapshot or one
        copy, so only retries reach here twice; the lock serialises those in
        this process. The block store has no put-if-absent, so two processes
        racing on one new lineage are not guarded against.
        """
        _check_lineage(lineage_id)
        if not isinstance(kms_key_arn, str) or not 0 < len(kms_key_arn) <= MAX_KMS_KEY_ID:
            raise ValidationError(
                f"KmsKeyArn must have 1 to {MAX_KMS_KEY_ID} characters", reason="INVALID_CUSTOMER_KEY"
            )
        with self._create_lock:
            if self._stored_key(lineage_id) is not None:
                return
            plaintext, wrapped = self._keys.generate_data_key(kms_key_arn, _context(lineage_id))
            stored = {"KmsKeyArn": kms_key_arn, "CiphertextBlob": base64.b64encode(wrapped).decode("ascii")}
            self._blocks.put(keys.lineage_key(lineage_id), json.dumps(stored, sort_keys=True).encode())
            self._cache.put(lineage_id, AeadCipher(plaintext))

    def encrypt(self, lineage_id: str, object_key: str, plaintext: bytes) -> bytes:
        _check_lineage(lineage_id)
        _check_object_key(object_key)
        return self._cipher(lineage_id).seal(plaintext, object_key.encode("ascii"))

    def decrypt(self, lineage_id: str, object_key: str, ciphertext: bytes) -> bytes:
        _check_lineage(lineage_id)
        _check_object_key(object_key)
        aad = object_key.encode("ascii")
        return self._cipher(lineage_id).open(ciphertext, aad, f"block object {object_key}")

    def _stored_key(self, lineage_id: str) -> bytes | None:
        """The lineage's wrapped data key, or None if it has none."""
        try:
            stored = json.loads(self._blocks.get(keys.lineage_key(lineage_id)))
            return base64.b64decode(stored["CiphertextBlob"], validate=True)
        except ObjectNotFound:
            return None
        except (ValueError, KeyError, TypeError):
            raise CorruptData(f"the stored data key of lineage {lineage_id} is not readable") from None

    def _cipher(self, lineage_id: str) -> AeadCipher:
        cipher = self._cache.get(lineage_id)
        if cipher is not None:
            return cipher
        wrapped = self._stored_key(lineage_id)
        if wrapped is None:
            raise DependencyAccessDenied(
                f"the data key of lineage {lineage_id} has been deleted (or was never created); "
                "its blocks can no longer be decrypted"
            )
        plaintext = self._keys.decrypt(wrapped, _context(lineage_id))
        cipher = AeadCipher(plaintext)
        self._cache.put(lineage_id, cipher)
        return cipher


def _context(lineage_id: str) -> dict[str, str]:
    return {CONTEXT_KEY: lineage_id}


def _check_lineage(lineage_id: object) -> None:
    if not isinstance(lineage_id, str) or not keys.SNAPSHOT_ID.fullmatch(lineage_id):
        raise ValidationError(f"not a lineage id: {lineage_id!r}")


def _check_object_key(object_key: object) -> None:
    if not isinstance(object_key, str) or not keys.BLOCK_OBJECT_KEY.fullmatch(object_key):
        raise ValidationError(f"not a block object key: {object_key!r}")
