"""The manifest tree against a naive dictionary model (hypothesis), and its costs."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.core.manifest_store import ManifestStore
from chalicelib.domain import keys, manifest
from chalicelib.domain.manifest import INDEX_LIMIT, MAX_RANK, Entry, Manifest, decode_page, diff


def snap_id(n: int) -> str:
    return f"snap-{n:017x}"


def entry(index: int, writer: str, salt: int = 0) -> Entry:
    digest = base64.b64encode(hashlib.sha256(f"{writer}/{index}/{salt}".encode()).digest()).decode()
    return Entry(index, writer, digest, keys.block_key(writer, index, digest))


class Store:
    """The manifest store on the memory block store, with no cache, so that every page read counts."""

    def __init__(self):
        self.blocks = MemoryBlockStore()
        self.manifests = ManifestStore(self.blocks, cache_pages=0)

    def pages(self) -> dict[str, bytes]:
        return {k: self.blocks.get(k) for k in self.blocks.list("")}

    def seal(self, sid: str, parent: str | None, changes: dict[int, Entry]) -> tuple[Manifest, int]:
        assert not list(self.blocks.list(keys.manifest_prefix(sid))), "pages are immutable: one seal per snapshot"
        before = self.pages()
        written = self.manifests.seal(sid, parent, changes)
        assert self.pages().items() >= before.items(), "pages are immutable"
        return self.manifests.open(sid), written


indexes = st.one_of(st.integers(0, 3000), st.integers(0, INDEX_LIMIT - 1))
chains = st.lists(st.sets(indexes, max_size=40), min_size=1, max_size=6)


@pytest.fixture(params=[8, 2], ids=["pages-of-256", "pages-of-4"])
def rank_bits(request, monkeypatch):
    """The real page size, and pages of ~4 items so that small examples build trees 3-4 levels high."""
    monkeypatch.setattr(manifest, "RANK_BITS", request.param)
    return request.param


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chains, st.data())
def test_chain_lookup_list_and_diff_match_a_dictionary_model(rank_bits, chain, data):
    store = Store()
    models: list[dict[int, Entry]] = []
    parents: list[int | None] = []
    manifests: list[Manifest] = []
    for n, written in enumerate(chain):
        parent = data.draw(st.sampled_from([None] + list(range(n)))) if n else None
        sid = snap_id(n)
        model = dict(models[parent]) if parent is not None else {}
        changes = {i: entry(i, sid) for i in written}
        model.update(changes)
        manifest, _ = store.seal(sid, snap_id(parent) if parent is not None else None, changes)
        models.append(model)
        parents.append(parent)
        manifests.append(manifest)
    for manifest, model in zip(manifests, models):
        assert list(manifest.entries()) == [model[i] for i in sorted(model)]
        for i in list(model)[:10]:
            assert manifest.lookup(i) == model[i]
        start = data.draw(indexes)
        assert [e.index for e in manifest.entries(start)] == sorted(i for i in model if i >= start)
    a, b = data.draw(st.integers(0, len(chain) - 1)), data.draw(st.integers(0, len(chain) - 1))
    expected = sorted(i for i in set(models[a]) | set(models[b]) if models[a].get(i) != models[b].get(i))
    assert [i for i, _, _ in diff(manifests[a], manifests[b])] == expected
    for i, ea, eb in diff(manifests[a], manifests[b]):
        assert ea == models[a].get(i) and eb == models[b].get(i)
    start = data.draw(st.one_of(st.sampled_from(expected or [0]), indexes))
    assert [i for i, _, _ in diff(manifests[a], manifests[b], start)] == [i for i in expected if i >= start]


def shape(manifest: Manifest, store: Store) -> list[list[tuple[int, int, int]]]:
    """Per level, top down: each page's (first index, last index, item count)."""
    levels, pages = [], [manifest.root()]
    while pages:
        level = []
        children = []
        for page in pages:
            if page["l"] == 0:
                level.append((page["e"][0][0], page["e"][-1][0], len(page["e"])) if page["e"] else (0, 0, 0))
            else:
                level.append((page["c"][0][0], page["c"][-1][1], len(page["c"])))
                children.extend(decode_page(store.blocks.get(k)) for _, _, k in page["c"])
        levels.append(level)
        pages = children
    return levels


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sets(st.one_of(st.integers(0, 20_000), indexes), max_size=400), min_size=1, max_size=4))
def test_the_tree_depends_only_on_the_set_of_indexes(rank_bits, chain):
    """Sealed incrementally or all at once, the same entries give the same pages (rebuild is byte-exact)."""
    store = Store()
    model: dict[int, Entry] = {}
    parent = None
    for n, written in enumerate(chain):
        sid = snap_id(n)
        changes = {i: entry(i, sid) for i in written}
        model.update(changes)
        incremental, _ = store.seal(sid, parent, changes)
        parent = sid
    whole, _ = store.seal(snap_id(999), None, dict(model))
    assert shape(incremental, store) == shape(whole, store)
    assert list(incremental.entries()) == list(whole.entries())


def deep_chain(store: Store, links: int) -> Manifest:
    base = {i: entry(i, snap_id(0)) for i in range(0, 3_000_000, 29)}
    store.seal(snap_id(0), None, base)
    parent = snap_id(0)
    for n in range(1, links):
        sid = snap_id(n)
        store.seal(sid, parent, {n * 1000 % 5000: entry(n * 1000 % 5000, sid), 7: entry(7, sid)})
        parent = sid
    return store.manifests.open(parent)


def test_lookup_reads_one_page_per_level_at_any_depth():
    store = Store()
    deep = deep_chain(store, 200)
    height = deep.height()
    assert 2 <= height <= MAX_RANK + 1
    for index in (0, 7, 4000, 29 * 50_000, 2_999_999, INDEX_LIMIT - 1):
        store.manifests.page_reads = 0
        deep.lookup(index)
        assert store.manifests.page_reads == height


def test_seal_cost_is_flat_in_chain_depth():
    store = Store()
    base = {i: entry(i, snap_id(0)) for i in range(0, 2_000_000, 97)}
    store.seal(snap_id(0), None, base)
    sizes = []
    parent = snap_id(0)
    for n in range(1, 30):
        sid = snap_id(n)
        _, written = store.seal(sid, parent, {5: entry(5, sid)})
        sizes.append(written)
        parent = sid
    assert max(sizes) == min(sizes), "one changed block rewrites one page per level"


def seal_pages(spread: int) -> tuple[int, int]:
    """(pages, bytes) written by a snapshot changing 1,000 of 2,048 blocks written ``spread`` apart."""
    store = Store()
    positions = [r * spread for r in range(2048)]
    store.seal(snap_id(0), None, {i: entry(i, snap_id(0)) for i in positions})
    before = set(store.pages())
    _, written = store.seal(snap_id(1), snap_id(0), {i: entry(i, snap_id(1)) for i in positions[::2][:1000]})
    return len(set(store.pages()) - before), written


def test_sparse_volumes_write_as_few_pages_as_dense_ones():
    """Pages hold ~256 entries however far apart they are: 64 TiB sparse costs what 1 GiB dense does."""
    dense_pages, dense_bytes = seal_pages(1)
    sparse_pages, sparse_bytes = seal_pages(65_536)
    assert sparse_pages <= 2 * dense_pages <= 40
    assert sparse_bytes <= 1.5 * dense_bytes


def test_diff_skips_shared_pages_without_reading_them():
    store = Store()
    base = {i: entry(i, snap_id(0)) for i in range(0, 1_000_000, 13)}
    first, _ = store.seal(snap_id(0), None, base)
    second, _ = store.seal(snap_id(1), snap_id(0), {500_000: entry(500_000, snap_id(1))})
    store.manifests.page_reads = 0
    changes = list(diff(first, second))
    assert [i for i, _, _ in changes] == [500_000]
    assert store.manifests.page_reads <= 2 * second.height()


def test_cold_lookup_in_a_large_manifest_reads_few_small_pages():
    """A new process answers its first lookup without loading the manifest (issue: cold start)."""
    store = Store()
    sid = snap_id(1)
    store.seal(sid, None, {i: entry(i, sid) for i in range(0, 2 * 300_000, 2)})
    pages = store.pages()
    total = sum(len(v) for v in pages.values())
    read: list[int] = []
    cold = Manifest(keys.manifest_root_key(sid), lambda k: (read.append(len(pages[k])), decode_page(pages[k]))[1])
    assert cold.lookup(424_242) == entry(424_242, sid)
    assert len(read) <= MAX_RANK + 1 and sum(read) < total / 50
