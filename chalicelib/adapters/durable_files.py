"""Durable files in the data dir: directory entries made durable, and secrets created once.

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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, secrets.token_bytes(size))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process created it first: theirs wins
            pass
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return path.read_bytes()
