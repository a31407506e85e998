"""The manifest: where every block of a sealed snapshot lives.

Format (documented for users in ``docs/manifest.md``): a fixed-depth radix
tree over the 27-bit block index space of a 64 TiB volume.

=====  ==================  =================================================
level  covers              page content
=====  ==================  =================================================
2      the whole volume    root: up to 512 children, one per 2^18 indexes
1      2^18 indexes        up to 1024 children, one per 256 indexes
0      256 indexes         leaf: the entries, sorted by index
=====  ==================  =================================================

Pages are immutable JSON objects in the block store, keyed by the snapshot that
wrote them (:mod:`.keys`). Sealing a snapshot copies on write: only the leaves
holding its k changed blocks, their level-1 parents and the root are written;
every other page is shared with the parent by reference. So, whatever the
chain depth and the volume size:

* sealing costs O(k) pages (at most 3 per changed leaf), never O(N);
* a lookup reads exactly three pages (root, level 1, leaf), never the parents;
* a diff walks both trees and skips every subtree whose page key is equal on
  both sides without reading it, so it costs in proportion to what changed.

Sparse volumes cost nothing for their holes: absent children are simply not
listed. The depth is fixed rather than a B-tree's so that the same content
always gives the same structure, which keeps ``blocksnap rebuild`` byte-exact.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Callable, Iterator

from . import keys

LEAF_BITS = 8
MID_BITS = 10
ROOT_BITS = 9
LEAF_SPAN = 1 << LEAF_BITS
MID_SPAN = 1 << (LEAF_BITS + MID_BITS)
INDEX_LIMIT = 1 << (LEAF_BITS + MID_BITS + ROOT_BITS)

PageLoader = Callable[[str], dict]


@dataclass(frozen=True)
class Part:
    """A sub-block range overlaid on an entry's base content."""

    offset: int
    length: int
    key: str


@dataclass(frozen=True)
class Entry:
    """One block of a snapshot.

    ``writer`` is the snapshot that last wrote it and ``digest`` the base64
    SHA-256 of its full 512 KiB content. ``key`` is the full-block object (None
    means a zero base, for sub-blocks written on a never-written block);
    ``parts`` are sub-block ranges laid over it in write order.
    """

    index: int
    writer: str
    digest: str
    key: str | None
    parts: tuple[Part, ...] = ()


def _encode_entry(e: Entry) -> list:
    low = e.index & (LEAF_SPAN - 1)
    if not e.parts and e.key is not None and e.key == keys.block_key(e.writer, e.index, e.digest):
        return [low, e.writer, e.digest]
    return [low, e.writer, e.digest, e.key, [[p.offset, p.length, p.key] for p in e.parts]]


def _decode_entry(prefix: int, row: list) -> Entry:
    index = (prefix << LEAF_BITS) | row[0]
    if len(row) == 3:
        return Entry(index, row[1], row[2], keys.block_key(row[1], index, row[2]))
    parts = tuple(Part(o, n, k) for o, n, k in row[4])
    return Entry(index, row[1], row[2], row[3], parts)


def encode_page(page: dict) -> bytes:
    return json.dumps(page, separators=(",", ":"), sort_keys=True).encode("utf-8")


def decode_page(data: bytes) -> dict:
    return json.loads(data)


def _find(rows: list, slot: int) -> list | None:
    """The row whose first member is ``slot`` in a page's sorted rows, or None."""
    at = bisect.bisect_left(rows, slot, key=lambda row: row[0])
    return rows[at] if at < len(rows) and rows[at][0] == slot else None


def _children(page: dict | None) -> dict[int, str]:
    return {} if page is None else {slot: key for slot, key in page["c"]}


def _leaf_entries(page: dict | None) -> dict[int, Entry]:
    if page is None:
        return {}
    prefix = page["p"]
    return {row[0]: _decode_entry(prefix, row) for row in page["e"]}


class Manifest:
    """Read access to one sealed manifest through a (cached) page loader."""

    def __init__(self, root_key: str, load: PageLoader):
        self.root_key = root_key
        self._load = load

    def root(self) -> dict:
        return self._load(self.root_key)

    def lookup(self, index: int) -> Entry | None:
        """Three page reads and three binary searches; only the one entry is decoded."""
        if not 0 <= index < INDEX_LIMIT:
            return None
        mid_key = _find(self.root()["c"], index >> (LEAF_BITS + MID_BITS))
        if mid_key is None:
            return None
        leaf_key = _find(self._load(mid_key[1])["c"], (index >> LEAF_BITS) & ((1 << MID_BITS) - 1))
        if leaf_key is None:
            return None
        leaf = self._load(leaf_key[1])
        row = _find(leaf["e"], index & (LEAF_SPAN - 1))
        return None if row is None else _decode_entry(leaf["p"], row)

    def entries(self, start: int = 0) -> Iterator[Entry]:
        """Entries with index >= start, ascending; pages before start are not read."""
        for root_slot, mid_key in sorted(_children(self.root()).items()):
            if (root_slot + 1) * MID_SPAN <= start:
                continue
            for mid_slot, leaf_key in sorted(_children(self._load(mid_key)).items()):
                leaf_prefix = (root_slot << MID_BITS) | mid_slot
                if (leaf_prefix + 1) * LEAF_SPAN <= start:
                    continue
                for _, entry in sorted(_leaf_entries(self._load(leaf_key)).items()):
                    if entry.index >= start:
                        yield entry


Change = tuple[int, "Entry | None", "Entry | None"]


def diff(first: Manifest, second: Manifest, start: int = 0) -> Iterator[Change]:
    """(index, entry in first, entry in second) for every index whose entries differ.

    Subtrees with the same page key on both sides are shared, hence equal,
    and are skipped without being read.
    """
    load_a, load_b = first._load, second._load
    roots_a, roots_b = _children(first.root()), _children(second.root())
    for root_slot in sorted(set(roots_a) | set(roots_b)):
        ka, kb = roots_a.get(root_slot), roots_b.get(root_slot)
        if ka == kb or (root_slot + 1) * MID_SPAN <= start:
            continue
        mids_a = _children(load_a(ka)) if ka else {}
        mids_b = _children(load_b(kb)) if kb else {}
        for mid_slot in sorted(set(mids_a) | set(mids_b)):
            la, lb = mids_a.get(mid_slot), mids_b.get(mid_slot)
            leaf_prefix = (root_slot << MID_BITS) | mid_slot
            if la == lb or (leaf_prefix + 1) * LEAF_SPAN <= start:
                continue
            ea = _leaf_entries(load_a(la)) if la else {}
            eb = _leaf_entries(load_b(lb)) if lb else {}
            for low in sorted(set(ea) | set(eb)):
                a, b = ea.get(low), eb.get(low)
                index = (leaf_prefix << LEAF_BITS) | low
                if a != b and index >= start:
                    yield index, a, b


def build(
    snapshot_id: str,
    parent: Manifest | None,
    changes: dict[int, Entry],
    load: PageLoader,
) -> list[tuple[str, bytes]]:
    """The pages to write to seal ``snapshot_id``: changed leaves, their parents, root last.

    Writing the root last makes a seal atomic for readers: a manifest exists
    once its root exists, and every page it points to was written before it.
    """
    root_children = _children(parent.root()) if parent else {}
    grouped: dict[int, dict[int, dict[int, Entry]]] = {}
    for index, entry in changes.items():
        if not 0 <= index < INDEX_LIMIT:
            raise ValueError(f"block index {index} outside the manifest's range")
        root_slot = index >> (LEAF_BITS + MID_BITS)
        leaf_prefix = index >> LEAF_BITS
        grouped.setdefault(root_slot, {}).setdefault(leaf_prefix, {})[index & (LEAF_SPAN - 1)] = entry

    pages: list[tuple[str, bytes]] = []
    for root_slot in sorted(grouped):
        parent_mid_key = root_children.get(root_slot)
        mid_children = _children(load(parent_mid_key)) if parent_mid_key else {}
        for leaf_prefix in sorted(grouped[root_slot]):
            mid_slot = leaf_prefix & ((1 << MID_BITS) - 1)
            parent_leaf_key = mid_children.get(mid_slot)
            entries = _leaf_entries(load(parent_leaf_key)) if parent_leaf_key else {}
            entries.update(grouped[root_slot][leaf_prefix])
            leaf = {"l": 0, "p": leaf_prefix, "e": [_encode_entry(entries[k]) for k in sorted(entries)]}
            leaf_key = keys.manifest_page_key(snapshot_id, 0, leaf_prefix)
            pages.append((leaf_key, encode_page(leaf)))
            mid_children[mid_slot] = leaf_key
        mid = {"l": 1, "p": root_slot, "c": [[s, mid_children[s]] for s in sorted(mid_children)]}
        mid_key = keys.manifest_page_key(snapshot_id, 1, root_slot)
        pages.append((mid_key, encode_page(mid)))
        root_children[root_slot] = mid_key
    root = {"l": 2, "p": 0, "c": [[s, root_children[s]] for s in sorted(root_children)]}
    pages.append((keys.manifest_root_key(snapshot_id), encode_page(root)))
    return pages
