"""A bounded, thread-safe map: manifest pages, completed snapshot records, unwrapped data keys.

The first two never change once written, so they are never invalidated; the
key cache discards a key whose time is up. The bound keeps a process that
serves many snapshots at a flat memory profile, dropping the least recently
used first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    def __init__(self, limit: int):
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
