"""Folding block writes, including sub-block overlays, into manifest entries."""

from chalicelib.domain.events import BlockWritten, SubBlockWritten
from chalicelib.domain.manifest import Entry, Part
from chalicelib.domain.writes import fold_writes

S = "snap-00000000000000001"
P = "snap-00000000000000002"


def full(index, seq, digest="d"):
    return BlockWritten(S, index, seq, digest, f"k-{index}-{seq}", 0.0)


def sub(index, seq, offset, length, merged="m"):
    return SubBlockWritten(S, index, seq, offset, length, "x", f"s-{index}-{seq}", merged, 0.0)


def test_last_full_write_wins_whatever_the_arrival_order():
    entries = fold_writes([full(1, 2, "c"), full(1, 0, "a"), full(1, 1, "b")], lambda i: None)
    assert entries == {1: Entry(1, S, "c", "k-1-2")}


def test_sub_blocks_overlay_the_inherited_block_and_later_full_write_replaces_them():
    inherited = Entry(4, P, "p", "parent-key")
    entries = fold_writes([sub(4, 0, 0, 4096), sub(4, 1, 8192, 4096, "m2")], lambda i: inherited)
    assert entries[4] == Entry(4, S, "m2", "parent-key", (Part(0, 4096, "s-4-0"), Part(8192, 4096, "s-4-1")))
    entries = fold_writes([sub(4, 0, 0, 4096), full(4, 1, "f")], lambda i: inherited)
    assert entries[4] == Entry(4, S, "f", "k-4-1")


def test_covering_sub_block_drops_the_parts_it_hides_and_never_written_blocks_have_a_zero_base():
    entries = fold_writes([sub(2, 0, 4096, 4096), sub(2, 1, 0, 16384, "m")], lambda i: None)
    assert entries[2] == Entry(2, S, "m", None, (Part(0, 16384, "s-2-1"),))
