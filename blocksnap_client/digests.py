"""The local digest cache: what each snapshot holds, and what a pending upload has had acknowledged.

ListSnapshotBlocks gives no checksums and a pending snapshot cannot be read,
so without blocksnap's extensions (on AWS, on moto) an incremental upload
would have to download its parent, and a resumed one would send everything
again. Instead every upload and download leaves the full digest map of its
snapshot here (``snap-….digests``), and a running upload appends each
acknowledged write to a journal (``snap-….journal``) that a ``--resume``
reads back. Both are records of a block index (8 bytes, little-endian) and
its raw SHA-256 (32 bytes); a torn last record of a killed upload is ignored.

The directory is ``$BLOCKSNAP_CACHE_DIR``, else ``$XDG_CACHE_HOME/blocksnap``,
else ``~/.cache/blocksnap``.
"""

from __future__ import annotations

import base64
import os
import re
import struct
import threading
from pathlib import Path

from .errors import CommandError

ENV_CACHE_DIR = "BLOCKSNAP_CACHE_DIR"
_RECORD = struct.Struct("<Q32s")
# The AWS shape, and what blocksnap and moto hand out; checked before an id becomes a file name.
_SNAPSHOT_ID = re.compile(r"snap-[0-9a-zA-Z]{1,64}")


class InvalidSnapshotId(CommandError, ValueError):
    pass


def check_snapshot_id(value: str) -> str:
    if not _SNAPSHOT_ID.fullmatch(value):
        raise InvalidSnapshotId(f"{value!r} is not a snapshot id (snap-…)")
    return value


def cache_dir() -> Path:
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "blocksnap"


def _encode(digests: dict[int, str]) -> bytes:
    return b"".join(_RECORD.pack(i, base64.b64decode(d)) for i, d in sorted(digests.items()))


def _decode(raw: bytes) -> dict[int, str]:
    whole = len(raw) - len(raw) % _RECORD.size
    return {i: base64.b64encode(d).decode("ascii") for i, d in _RECORD.iter_unpack(raw[:whole])}


class DigestCache:
    def __init__(self, root: Path | None = None):
        self.root = root or cache_dir()

    def _path(self, snapshot_id: str, kind: str) -> Path:
        return self.root / f"{check_snapshot_id(snapshot_id)}.{kind}"

    def load(self, snapshot_id: str) -> dict[int, str] | None:
        """The snapshot's full digest map (inherited blocks included), or None if this machine never saw it."""
        try:
            return _decode(self._path(snapshot_id, "digests").read_bytes())
        except FileNotFoundError:
            return None

    def store(self, snapshot_id: str, digests: dict[int, str]) -> None:
        """Written whole to a temporary file and renamed, so a reader never sees half a map."""
        path = self._path(snapshot_id, "digests")
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(_encode(digests))
        os.replace(temporary, path)

    def journal(self, snapshot_id: str) -> Journal:
        self.root.mkdir(parents=True, exist_ok=True)
        return Journal(self._path(snapshot_id, "journal"))


class Journal:
    """A pending upload's acknowledged writes, appended as they come back, latest per index on reading."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._file = None

    def read(self) -> dict[int, str]:
        try:
            return _decode(self.path.read_bytes())
        except FileNotFoundError:
            return {}

    def append(self, index: int, digest: str) -> None:
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "ab", buffering=0)  # unbuffered: a kill loses nothing acknowledged
                torn = self._file.tell() % _RECORD.size
                if torn:
                    self._file.truncate(self._file.tell() - torn)
            self._file.write(_RECORD.pack(index, base64.b64decode(digest)))

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
