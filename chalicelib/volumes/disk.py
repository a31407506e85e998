"""A volume as a disk: byte-addressed reads and writes over its store and its snapshot.

The first read of a block of the snapshot keeps it in the store (hydration
on first read), so the snapshot chain is read, and verified, once per block.
Writes land in the volume's store in whole sub-blocks: a write that starts
or ends inside a sub-block first reads that sub-block (from the store, or
from the snapshot chain if never written) and writes it whole, so every
sub-block is either entirely the volume's or entirely the snapshot's.

While a snapshot of the volume is recorded, the sub-blocks it froze must
keep their content at the moment of the freeze, though the client keeps
writing: the first write to a frozen sub-block copies its old bytes aside
(in memory; bounded by what is rewritten during one snapshot's upload), and
the recorder reads the copy.
"""

from __future__ import annotations

from ..core.blockio import ZERO_BLOCK
from ..domain.snapshot import BLOCK_SIZE
from .source import SnapshotSource
from .store import VolumeStore

ZERO_CHUNK = 1 << 20


class VolumeDisk:
    def __init__(self, store: VolumeStore, source: SnapshotSource, size: int):
        self.store = store
        self.source = source
        self.size = size
        self.unit = store.unit
        self._frozen: set[int] = set()
        self._preserved: dict[int, bytes] = {}

    def _span(self, offset: int, length: int) -> tuple[int, int]:
        return offset // self.unit, (offset + length - 1) // self.unit

    def ready(self, offset: int, length: int) -> bool:
        """Whether a read of this range can be served without waiting on the snapshot chain."""
        return self.store.written.all_in(*self._span(offset, length)) or self.source.cached(offset, length)

    def read(self, offset: int, length: int) -> bytes:
        unit, written = self.unit, self.store.written
        first, last = self._span(offset, length)
        parts = []
        start, local = first, written.test(first)
        for n in range(first + 1, last + 2):
            here = n <= last and written.test(n)
            if n > last or here != local:
                a, b = start * unit, n * unit
                parts.append(self.store.pread(a, b - a) if local else self._first_read(a, b - a))
                start, local = n, here
        skip = offset - first * unit
        return b"".join(parts)[skip : skip + length]

    def _first_read(self, offset: int, length: int) -> bytes:
        """Read from the snapshot, keeping its blocks in the store so that the next read is local.

        Blocks the snapshot does not have stay unwritten (they read as zeros
        at no cost, and the data file stays sparse).
        """
        for index in range(offset // BLOCK_SIZE, (offset + length - 1) // BLOCK_SIZE + 1):
            block = self.source.block(index)
            if block is not ZERO_BLOCK:
                self.store.fill(index * BLOCK_SIZE, block)
        return self.source.read(offset, length)

    def aligned(self, offset: int, length: int) -> bool:
        return offset % self.unit == 0 and length % self.unit == 0

    def write(self, offset: int, data: bytes) -> None:
        unit = self.unit
        if not self.aligned(offset, len(data)):
            start = offset - offset % unit
            end = -(-(offset + len(data)) // unit) * unit
            merged = bytearray(self.read(start, unit))
            if end - start > unit:
                merged += bytes(end - start - 2 * unit) + self.read(end - unit, unit)
            merged[offset - start : offset - start + len(data)] = data
            offset, data = start, bytes(merged)
        with self.store.lock:
            if self._frozen:
                for n in range(offset // unit, (offset + len(data)) // unit):
                    if n in self._frozen and n not in self._preserved:
                        self._preserved[n] = self.store.pread(n * unit, unit)
            self.store.pwrite(offset, data)

    def zero(self, offset: int, length: int) -> None:
        """WRITE_ZEROES and TRIM: the range reads as zeros afterwards (TRIM may discard; zeros are a valid answer)."""
        end = offset + length
        while offset < end:
            take = min(ZERO_CHUNK - offset % ZERO_CHUNK, end - offset)
            self.write(offset, bytes(take))
            offset += take

    def flush(self) -> None:
        self.store.flush()

    # ---- snapshots -----------------------------------------------------

    def freeze(self) -> list[int]:
        """The sub-blocks changed since the last snapshot; writes after this belong to the next one."""

        def on_frozen(numbers: list[int]) -> None:
            self._frozen = set(numbers)

        return self.store.freeze(on_frozen)

    def frozen_read(self, offset: int, length: int) -> bytes:
        """Frozen content of whole sub-blocks (all frozen ones are in the store: changed implies written)."""
        unit = self.unit
        with self.store.lock:
            return b"".join(
                self._preserved.get(n) or self.store.pread(n * unit, unit)
                for n in range(offset // unit, (offset + length) // unit)
            )

    def release(self, recorded: bool, frozen: list[int]) -> None:
        with self.store.lock:
            self._frozen = set()
            self._preserved = {}
        self.store.release(recorded, frozen)

    def close(self) -> None:
        self.store.close()
