"""The embedded block store: one file per object under the data dir.

A put writes a temporary file beside the target, fsyncs it, renames it into
place and fsyncs the directory, so an object is either absent or whole, and an
event that names it is only appended after it is durable. A write that fails
removes its temporary file; a full disk is StorageFull, which the client may
retry once space returns. Keys come from
:mod:`chalicelib.domain.keys` and are checked again here so that no key can
climb out of the store's root.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from ..domain.errors import ObjectNotFound
from ..domain.keys import check_key
from ..ports import BlockStore
from .durable_files import fsync_dir, is_temporary, out_of_space, replace_file


class FileBlockStore(BlockStore):
    def __init__(self, root: Path, *, durable: bool = True):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._durable = durable

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        try:
            self._put(self._path(key), data)
        except OSError as exc:
            raise out_of_space(exc, "block store") from exc

    def _put(self, path: Path, data: bytes) -> None:
        if not path.parent.is_dir():
            self._make_dirs(path.parent)
        replace_file(path, data, self._durable)

    def put_shared(self, key: str, data: bytes, fresh_for: float) -> bool:
        """A found file is touched (mtime); the event that follows commits the journal with it.

        The write that reuses the object appends its event with an fsync on
        the same file system, which commits the metadata journal holding the
        new mtime: the touch is durable before the write is acknowledged.
        """
        path = self._path(key)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            self.put(key, data)
            return True
        if time.time() - mtime >= fresh_for:
            os.utime(path)
        return False

    def modified(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _make_dirs(self, directory: Path) -> None:
        """Create missing directories, each made durable in its parent before it is used."""
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for created in reversed(missing):
            try:
                created.mkdir()
            except FileExistsError:
                continue
            if self._durable:
                fsync_dir(created.parent)

    def get(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, base)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            if not (rel_dir.startswith(prefix) or prefix.startswith(rel_dir)):
                dirnames[:] = []
                continue
            for name in filenames:
                key = rel_dir + name
                if key.startswith(prefix) and not is_temporary(name):
                    found.append(key)
        return iter(sorted(found))

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        for key in self.list(prefix):
            try:
                yield key, self._path(key).stat().st_size
            except FileNotFoundError:
                continue  # deleted since the listing: a concurrent collection

    def delete_prefix(self, prefix: str) -> None:
        for key in list(self.list(prefix)):
            os.unlink(self._path(key))
        if prefix.endswith("/"):
            target = self.root / prefix.rstrip("/")
            if target.is_dir() and target.resolve().is_relative_to(self.root.resolve()):
                shutil.rmtree(target, ignore_errors=True)

