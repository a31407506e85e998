"""Durable files in the data dir: entries made durable, secrets created once, files replaced whole.

A full disk is named as one (:func:`out_of_space`), not left an anonymous OSError.

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
            if is_temporary(name):
                Path(dirpath, name).unlink(missing_ok=True)
                removed += 1
    return removed


def is_temporary(name: str) -> bool:
    """A file an unfinished write left (``.NAME.tmp-PID-HEX``): never an object, a key or a secret."""
    return name.startswith(".") and TEMPORARY_MARK in name


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


def _temporary(path: Path) -> Path:
    """A new name beside ``path`` that :func:`remove_temporary_files` recognises."""
    return path.with_name(f".{path.name}{TEMPORARY_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def _write_new(tmp: Path, data: bytes, durable: bool) -> None:
    """Write all of ``data`` to a new file (mode 0600), fsynced unless ``durable`` is false."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def create_once(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (mode 0600) unless it exists; whether this call created it."""
    tmp = _temporary(path)
    _write_new(tmp, data, durable=True)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process created it first: theirs wins
            return False
    finally:
        os.unlink(tmp)
        fsync_dir(path.parent)
    return True


def replace_file(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (mode 0600): a reader sees the old file or the new one, never a mix.

    The temporary file is removed on any error, and swept at the next start
    after a crash; ``durable=False`` skips the fsyncs (tests, benchmarks).
    """
    tmp = _temporary(path)
    try:
        _write_new(tmp, data, durable)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
