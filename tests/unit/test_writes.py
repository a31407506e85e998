"""Folding block writes, including sub-block overlays, into manifest entries."""

from hypothesis import given, settings, strategies as st

from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.core.blockio import BlockIO
from chalicelib.domain.checksums import sha256_b64
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


BLOCK = 524288
UNIT = 65536


writes = st.lists(
    st.one_of(
        st.tuples(st.just("full"), st.integers(0, 255)),
        st.tuples(st.just("sub"), st.integers(0, BLOCK // UNIT - 1), st.integers(1, 3), st.integers(0, 255)),
    ),
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.none(), st.integers(0, 255)), writes)
def test_folded_entry_reads_back_as_the_naive_byte_model(inherited_fill, ops):
    """Any mix of full and sub-block writes over an inherited or absent block reads back like a bytearray."""
    store = MemoryBlockStore()
    io = BlockIO(store)
    model = bytearray(BLOCK)
    inherited = None
    if inherited_fill is not None:
        model = bytearray([inherited_fill]) * BLOCK
        store.put("parent", bytes(model))
        inherited = Entry(4, P, sha256_b64(bytes(model)), "parent")
    events = []
    for seq, op in enumerate(ops):
        if op[0] == "full":
            model = bytearray([op[1]]) * BLOCK
            key = f"full-{seq}"
            store.put(key, bytes(model))
            events.append(BlockWritten(S, 4, seq, sha256_b64(bytes(model)), key, 0.0))
        else:
            _, slot, units, fill = op
            offset, length = slot * UNIT, min(units * UNIT, BLOCK - slot * UNIT)
            model[offset : offset + length] = bytes([fill]) * length
            key = f"sub-{seq}"
            store.put(key, bytes([fill]) * length)
            events.append(SubBlockWritten(S, 4, seq, offset, length, "x", key, sha256_b64(bytes(model)), 0.0))
    if not events:
        return
    entry = fold_writes(events, lambda i: inherited)[4]
    assert io.read(entry) == bytes(model)
