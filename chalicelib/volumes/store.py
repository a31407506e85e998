"""A volume's own store on local disk: the bytes written to it since it was created.

``DATA_DIR/volumes/<vol-id>/``:

* ``data`` — a sparse file the size of the volume; a written sub-block is at
  its own offset, so a read of written data is one ``pread``.
* ``written.map`` — one bit per sub-block: its bytes are in ``data``,
  written by a client or kept from the snapshot on first read (else they
  come from the snapshot chain, or are zeros).
* ``changed.map`` — one bit per sub-block written in the current generation,
  i.e. since the volume's last snapshot froze the map: the dirty map.
* ``frozen.map`` — while a snapshot of the volume is being recorded, the
  generation it froze. Found at open, the snapshot was interrupted: its bits
  go back into ``changed.map`` so that the next snapshot records them.

Durability is the client's flush (or FUA): ``data`` is fsynced first, then
the map pages that changed since the last flush. A bit on disk therefore
only ever names bytes that were already durable, and a torn map write can
only forget writes that were not yet flushed. Maps are held in memory, one
bit per sub-block (32 KiB per GiB at 4 KiB).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE = 4096


class Bitmap:
    """A bit per sub-block, with the 4 KiB pages changed since the last :meth:`take_dirty` tracked."""

    def __init__(self, path: Path, bits: int):
        self.path = path
        size = (bits + 7) // 8
        data = path.read_bytes() if path.exists() else b""
        self.bytes = bytearray(data[:size].ljust(size, b"\0"))
        self._dirty: set[int] = set()

    def test(self, n: int) -> bool:
        return bool(self.bytes[n >> 3] & (1 << (n & 7)))

    def set_range(self, first: int, last: int) -> None:
        """Set bits ``first``..``last``: whole bytes at once, so a 32 MiB write costs a slice, not 8,192 steps."""
        n, end = first, last + 1
        while n < end and n & 7:
            self.bytes[n >> 3] |= 1 << (n & 7)
            n += 1
        whole = end & ~7
        if n < whole:
            self.bytes[n >> 3 : whole >> 3] = b"\xff" * ((whole - n) >> 3)
            n = whole
        while n < end:
            self.bytes[n >> 3] |= 1 << (n & 7)
            n += 1
        self._dirty.update(range((first >> 3) // _PAGE, (last >> 3) // _PAGE + 1))

    def all_in(self, first: int, last: int) -> bool:
        return all(self.test(n) for n in range(first, last + 1))

    def numbers(self) -> list[int]:
        return set_bits(self.bytes)

    def merge(self, other: bytes) -> None:
        for i, byte in enumerate(other):
            if byte:
                self.bytes[i] |= byte
                self._dirty.add(i // _PAGE)

    def clear(self) -> None:
        self.bytes[:] = bytes(len(self.bytes))
        self._dirty.update(range((len(self.bytes) + _PAGE - 1) // _PAGE))

    def take_dirty(self) -> list[tuple[int, bytes]]:
        """The changed pages as (offset, bytes) copies, forgotten here: the caller writes them."""
        pages = [(p * _PAGE, bytes(self.bytes[p * _PAGE : (p + 1) * _PAGE])) for p in sorted(self._dirty)]
        self._dirty.clear()
        return pages


def set_bits(data: bytes) -> list[int]:
    """The numbers of the set bits, in order."""
    return [(i << 3) + b for i, byte in enumerate(data) if byte for b in range(8) if byte & (1 << b)]


def write_pages(path: Path, pages: list[tuple[int, bytes]]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for offset, data in pages:
            os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


class VolumeStore:
    """The files of one volume; ``lock`` guards the maps, ``flush`` makes everything written durable."""

    def __init__(self, root: Path, size_bytes: int, unit: int):
        self.root = root
        self.unit = unit
        self.units = size_bytes // unit
        root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(root / "data", os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self.fd).st_size != size_bytes:
            os.ftruncate(self.fd, size_bytes)
        self.lock = threading.Lock()
        self._flushing = threading.Lock()
        self.written = Bitmap(root / "written.map", self.units)
        self.changed = Bitmap(root / "changed.map", self.units)
        frozen = root / "frozen.map"
        if frozen.exists():
            self.changed.merge(frozen.read_bytes())
            self.flush()
            frozen.unlink()

    def pread(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def pwrite(self, offset: int, data: bytes) -> None:
        """Write whole sub-blocks at ``offset`` and mark them; call with :attr:`lock` held."""
        view = memoryview(data)
        done = 0
        while done < len(data):
            done += os.pwrite(self.fd, view[done:], offset + done)
        first, last = offset // self.unit, (offset + len(data)) // self.unit - 1
        self.written.set_range(first, last)
        self.changed.set_range(first, last)

    def fill(self, offset: int, data: bytes) -> None:
        """Keep bytes read from the snapshot: sub-blocks not yet in ``data`` get them, written ones stay.

        Only ``written.map`` is marked: a kept block is no change, so no snapshot records it.
        """
        unit, first, count = self.unit, offset // self.unit, len(data) // self.unit
        with self.lock:
            n = 0
            while n < count:
                if self.written.test(first + n):
                    n += 1
                    continue
                end = n
                while end < count and not self.written.test(first + end):
                    end += 1
                os.pwrite(self.fd, data[n * unit : end * unit], offset + n * unit)
                self.written.set_range(first + n, first + end - 1)
                n = end

    def flush(self) -> None:
        with self._flushing:
            with self.lock:
                written, changed = self.written.take_dirty(), self.changed.take_dirty()
            os.fdatasync(self.fd)
            if written:
                write_pages(self.written.path, written)
            if changed:
                write_pages(self.changed.path, changed)

    def freeze(self, on_frozen) -> list[int]:
        """End the generation: its changed sub-blocks, kept in ``frozen.map`` until :meth:`release`.

        ``on_frozen(numbers)`` runs under :attr:`lock`, at the moment the map
        is swapped, so that no write can slip between the swap and the
        caller's copy-on-write taking effect.
        """
        self.flush()
        with self._flushing:
            with self.lock:
                frozen = bytes(self.changed.bytes)
                self.changed.clear()
                numbers = set_bits(frozen)
                on_frozen(numbers)
            write_pages(self.root / "frozen.map", [(0, frozen)])
            write_pages(self.changed.path, self.changed.take_dirty())
        return numbers

    def release(self, recorded: bool, frozen: list[int]) -> None:
        """The frozen generation is recorded in a snapshot, or (``recorded=False``) goes back into the dirty map."""
        if not recorded:
            with self.lock:
                for n in frozen:
                    self.changed.set_range(n, n)
            self.flush()
        (self.root / "frozen.map").unlink(missing_ok=True)

    def close(self) -> None:
        os.close(self.fd)
