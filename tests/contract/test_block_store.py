"""One contract for every BlockStore: in memory, files embedded, S3 on a moto server."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import time
from abc import ABC, abstractmethod

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from chalicelib.adapters.file_blocks import FileBlockStore
from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.adapters.s3_blocks import S3BlockStore
from chalicelib.domain import keys
from chalicelib.domain.errors import CorruptData, ObjectNotFound
from chalicelib.domain.snapshot import BLOCK_SIZE

SNAP = "snap-0123456789abcdef0"
OTHER = "snap-0123456789abcdef1"


def digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def block_key(snapshot_id: str, index: int, data: bytes = b"") -> str:
    return keys.block_key(snapshot_id, index, digest(data or index.to_bytes(4, "big")))


class BlockStoreContract(ABC):
    """The contract; each adapter's test class subclasses it and builds its store."""

    @abstractmethod
    def make_store(self, tmp_path, request):
        """A fresh, empty store of the adapter under test."""

    @pytest.fixture
    def store(self, tmp_path, request):
        return self.make_store(tmp_path, request)

    def test_put_then_get_returns_the_bytes(self, store):
        data = os.urandom(BLOCK_SIZE)
        key = keys.block_key(SNAP, 5, digest(data))
        store.put(key, data)

        assert store.get(key) == data

    def test_empty_object_round_trips(self, store):
        store.put(keys.manifest_root_key(SNAP), b"")

        assert store.get(keys.manifest_root_key(SNAP)) == b""

    def test_last_put_wins(self, store):
        key = keys.manifest_root_key(SNAP)
        store.put(key, b"first")
        store.put(key, b"second")

        assert store.get(key) == b"second"

    def test_missing_key_raises_object_not_found(self, store):
        with pytest.raises(ObjectNotFound):
            store.get(block_key(SNAP, 1))

    def test_list_is_lexicographic_and_bounded_by_prefix(self, store):
        wanted = [block_key(SNAP, i) for i in (0, 1, 9, 10, 99, 100, 134_217_727)]
        others = [block_key(OTHER, 3), keys.manifest_root_key(SNAP), keys.manifest_page_key(SNAP, 1, 0)]
        for key in random.Random(7).sample(wanted + others, len(wanted + others)):
            store.put(key, b"x")

        assert list(store.list(keys.snapshot_blocks_prefix(SNAP))) == sorted(wanted)
        assert list(store.list(keys.manifest_prefix(SNAP))) == sorted(others[1:])
        assert list(store.list("blocks/snap-fffffffffffffffff/")) == []

    def test_delete_prefix_removes_only_that_prefix(self, store):
        doomed = [block_key(SNAP, i) for i in range(5)] + [keys.manifest_root_key(SNAP)]
        kept = [block_key(OTHER, i) for i in range(3)]
        for key in doomed + kept:
            store.put(key, b"x")

        store.delete_prefix(keys.snapshot_blocks_prefix(SNAP))
        store.delete_prefix(keys.manifest_prefix(SNAP))

        assert list(store.list("")) == sorted(kept)
        with pytest.raises(ObjectNotFound):
            store.get(doomed[0])

    def test_delete_prefix_of_nothing_is_a_no_op(self, store):
        store.delete_prefix(keys.snapshot_blocks_prefix(SNAP))

        assert list(store.list("")) == []

    def test_list_and_delete_span_many_pages(self, store):
        many = [block_key(SNAP, i) for i in range(25)]
        for key in many:
            store.put(key, b"x")

        assert list(store.list(keys.snapshot_blocks_prefix(SNAP))) == sorted(many)
        store.delete_prefix(keys.snapshot_blocks_prefix(SNAP))
        assert list(store.list("")) == []

    def test_invalid_keys_are_refused(self, store):
        for key in ["../x", "/abs", "blocks/../x", "", "a//b", ".hidden", "a/b/", "a b", "a\\b", "blocks/x\n",
                    "blocks/.tmp-x", "blocks/snap-0/.."]:
            with pytest.raises(ValueError):
                store.put(key, b"x")
            with pytest.raises(ValueError):
                store.get(key)
        assert list(store.list("")) == []


    def test_put_shared_stores_once_and_reports_whether_it_stored(self, store):
        data = os.urandom(1024)
        key = keys.blob_key(digest(data))
        assert store.put_shared(key, data, fresh_for=300) is True
        assert store.put_shared(key, data, fresh_for=300) is False
        assert store.get(key) == data
        assert list(store.list("blobs/")) == [key]

    def test_put_shared_makes_an_old_object_young_again(self, store):
        data = os.urandom(1024)
        key = keys.blob_key(digest(data))
        store.put_shared(key, data, fresh_for=300)
        first = store.modified(key)
        assert first is not None
        time.sleep(1.1)  # S3's LastModified has one-second resolution
        store.put_shared(key, data, fresh_for=300)
        assert store.modified(key) == first  # young enough: no refresh
        store.put_shared(key, data, fresh_for=0)
        assert store.modified(key) > first
        assert store.get(key) == data

    def test_modified_delete_and_sizes(self, store):
        key, other = block_key(SNAP, 1), block_key(SNAP, 2)
        store.put(key, b"abc")
        store.put(other, b"defgh")
        assert store.modified(block_key(SNAP, 3)) is None
        assert list(store.list_sizes(keys.snapshot_blocks_prefix(SNAP))) == sorted([(key, 3), (other, 5)])
        store.delete(key)
        store.delete(key)  # absent: no error
        assert store.modified(key) is None
        assert list(store.list(keys.snapshot_blocks_prefix(SNAP))) == [other]


class TestMemoryBlockStore(BlockStoreContract):
    def make_store(self, tmp_path, request):
        return MemoryBlockStore()


class TestFileBlockStore(BlockStoreContract):
    def make_store(self, tmp_path, request):
        return FileBlockStore(tmp_path / "blocks")


def _seven_keys_a_page(params, **kwargs):
    params["MaxKeys"] = 7


class TestS3BlockStoreOnMotoServer(BlockStoreContract):
    def make_store(self, tmp_path, request):
        server = request.getfixturevalue("moto_server")
        names = request.getfixturevalue("aws_names")
        s3 = server.client("s3")
        # Seven keys a page, so a few dozen keys cross list and delete pages
        # the way a snapshot's thousands do against S3's 1,000.
        s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", _seven_keys_a_page)
        return S3BlockStore(s3, names.bucket)

    def test_s3_keeps_the_sha256_of_each_object(self, store, moto_server, aws_names):
        data = os.urandom(1000)
        key = keys.block_key(SNAP, 1, digest(data))
        store.put(key, data)

        head = moto_server.client("s3").head_object(Bucket=aws_names.bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == digest(data)

    def test_bytes_damaged_at_rest_raise_corrupt_data(self, store, aws_names):
        data = os.urandom(1000)
        key = keys.block_key(SNAP, 1, digest(data))
        store.put(key, data)
        # The server runs in this process: reach into its S3 and rot one byte.
        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[aws_names.bucket].keys[key]
        stored.value = bytes([data[0] ^ 1]) + data[1:]

        with pytest.raises(CorruptData):
            store.get(key)
