"""Folding a snapshot's block-write events into its final manifest entries.

Writes to one index are ordered by their ``seq`` (the optimistic-concurrency
counter of that index); the last full write replaces the block, and sub-block
writes lay their range over whatever the block was before them — an earlier
write in this snapshot, the parent chain's entry, or zeros. Entries stay flat
(one base object plus parts) so that a read never walks up the parents.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .events import BlockWritten, SubBlockWritten
from .manifest import Entry, Part

BlockEvent = BlockWritten | SubBlockWritten


def apply_write(previous: Entry | None, event: BlockEvent) -> Entry:
    if isinstance(event, BlockWritten):
        return Entry(event.index, event.snapshot_id, event.digest, event.key)
    new = Part(event.offset, event.length, event.key)
    base_key = previous.key if previous is not None else None
    kept = tuple(
        p
        for p in (previous.parts if previous is not None else ())
        if not (new.offset <= p.offset and p.offset + p.length <= new.offset + new.length)
    )
    return Entry(event.index, event.snapshot_id, event.merged_digest, base_key, kept + (new,))


def fold_writes(
    events: Iterable[BlockEvent],
    inherited: Callable[[int], Entry | None],
) -> dict[int, Entry]:
    """index -> final entry for every index written; ``inherited`` looks up the parent chain."""
    by_index: dict[int, list[BlockEvent]] = {}
    for event in events:
        by_index.setdefault(event.index, []).append(event)
    entries: dict[int, Entry] = {}
    for index, writes in by_index.items():
        entry = None
        needs_base = any(isinstance(w, SubBlockWritten) for w in writes)
        if needs_base:
            entry = inherited(index)
        for write in sorted(writes, key=lambda w: w.seq):
            entry = apply_write(entry, write)
        assert entry is not None
        entries[index] = entry
    return entries
