"""The access keys in a dict: the KeyStore for unit tests, run through the same contract as the file."""

from __future__ import annotations

import threading

from ..domain.access import AccessKey
from ..ports import KeyStore


class InMemoryKeyStore(KeyStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, AccessKey] = {}

    def get(self, access_key_id: str) -> AccessKey | None:
        return self._keys.get(access_key_id)

    def all(self) -> list[AccessKey]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.created, k.access_key_id))

    def add(self, key: AccessKey) -> None:
        with self._lock:
            self._keys[key.access_key_id] = key

    def remove(self, access_key_id: str) -> bool:
        with self._lock:
            return self._keys.pop(access_key_id, None) is not None
