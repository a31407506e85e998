"""Disk images and block devices as a sequence of 512 KiB blocks, read once, written sparse.

Holes of a sparse image are found with ``SEEK_DATA`` and never read: a
mostly empty 1 TiB image costs what its data costs. Block devices have no
holes, so every block of one is read, and on download every block of one is
written, zeros included (there is nothing else to clear them).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .digests import Journal
from .errors import CommandError

BLOCK_SIZE = 512 * 1024  # the EBS direct APIs' only block size
GIB = 1024**3
BLOCKS_PER_GIB = GIB // BLOCK_SIZE
ZERO_BLOCK = bytes(BLOCK_SIZE)
_BLKZEROOUT = 0x127F  # <linux/fs.h>: _IO(0x12, 127), zero a byte range of a block device


class ImageError(CommandError):
    """An image or target that cannot be read or written as asked."""


def volume_size_gib(size_bytes: int) -> int:
    """EBS volumes are whole GiB: an image of any other size is rounded up, and at least 1 GiB."""
    return max(1, -(-size_bytes // GIB))


def is_block_device(path: Path) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


@dataclass
class Image:
    """An open image or device; ``blocks()`` yields ``(index, data)``, data None for a block inside a hole."""

    path: Path
    fd: int
    size: int

    @classmethod
    def open(cls, path: Path) -> Image:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise ImageError(f"cannot open {path}: {exc.strerror}") from None
        size = os.lseek(fd, 0, os.SEEK_END)  # works for block devices too, unlike st_size
        if size == 0:
            os.close(fd)
            raise ImageError(f"{path} is empty")
        return cls(path, fd, size)

    def close(self) -> None:
        os.close(self.fd)

    @property
    def block_count(self) -> int:
        return -(-self.size // BLOCK_SIZE)

    def _next_data(self, offset: int) -> int:
        """The next offset at or after ``offset`` that may hold data; the image size when only a hole is left."""
        try:
            return os.lseek(self.fd, offset, os.SEEK_DATA)
        except OSError as exc:
            # ENXIO: only hole from here to the end; anything else: no SEEK_DATA here, so read it all.
            return self.size if exc.errno == errno.ENXIO else offset

    def blocks(self) -> Iterator[tuple[int, bytes | None]]:
        data_at = self._next_data(0)
        for index in range(self.block_count):
            start = index * BLOCK_SIZE
            end = start + BLOCK_SIZE
            if data_at >= end:
                yield index, None
                continue
            data = os.pread(self.fd, BLOCK_SIZE, start)
            if len(data) < BLOCK_SIZE:  # the image's last, partial block reads as zero-padded
                data += bytes(BLOCK_SIZE - len(data))
            yield index, data
            data_at = self._next_data(end) if end < self.size else self.size


class Target:
    """Where a download goes: a temporary file beside a regular OUT, renamed when done, or a block device in place.

    The temporary file is kept when the download is interrupted, with a
    journal of the blocks already in it (named after the snapshot), so that
    the next run with the same OUT and snapshot continues it; a partial file
    of another snapshot starts over. A device is written in place, from the
    start each time.
    """

    def __init__(self, out: Path, snapshot_id: str, volume_bytes: int, force: bool):
        self.out = out
        self.device = is_block_device(out)
        if out.exists() and not force:
            raise ImageError(f"{out} exists; give --force to overwrite it")
        self.path = out if self.device else out.with_name(out.name + ".blocksnap-partial")
        self.journal = None if self.device else Journal(out.with_name(f"{out.name}.blocksnap-partial.{snapshot_id}"))
        resuming = self.journal is not None and self.path.exists() and self.journal.path.exists()
        try:
            self.fd = os.open(self.path, os.O_WRONLY if self.device else os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ImageError(f"cannot write {self.path}: {exc.strerror}") from None
        if self.device:
            if os.lseek(self.fd, 0, os.SEEK_END) < volume_bytes:
                os.close(self.fd)
                raise ImageError(f"{out} is smaller than the snapshot's {volume_bytes // GIB} GiB")
        else:
            if not resuming:
                os.ftruncate(self.fd, 0)
            os.ftruncate(self.fd, volume_bytes)
        self.done: dict[int, str] = self.journal.read() if resuming and self.journal else {}

    def clear_absent(self, present: set[int], volume_blocks: int) -> None:
        """On a device, zero the blocks the snapshot does not have (a file is all hole already).

        BLKZEROOUT lets the device do it (often without writing); where it is
        refused, zeros are written.
        """
        if not self.device:
            return
        index = 0
        while index < volume_blocks:
            if index in present:
                index += 1
                continue
            end = index
            while end < volume_blocks and end not in present:
                end += 1
            try:
                fcntl.ioctl(self.fd, _BLKZEROOUT, struct.pack("QQ", index * BLOCK_SIZE, (end - index) * BLOCK_SIZE))
            except OSError:
                for i in range(index, end):
                    os.pwrite(self.fd, ZERO_BLOCK, i * BLOCK_SIZE)
            index = end

    def write(self, index: int, data: bytes, digest: str) -> None:
        """A zero block stays a hole in a file (it already is one); a device gets the zeros written."""
        if self.device or data != ZERO_BLOCK:
            os.pwrite(self.fd, data, index * BLOCK_SIZE)
        if self.journal is not None:
            self.journal.append(index, digest)

    def finish(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        if not self.device:
            os.replace(self.path, self.out)
        self._drop_journal()

    def discard(self) -> None:
        """After a failure: nothing left behind (a device keeps what was written, there is no undo)."""
        os.close(self.fd)
        if not self.device:
            self.path.unlink(missing_ok=True)
        self._drop_journal()

    def keep(self) -> None:
        """After an interruption: the partial file and its journal stay for the next run."""
        os.fsync(self.fd)
        os.close(self.fd)
        if self.journal is not None:
            self.journal.close()

    def _drop_journal(self) -> None:
        if self.journal is not None:
            self.journal.remove()
