"""A Bloom filter over strings: set membership in bounded memory, with false positives only.

The garbage collector marks every block object a live snapshot reaches; a
store of millions of blocks would need hundreds of megabytes as a set of
keys. A false positive here only keeps an object that could have been freed
(it is freed by a later collection once the filter is sized for it), never
frees one that is needed, so a filter is safe where a set would be exact.
"""

from __future__ import annotations

import hashlib
import math


class BloomFilter:
    def __init__(self, capacity: int, false_positive_rate: float = 1e-4):
        capacity = max(capacity, 1)
        self.bits = max(64, math.ceil(-capacity * math.log(false_positive_rate) / math.log(2) ** 2))
        self.hashes = max(1, round(self.bits / capacity * math.log(2)))
        self._array = bytearray((self.bits + 7) // 8)
        self.count = 0

    def _positions(self, item: str):
        # Double hashing (Kirsch and Mitzenmacher): k positions from two 64-bit halves of one digest.
        digest = hashlib.blake2b(item.encode(), digest_size=16).digest()
        a = int.from_bytes(digest[:8], "little")
        b = int.from_bytes(digest[8:], "little") | 1
        return ((a + i * b) % self.bits for i in range(self.hashes))

    def add(self, item: str) -> None:
        for p in self._positions(item):
            self._array[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def __contains__(self, item: str) -> bool:
        return all(self._array[p >> 3] & (1 << (p & 7)) for p in self._positions(item))

    @property
    def memory_bytes(self) -> int:
        return len(self._array)
