"""A volume's disk over its local store and its snapshot: sub-block writes, durability, freezing."""

from chalicelib.core.blockio import ZERO_BLOCK
from chalicelib.domain.snapshot import BLOCK_SIZE
from chalicelib.volumes.disk import VolumeDisk
from chalicelib.volumes.store import Bitmap, VolumeStore

UNIT = 4096
SIZE = 4 << 20


def content(offset, length):
    """The snapshot's bytes: byte ``i`` is ``i % 251``, except the last block, which it does not have."""
    return bytes((i % 251) if i < SIZE - BLOCK_SIZE else 0 for i in range(offset, offset + length))


class FakeSource:
    """The snapshot, counting the blocks read from it."""

    def __init__(self):
        self.blocks_read = 0

    def cached(self, offset, length):
        return False

    def block(self, index):
        if index == SIZE // BLOCK_SIZE - 1:
            return ZERO_BLOCK
        self.blocks_read += 1
        return content(index * BLOCK_SIZE, BLOCK_SIZE)

    def read(self, offset, length):
        return content(offset, length)


def open_disk(root, source=None):
    return VolumeDisk(VolumeStore(root, SIZE, UNIT), source or FakeSource(), SIZE)


def test_unread_bytes_come_from_the_snapshot_and_an_unaligned_write_keeps_the_rest_of_its_sub_blocks(tmp_path):
    disk = open_disk(tmp_path / "v")
    assert disk.read(10_000, 50) == bytes(i % 251 for i in range(10_000, 10_050))
    disk.write(4000, b"\xff" * 200)  # straddles sub-blocks 0 and 1
    expected = bytearray(content(0, 3 * UNIT))
    expected[4000:4200] = b"\xff" * 200
    assert disk.read(0, 3 * UNIT) == bytes(expected)
    assert disk.store.changed.numbers() == [0, 1]


def test_a_block_read_once_is_kept_in_the_store_and_is_no_change(tmp_path):
    source = FakeSource()
    disk = VolumeDisk(VolumeStore(tmp_path / "v", SIZE, UNIT), source, SIZE)
    assert disk.read(BLOCK_SIZE + 100, 10) == content(BLOCK_SIZE + 100, 10)
    assert disk.read(BLOCK_SIZE + 9000, 5000) == content(BLOCK_SIZE + 9000, 5000)
    assert source.blocks_read == 1
    per_block = BLOCK_SIZE // UNIT
    assert disk.store.written.numbers() == list(range(per_block, 2 * per_block))
    assert disk.store.changed.numbers() == []
    assert disk.read(SIZE - 10, 10) == bytes(10)  # a block the snapshot lacks is not kept
    assert disk.store.written.numbers() == list(range(per_block, 2 * per_block))


def test_only_flushed_writes_survive_a_reopen(tmp_path):
    disk = open_disk(tmp_path / "v")
    disk.write(8 * UNIT, b"\x01" * UNIT)
    disk.flush()
    disk.write(9 * UNIT, b"\x02" * UNIT)  # never flushed: its map bit is not on disk
    disk.close()
    again = open_disk(tmp_path / "v")
    assert again.read(8 * UNIT, UNIT) == b"\x01" * UNIT
    assert again.read(9 * UNIT, UNIT) == content(9 * UNIT, UNIT)
    assert again.store.changed.numbers() == [8]


def test_a_freeze_keeps_the_frozen_content_while_later_writes_go_to_the_next_generation(tmp_path):
    disk = open_disk(tmp_path / "v")
    disk.write(0, b"\x0a" * UNIT)
    disk.write(5 * UNIT, b"\x0b" * UNIT)
    frozen = disk.freeze()
    assert frozen == [0, 5] and disk.store.changed.numbers() == []
    disk.write(0, b"\x0c" * UNIT)  # after the freeze
    assert disk.frozen_read(0, UNIT) == b"\x0a" * UNIT
    assert disk.read(0, UNIT) == b"\x0c" * UNIT
    assert disk.store.changed.numbers() == [0]
    disk.release(True, frozen)
    assert not (tmp_path / "v" / "frozen.map").exists()
    assert disk.store.changed.numbers() == [0]


def test_a_snapshot_that_did_not_complete_gives_its_sub_blocks_back_even_across_a_crash(tmp_path):
    disk = open_disk(tmp_path / "v")
    disk.write(3 * UNIT, b"\x03" * UNIT)
    frozen = disk.freeze()
    disk.write(7 * UNIT, b"\x07" * UNIT)
    disk.release(False, frozen)
    assert disk.store.changed.numbers() == [3, 7]

    disk.write(9 * UNIT, b"\x09" * UNIT)
    disk.freeze()  # the process dies while this snapshot is recorded
    disk.close()
    again = open_disk(tmp_path / "v")
    assert again.store.changed.numbers() == [3, 7, 9]
    assert not (tmp_path / "v" / "frozen.map").exists()


def test_zeroing_reads_back_as_zeros(tmp_path):
    disk = open_disk(tmp_path / "v")
    disk.zero(100, 3 << 20)
    assert disk.read(0, 100) == content(0, 100)
    assert disk.read(100, 3 << 20) == bytes(3 << 20)
    assert disk.read((3 << 20) + 100, 100) == content((3 << 20) + 100, 100)


def test_bit_ranges_set_exactly_their_bits(tmp_path):
    for first, last in [(0, 0), (3, 5), (5, 17), (8, 15), (7, 64), (1, 100)]:
        bits = Bitmap(tmp_path / "map", 128)
        bits.set_range(first, last)
        assert bits.numbers() == list(range(first, last + 1))
