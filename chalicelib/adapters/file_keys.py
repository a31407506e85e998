"""The access keys as one JSON file in the data dir (mode 0600), shared by every HTTP worker.

Keys change rarely and are read on every request, so each process keeps the
parsed file and reads it again only when its identity changes (inode, size,
modification time): a change is one atomic replace, which always makes a new
inode, so a key revoked through one worker is refused by the next request to
any worker. Changes are serialised between processes by an ``flock`` on a
lock file beside it, and each starts from the file as it is then.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..domain.access import AccessKey, Policy
from ..ports import KeyStore
from .durable_files import replace_file


class FileKeyStore(KeyStore):
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str, AccessKey] = {}

    def get(self, access_key_id: str) -> AccessKey | None:
        return self._current().get(access_key_id)

    def all(self) -> list[AccessKey]:
        return sorted(self._current().values(), key=lambda k: (k.created, k.access_key_id))

    def add(self, key: AccessKey) -> None:
        with self._changing() as keys:
            keys[key.access_key_id] = key

    def remove(self, access_key_id: str) -> bool:
        with self._changing() as keys:
            return keys.pop(access_key_id, None) is not None

    def _current(self) -> dict[str, AccessKey]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if seen != self._seen:
                self._keys, self._seen = self._read(), seen
            return self._keys

    def _read(self) -> dict[str, AccessKey]:
        try:
            document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        keys = (AccessKey(k["AccessKeyId"], k["SecretAccessKey"], Policy(k["Policy"]), k.get("Description", ""),
                          k.get("Created", 0.0)) for k in document["Keys"])
        return {k.access_key_id: k for k in keys}

    @contextmanager
    def _changing(self) -> Iterator[dict[str, AccessKey]]:
        """The keys as they are on disk, under the cross-process lock; written back when the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            keys = self._read()
            yield keys
            document = {"Keys": [
                {"AccessKeyId": k.access_key_id, "SecretAccessKey": k.secret_access_key, "Policy": k.policy.value,
                 "Description": k.description, "Created": k.created}
                for k in keys.values()
            ]}
            replace_file(self.path, json.dumps(document, indent=1).encode())
        finally:
            os.close(fd)
