"""The radix manifest against a naive dictionary model (hypothesis)."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given, settings, strategies as st

from chalicelib.domain import keys
from chalicelib.domain.manifest import INDEX_LIMIT, Entry, Manifest, build, decode_page, diff


def snap_id(n: int) -> str:
    return f"snap-{n:017x}"


def entry(index: int, writer: str, salt: int = 0) -> Entry:
    digest = base64.b64encode(hashlib.sha256(f"{writer}/{index}/{salt}".encode()).digest()).decode()
    return Entry(index, writer, digest, keys.block_key(writer, index, digest))


class Store:
    """An in-memory page store that counts reads."""

    def __init__(self):
        self.pages: dict[str, bytes] = {}
        self.reads = 0

    def load(self, key: str) -> dict:
        self.reads += 1
        return decode_page(self.pages[key])

    def seal(self, sid: str, parent: str | None, changes: dict[int, Entry]) -> tuple[Manifest, int]:
        parent_manifest = Manifest(keys.manifest_root_key(parent), self.load) if parent else None
        pages = build(sid, parent_manifest, changes, self.load)
        for k, v in pages:
            assert k not in self.pages, "pages are immutable"
            self.pages[k] = v
        return Manifest(keys.manifest_root_key(sid), self.load), sum(len(v) for _, v in pages)


indexes = st.one_of(st.integers(0, 3000), st.integers(0, INDEX_LIMIT - 1))
chains = st.lists(st.sets(indexes, max_size=40), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(chains, st.data())
def test_chain_lookup_list_and_diff_match_a_dictionary_model(chain, data):
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


def test_lookup_reads_three_pages_at_any_depth():
    store = Store()
    parent = None
    for n in range(200):
        sid = snap_id(n)
        store.seal(sid, parent, {n * 1000 % 5000: entry(n * 1000 % 5000, sid), 7: entry(7, sid)})
        parent = sid
    store.reads = 0
    deep = Manifest(keys.manifest_root_key(parent), store.load)
    assert deep.lookup(0) is not None
    assert store.reads == 3


def test_seal_cost_is_flat_in_chain_depth_and_volume_spread():
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
    assert max(sizes) == min(sizes), "one changed block writes one leaf, one level-1 page and a root"


def test_diff_skips_shared_pages_without_reading_them():
    store = Store()
    base = {i: entry(i, snap_id(0)) for i in range(0, 1_000_000, 13)}
    store.seal(snap_id(0), None, base)
    store.seal(snap_id(1), snap_id(0), {500_000: entry(500_000, snap_id(1))})
    store.reads = 0
    changes = list(diff(Manifest(keys.manifest_root_key(snap_id(0)), store.load),
                        Manifest(keys.manifest_root_key(snap_id(1)), store.load)))
    assert [i for i, _, _ in changes] == [500_000]
    assert store.reads <= 6


def test_cold_lookup_in_a_large_manifest_reads_three_small_pages():
    """A new process answers its first lookup without loading the manifest (issue: cold start)."""
    store = Store()
    sid = snap_id(1)
    store.seal(sid, None, {i: entry(i, sid) for i in range(0, 2 * 300_000, 2)})
    total = sum(len(v) for v in store.pages.values())
    read: list[int] = []
    cold = Manifest(keys.manifest_root_key(sid), lambda k: (read.append(len(store.pages[k])), decode_page(store.pages[k]))[1])
    assert cold.lookup(424_242) == entry(424_242, sid)
    assert len(read) == 3 and sum(read) < total / 100
