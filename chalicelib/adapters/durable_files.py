"""Durable files in the data dir: directory entries made durable, secrets created once, files replaced whole, a full disk named.

A secret (the token key, the local master key) is created once, whole,
readable by its owner only. Several processes may start at once on a fresh data dir (granian's workers,
the encryption worker) and race to create the same secret. Each writes its
own temporary file, fsyncs it and hard-links it into place: exactly one link
wins, nobody ever reads a partial secret, and everybody uses the winner's.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from ..domain.errors import StorageFull

# A temporary file's name: ``.tmp-<hex>`` (block store) or ``.<name>.tmp-<pid>-<hex>`` (secrets).
TEMPORARY_MARK = ".tmp-"
_OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)


def out_of_space(exc: OSError, what: str) -> OSError | StorageFull:
    """StorageFull naming ``what`` for a full disk or quota, else the error itself, for the caller to raise."""
    if exc.errno in _OUT_OF_SPACE:
        return StorageFull(f"The {what} is out of space")
    return exc


def remove_temporary_files(directory: Path) -> int:
    """Remove what interrupted writes left below ``directory`` (a crash, a full disk); how many.

    Only safe while nothing writes there: ``serve`` runs it holding the data
    dir, before any worker starts.
    """
    removed = 0
    for dirpath, _dirnames, filenames in os.walk(directory):
        for name in filenames:
            if name.startswith(".") and TEMPORARY_MARK in name:
                Path(dirpath, name).unlink(missing_ok=True)
                removed += 1
    return removed


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a new or renamed file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_or_create_secret(path: Path, size: int) -> bytes:
    """The secret at ``path``, first created from ``size`` random bytes (mode 0600) if absent."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    create_once(path, secrets.token_bytes(size))
    return path.read_bytes()


def create_once(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (mode 0600) unless it exists; whether this call created it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process created it first: theirs wins
            return False
    finally:
        os.unlink(tmp)
        fsync_dir(path.parent)
    return True


def replace_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600): a reader sees the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
