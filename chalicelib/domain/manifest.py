"""The manifest: where every block of a sealed snapshot lives.

Format (documented for users in ``docs/manifest.md``): a copy-on-write search
tree whose page boundaries are chosen by the block indexes themselves, as in a
Merkle search tree (Auvolat and Taïani, 2019) or the prolly trees of Noms and
Dolt. Every index has a *rank* drawn from a fixed hash of the index: rank r
with probability 255/256 · 256^-r, capped at :data:`MAX_RANK`. A page at level
L ends after an item whose index has rank > L, so pages hold about 256 items
whatever the volume's size or sparsity, and the tree is at most
``MAX_RANK + 1`` levels high.

A fixed radix tree (a leaf per 256 index slots) would be simpler, but on a
sparse 64 TiB volume every written block sits alone in its leaf: a snapshot
of 1,000 scattered changes would write some 1,500 tiny pages where a dense
1 GiB volume writes ten. Boundaries taken from the indexes keep seal, diff and
lookup costs the same for both.

Why this shape:

* The structure depends only on the *set* of indexes, not on the order they
  were written in: the same entries always give the same pages, so
  ``blocksnap rebuild`` is byte-exact and equal page keys mean equal content.
* Snapshots only ever add indexes, so every page boundary of the parent stays
  a boundary of the child. Sealing therefore rewrites exactly the pages whose
  range holds a change (each split where a new index of higher rank lands),
  their ancestors and the root; every other page is shared by reference.
* A lookup reads one page per level, never the parents' manifests.
* A diff walks both trees in index order and skips every page that the two
  share without reading it, so it costs in proportion to what changed.

It is one module, over the usual size, because the page format, the builder,
the lookup and the diff are one invariant (where a page ends) and are only
safe to change together.
"""

from __future__ import annotations

import bisect
import json
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from . import keys

INDEX_LIMIT = 1 << 27  # block slots of a 64 TiB volume
RANK_BITS = 8  # pages hold 2^8 = 256 items on average
MAX_RANK = 3  # so a tree has at most 4 levels: 256^3 leaves cover any volume
_MASK64 = (1 << 64) - 1

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


@dataclass(frozen=True)
class Ref:
    """A child page: the first and last index it holds, and its key."""

    first: int
    last: int
    key: str


def rank(index: int) -> int:
    """How many levels an index's page boundary reaches (splitmix64's finalizer, fixed forever)."""
    x = (index + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    r = 0
    while r < MAX_RANK and x & ((1 << RANK_BITS) - 1) == 0:
        r += 1
        x >>= RANK_BITS
    return r


# The short forms of an entry whose key follows from its other fields:
# [index, writer, digest] for a per-snapshot block, [index, writer, digest, 0] for a shared blob.
_BLOB = 0


def _encode_entry(e: Entry) -> list:
    if not e.parts and e.key is not None:
        if e.key == keys.block_key(e.writer, e.index, e.digest):
            return [e.index, e.writer, e.digest]
        if e.key == keys.blob_key(e.digest):
            return [e.index, e.writer, e.digest, _BLOB]
    return [e.index, e.writer, e.digest, e.key, [[p.offset, p.length, p.key] for p in e.parts]]


def _decode_entry(row: list) -> Entry:
    if len(row) == 3:
        return Entry(row[0], row[1], row[2], keys.block_key(row[1], row[0], row[2]))
    if len(row) == 4:
        return Entry(row[0], row[1], row[2], keys.blob_key(row[2]))
    return Entry(row[0], row[1], row[2], row[3], tuple(Part(o, n, k) for o, n, k in row[4]))


def encode_page(page: dict) -> bytes:
    return json.dumps(page, separators=(",", ":"), sort_keys=True).encode("utf-8")


def decode_page(data: bytes) -> dict:
    return json.loads(data)


def _refs(page: dict) -> list[Ref]:
    return [Ref(*row) for row in page["c"]]


def _entries(page: dict) -> list[Entry]:
    return [_decode_entry(row) for row in page["e"]]


def _route(lasts: Sequence[int], index: int) -> int:
    """The child whose range holds ``index``: the first whose last is >= it; the last child is open-ended."""
    return min(bisect.bisect_left(lasts, index), len(lasts) - 1)


class Manifest:
    """Read access to one sealed manifest through a (cached) page loader."""

    def __init__(self, root_key: str, load: PageLoader):
        self.root_key = root_key
        self._load = load

    def root(self) -> dict:
        return self._load(self.root_key)

    def height(self) -> int:
        return self.root()["l"] + 1

    def lookup(self, index: int) -> Entry | None:
        """One page read and one binary search per level; only the one entry is decoded."""
        page = self.root()
        while page["l"] > 0:
            rows = page["c"]
            at = _route([row[1] for row in rows], index)
            if index < rows[at][0]:
                return None  # between two children: never written
            page = self._load(rows[at][2])
        rows = page["e"]
        at = bisect.bisect_left(rows, index, key=lambda row: row[0])
        return _decode_entry(rows[at]) if at < len(rows) and rows[at][0] == index else None

    def entries(self, start: int = 0) -> Iterator[Entry]:
        """Entries with index >= start, ascending; pages wholly before start are not read."""
        return _walk(self._load, self.root(), start)

    def pages(self, seen: set[str]) -> Iterator[tuple[str, list[Entry]]]:
        """Every page key of the tree not in ``seen`` (added as it goes), with a leaf's entries.

        A page's key names the one subtree it roots (pages are immutable), so
        a page already seen is skipped with everything under it: walking every
        snapshot of a chain costs the pages they wrote, not their trees' sizes.
        """
        stack = [self.root_key]
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            page = self._load(key)
            if page["l"] == 0:
                yield key, _entries(page)
            else:
                yield key, []
                stack.extend(ref.key for ref in _refs(page))


def _walk(load: PageLoader, page: dict, start: int) -> Iterator[Entry]:
    if page["l"] == 0:
        yield from (e for e in _entries(page) if e.index >= start)
        return
    for ref in _refs(page):
        if ref.last >= start:
            yield from _walk(load, load(ref.key), start)


Change = tuple[int, "Entry | None", "Entry | None"]
_ENTRY = -1  # the level of a frontier node that is an entry rather than a page


def diff(first: Manifest, second: Manifest, start: int = 0) -> Iterator[Change]:
    """(index, entry in first, entry in second) for every index whose entries differ.

    Each side is a frontier of pages and entries in index order. When both
    fronts are the same page, everything before it has been compared on both
    sides and its content is equal, so it is dropped unread. Otherwise the
    front that starts first is opened (on a tie the higher page), or, when
    both fronts are entries, they are compared.
    """
    sides = [deque([(-1, MAX_RANK + 1, first.root_key)]), deque([(-1, MAX_RANK + 1, second.root_key)])]
    loads = (first._load, second._load)

    def open_front(side: int) -> None:
        _, _, key = sides[side].popleft()
        page = loads[side](key)
        if page["l"] == 0:
            nodes = [(e.index, _ENTRY, e) for e in _entries(page) if e.index >= start]
        else:
            nodes = [(r.first, page["l"] - 1, r.key) for r in _refs(page) if r.last >= start]
        sides[side].extendleft(reversed(nodes))

    a, b = sides
    while a and b:
        (ia, la, pa), (ib, lb, pb) = a[0], b[0]
        if la == lb == _ENTRY:
            if ia <= ib:
                a.popleft()
            if ib <= ia:
                b.popleft()
            if ia < ib:
                yield ia, pa, None
            elif ib < ia:
                yield ib, None, pb
            elif pa != pb:
                yield ia, pa, pb
        elif la >= 0 and lb >= 0 and pa == pb:
            a.popleft()
            b.popleft()
        elif ia < ib or (ia == ib and la >= lb):
            if la == _ENTRY:
                a.popleft()
                yield ia, pa, None
            else:
                open_front(0)
        elif lb == _ENTRY:
            b.popleft()
            yield ib, None, pb
        else:
            open_front(1)
    for side, rest in enumerate(sides):
        while rest:
            index, level, payload = rest[0]
            if level != _ENTRY:
                open_front(side)
                continue
            rest.popleft()
            yield (index, payload, None) if side == 0 else (index, None, payload)


def _chunks(items: list, level: int, index_of: Callable) -> list[list]:
    """Cut a level's items into pages: a page ends after an item whose index has rank > level."""
    pages, current = [], []
    for item in items:
        current.append(item)
        if rank(index_of(item)) > level:
            pages.append(current)
            current = []
    if current or not pages:
        pages.append(current)
    return pages


class _Builder:
    """Rewrites the pages of a parent manifest that hold changes; collects the new pages."""

    def __init__(self, snapshot_id: str, load: PageLoader):
        self.snapshot_id = snapshot_id
        self.load = load
        self.pages: list[tuple[str, bytes]] = []

    def update(self, page: dict, changes: list[Entry]) -> list:
        """The page's items with ``changes`` (sorted, all in its range) applied below it."""
        if page["l"] == 0:
            merged = {e.index: e for e in _entries(page)}
            merged.update((e.index, e) for e in changes)
            return [merged[i] for i in sorted(merged)]
        refs = _refs(page)
        lasts = [r.last for r in refs]
        routed: dict[int, list[Entry]] = {}
        for e in changes:
            routed.setdefault(_route(lasts, e.index), []).append(e)
        items: list[Ref] = []
        for at, ref in enumerate(refs):
            if at not in routed:
                items.append(ref)
                continue
            below = self.update(self.load(ref.key), routed[at])
            items.extend(self.write_level(below, page["l"] - 1))
        return items

    def write_level(self, items: list, level: int) -> list[Ref]:
        """Write ``items`` as pages of ``level``; return the references to them."""
        return self._write_pages(_chunks(items, level, _index_of(level)), level)

    def _write_pages(self, chunks: list[list], level: int) -> list[Ref]:
        refs = []
        for chunk in chunks:
            first, last = _span(chunk, level)
            key = keys.manifest_page_key(self.snapshot_id, level, first)
            self.pages.append((key, encode_page(_page(chunk, level))))
            refs.append(Ref(first, last, key))
        return refs

    def write_root(self, items: list, level: int) -> None:
        """Grow the tree while a level still needs more than one page; the last page is the root.

        Each level is cut once: ranks are hashed per item, and a first seal
        cuts every entry of the volume.
        """
        chunks = _chunks(items, level, _index_of(level))
        while len(chunks) > 1:
            level += 1
            refs = self._write_pages(chunks, level - 1)
            chunks = _chunks(refs, level, _index_of(level))
        self.pages.append((keys.manifest_root_key(self.snapshot_id), encode_page(_page(chunks[0], level))))


def _index_of(level: int) -> Callable:
    return (lambda e: e.index) if level == 0 else (lambda r: r.last)


def _span(items: list, level: int) -> tuple[int, int]:
    if level == 0:
        return items[0].index, items[-1].index
    return items[0].first, items[-1].last


def _page(items: list, level: int) -> dict:
    if level == 0:
        return {"l": 0, "e": [_encode_entry(e) for e in items]}
    return {"l": level, "c": [[r.first, r.last, r.key] for r in items]}


def build(
    snapshot_id: str,
    parent: Manifest | None,
    changes: dict[int, Entry],
    load: PageLoader,
) -> list[tuple[str, bytes]]:
    """The pages to write to seal ``snapshot_id``, children before parents, root last.

    Writing the root last makes a seal atomic for readers: a manifest exists
    once its root exists, and every page it points to was written before it.
    """
    for index in changes:
        if not 0 <= index < INDEX_LIMIT:
            raise ValueError(f"block index {index} outside the manifest's range")
    root = parent.root() if parent else {"l": 0, "e": []}
    builder = _Builder(snapshot_id, load)
    items = builder.update(root, [changes[i] for i in sorted(changes)])
    builder.write_root(items, root["l"])
    return builder.pages
