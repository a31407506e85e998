"""Durable files in the data dir: directory entries made durable, secrets created once, files replaced whole.

A secret (the token key, the local master key) is created once, whole,
readable by its owner only. Several processes may start at once on a fresh data dir (granian's workers,
the encryption worker) and race to create the same secret. Each writes its
own temporary file, fsyncs it and hard-links it into place: exactly one link
wins, nobody ever reads a partial secret, and everybody uses the winner's.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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
