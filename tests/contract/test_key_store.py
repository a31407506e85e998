"""One contract for every KeyStore: in memory, and the data dir's file shared by every HTTP worker."""

from __future__ import annotations

import stat
from abc import ABC, abstractmethod

import pytest

from chalicelib.adapters.file_keys import FileKeyStore
from chalicelib.adapters.memory_keys import InMemoryKeyStore
from chalicelib.domain.access import AccessKey, Policy


def key(n: int, policy: Policy = Policy.READ_ONLY) -> AccessKey:
    return AccessKey(f"AKIDCONTRACT{n:08d}", f"secret-{n}", policy, f"key {n}", float(n))


class KeyStoreContract(ABC):
    @abstractmethod
    def make_store(self, tmp_path):
        """A fresh, empty store of the adapter under test."""

    @pytest.fixture
    def store(self, tmp_path):
        return self.make_store(tmp_path)

    def test_keys_are_added_found_listed_in_order_and_removed(self, store):
        assert store.get(key(1).access_key_id) is None and store.all() == []
        store.add(key(2, Policy.APPEND_ONLY))
        store.add(key(1))
        assert store.get(key(2).access_key_id) == key(2, Policy.APPEND_ONLY)
        assert store.all() == [key(1), key(2, Policy.APPEND_ONLY)]
        assert store.remove(key(1).access_key_id) is True
        assert store.remove(key(1).access_key_id) is False
        assert store.get(key(1).access_key_id) is None
        assert store.all() == [key(2, Policy.APPEND_ONLY)]


class TestInMemoryKeyStore(KeyStoreContract):
    def make_store(self, tmp_path):
        return InMemoryKeyStore()


class TestFileKeyStore(KeyStoreContract):
    def make_store(self, tmp_path):
        return FileKeyStore(tmp_path / "access-keys.json")

    def test_another_process_s_change_is_seen_at_once(self, tmp_path):
        """Two stores on one file stand for two HTTP workers: each reads the other's change on its next lookup."""
        one, two = self.make_store(tmp_path), self.make_store(tmp_path)
        assert two.get(key(1).access_key_id) is None
        one.add(key(1))
        assert two.get(key(1).access_key_id) == key(1)
        two.add(key(2))
        assert two.remove(key(1).access_key_id)
        assert one.get(key(1).access_key_id) is None
        assert [k.access_key_id for k in one.all()] == [key(2).access_key_id]

    def test_the_file_is_its_owner_s_alone_and_no_temporary_file_stays(self, tmp_path):
        store = self.make_store(tmp_path)
        store.add(key(1))
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert sorted(p.name for p in tmp_path.iterdir()) == ["access-keys.json", "access-keys.json.lock"]
