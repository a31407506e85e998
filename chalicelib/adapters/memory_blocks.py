"""The reference block store: objects in a dict.

Keys pass the same :func:`~chalicelib.domain.keys.check_key` as on disk and
in S3, so a key that a real store refuses fails in a unit test too. Bytes are
copied on the way in, so a caller reusing its buffer cannot change a stored
object.
"""

from __future__ import annotations

import threading
from typing import Iterator

from ..domain.errors import ObjectNotFound
from ..domain.keys import check_key
from ..ports import BlockStore


class MemoryBlockStore(BlockStore):
    def __init__(self):
        self._lock = threading.Lock()
        self._objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        check_key(key)
        with self._lock:
            self._objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        check_key(key)
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise ObjectNotFound(key) from None

    def list(self, prefix: str) -> Iterator[str]:
        with self._lock:
            return iter(sorted(k for k in self._objects if k.startswith(prefix)))

    def delete_prefix(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._objects if k.startswith(prefix)]:
                del self._objects[key]
