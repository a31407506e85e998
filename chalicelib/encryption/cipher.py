"""AES-256-GCM with associated data: the one primitive of the encryption function.

A sealed value is ``version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``.

* **Random 96-bit nonces.** A data key encrypts at most the blocks of one
  lineage; NIST SP 800-38D bounds random nonces to 2^32 messages per key,
  which is 2 PiB of 512 KiB blocks, far above the 64 TiB a volume can hold
  even counting rewrites many times over.
* **Associated data names the place.** Callers pass where the bytes belong
  (a block's store key, a wrapped key's key id and context), so bytes moved
  elsewhere fail authentication instead of decrypting to the wrong content.
* **The version byte** lets a later format (another cipher, a key-committing
  mode) be told apart from this one without guessing.

A failed tag becomes :class:`CorruptData`: the caller gets a clean error,
never unauthenticated plaintext.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.errors import CorruptData

KEY_BYTES = 32
VERSION = b"\x01"
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = len(VERSION) + NONCE_BYTES + TAG_BYTES


class AeadCipher:
    """One key, sealing and opening many values; safe to share between threads."""

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise ValueError(f"an AES-256 key has {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes, what: str) -> bytes:
        """The plaintext of ``sealed``; ``what`` names it in the error."""
        if len(sealed) < OVERHEAD or sealed[:1] != VERSION:
            raise CorruptData(f"{what} is not a sealed value of a known format")
        view = memoryview(sealed)
        try:
            return self._aead.decrypt(view[1 : 1 + NONCE_BYTES], view[1 + NONCE_BYTES :], aad)
        except InvalidTag:
            raise CorruptData(
                f"{what} failed authenticated decryption: it was altered, moved, "
                "or is read under the wrong key or context"
            ) from None
