"""The reference block store: objects in a dict.

Keys pass the same :func:`~chalicelib.domain.keys.check_key` as on disk and
in S3, so a key that a real store refuses fails in a unit test too. Bytes are
copied on the way in, so a caller reusing its buffer cannot change a stored
object.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from ..domain.errors import ObjectNotFound
from ..domain.keys import check_key
from ..ports import BlockStore


class MemoryBlockStore(BlockStore):
    def __init__(self, clock: Callable[[], float] = time.time):
        self._lock = threading.Lock()
        self._objects: dict[str, bytes] = {}
        self._modified: dict[str, float] = {}
        self._clock = clock

    def put(self, key: str, data: bytes) -> None:
        check_key(key)
        with self._lock:
            self._objects[key] = bytes(data)
            self._modified[key] = self._clock()

    def put_shared(self, key: str, data: bytes, fresh_for: float) -> bool:
        check_key(key)
        with self._lock:
            if key not in self._objects:
                self._objects[key] = bytes(data)
                self._modified[key] = self._clock()
                return True
            if self._clock() - self._modified[key] >= fresh_for:
                self._modified[key] = self._clock()
            return False

    def modified(self, key: str) -> float | None:
        check_key(key)
        with self._lock:
            return self._modified.get(key)

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._objects.pop(key, None)
            self._modified.pop(key, None)

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        with self._lock:
            return iter(sorted((k, len(v)) for k, v in self._objects.items() if k.startswith(prefix)))

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
                del self._modified[key]
