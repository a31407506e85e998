"""Manifests in the block store, with a bounded cache of hot pages.

Pages are immutable once written, so a cached page never goes stale and the
cache needs no invalidation; it is bounded by page count so that a process
serving many snapshots keeps a flat memory profile. A cold process reads one
page per tree level to answer its first GetSnapshotBlock: at most 4, and 2
for manifests of up to roughly 65,000 blocks (docs/manifest.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..domain import keys
from ..domain.errors import ObjectNotFound
from ..domain.manifest import Entry, Manifest, build, decode_page
from .cache import BoundedCache
from ..ports import BlockStore

DEFAULT_CACHE_PAGES = 4096
_WRITERS = 16


class ManifestStore:
    def __init__(self, blocks: BlockStore, cache_pages: int = DEFAULT_CACHE_PAGES):
        self._blocks = blocks
        self._cache: BoundedCache[dict] = BoundedCache(cache_pages)
        self.page_reads = 0  # pages read from the store (not the cache): benchmarks/scale.py counts them

    def load_page(self, key: str) -> dict:
        page = self._cache.get(key)
        if page is None:
            page = decode_page(self._blocks.get(key))
            self.page_reads += 1
            self._cache.put(key, page)
        return page

    def open(self, snapshot_id: str) -> Manifest:
        return Manifest(keys.manifest_root_key(snapshot_id), self.load_page)

    def exists(self, snapshot_id: str) -> bool:
        try:
            self.load_page(keys.manifest_root_key(snapshot_id))
        except ObjectNotFound:
            return False
        return True

    def seal(self, snapshot_id: str, parent_id: str | None, changes: dict[int, Entry]) -> int:
        """Write the snapshot's manifest pages, root last; return the bytes written.

        Only the root's order matters (a manifest exists once its root does),
        so the other pages are written concurrently: a seal of changes spread
        over a large manifest rewrites up to one page per change and level, and
        one durable write (an fsync, or an S3 PUT) at a time would make its
        cost the sum of their latencies.
        """
        parent = self.open(parent_id) if parent_id else None
        pages = build(snapshot_id, parent, changes, self.load_page)
        *body, (root_key, root) = pages
        if len(body) > 1:
            with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
                list(pool.map(lambda page: self._blocks.put(*page), body))
        else:
            for key, data in body:
                self._blocks.put(key, data)
        self._blocks.put(root_key, root)
        return sum(len(data) for _, data in pages)

    def drop_cache(self) -> None:
        self._cache.clear()
