"""One contract for every ReadModelStore: in memory, SQLite embedded, DynamoDB on a moto server."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace

import pytest

from chalicelib.adapters.dynamodb_read_models import DynamoDBReadModelStore
from chalicelib.adapters.memory_read_models import MemoryReadModelStore
from chalicelib.adapters.sqlite_read_models import SQLiteReadModelStore
from chalicelib.domain.events import SnapshotStarted
from chalicelib.domain.snapshot import COMPLETED, ERROR, PENDING, SnapshotRecord


def record(n: int, status: str = PENDING, **changes) -> SnapshotRecord:
    started = SnapshotStarted(
        snapshot_id=f"snap-{n:017x}",
        volume_size=8,
        lineage_id=f"lin-{n}",
        start_time=1_700_000_000.5 + n,
        timeout_minutes=60,
        owner_id="111122223333",
        description="contract",
        tags=(("team", "storage"),),
        sub_block_size=4096,
    )
    return replace(SnapshotRecord.from_started(started), status=status, **changes)


class ReadModelStoreContract(ABC):
    """The contract; each adapter's test class subclasses it and builds its store."""

    @abstractmethod
    def make_store(self, tmp_path, request):
        """A fresh, empty store of the adapter under test."""

    @pytest.fixture
    def store(self, tmp_path, request):
        return self.make_store(tmp_path, request)

    def test_missing_snapshot_is_none(self, store):
        assert store.get_snapshot("snap-00000000000000000") is None

    def test_put_then_get_round_trips_every_field(self, store):
        sealed = record(1, COMPLETED, completion_time=1_700_000_900.25, changed_blocks_count=12, progress=100)
        store.put_snapshot(sealed)

        assert store.get_snapshot(sealed.snapshot_id) == sealed

    def test_put_replaces_the_record(self, store):
        store.put_snapshot(record(1))
        failed = record(1, ERROR, state_message="Snapshot timed out")
        store.put_snapshot(failed)

        assert store.get_snapshot(failed.snapshot_id) == failed

    def test_touch_only_moves_last_activity_forward(self, store):
        r = record(1)
        store.put_snapshot(r)

        store.touch_snapshot(r.snapshot_id, r.last_activity + 30)
        store.touch_snapshot(r.snapshot_id, r.last_activity + 10)
        store.touch_snapshot(r.snapshot_id, r.last_activity + 30)

        assert store.get_snapshot(r.snapshot_id) == replace(r, last_activity=r.last_activity + 30)

    def test_touching_an_unknown_snapshot_creates_nothing(self, store):
        store.touch_snapshot("snap-0000000000000000f", 1_800_000_000.0)

        assert store.get_snapshot("snap-0000000000000000f") is None
        assert store.all_snapshots() == []

    def test_pending_lists_only_pending_snapshots_by_id(self, store):
        for r in (record(3), record(1, COMPLETED), record(2), record(4, ERROR), record(0)):
            store.put_snapshot(r)

        assert [r.snapshot_id for r in store.pending_snapshots()] == [
            record(n).snapshot_id for n in (0, 2, 3)
        ]

    def test_pending_reflects_touches_and_status_changes(self, store):
        store.put_snapshot(record(1))
        store.put_snapshot(record(2))
        store.touch_snapshot(record(2).snapshot_id, 1_800_000_000.0)
        store.put_snapshot(record(1, COMPLETED))

        assert store.pending_snapshots() == [record(2, last_activity=1_800_000_000.0)]

    def test_all_snapshots_lists_every_record_by_id(self, store):
        records = [record(2, COMPLETED), record(0), record(1, ERROR)]
        for r in records:
            store.put_snapshot(r)
        store.set_checkpoint("snapshots", "7")

        assert store.all_snapshots() == sorted(records, key=lambda r: r.snapshot_id)

    def test_snapshots_after_pages_through_every_record_once_in_a_stable_order(self, store):
        for n in range(7):
            store.put_snapshot(record(n))
        store.set_checkpoint("projector", "9")  # checkpoints are not snapshots
        order = [r.snapshot_id for r in store.snapshots_after(None, 100)]
        assert sorted(order) == [record(n).snapshot_id for n in range(7)]
        paged, after = [], None
        while page := store.snapshots_after(after, 3):
            assert len(page) <= 3
            paged += [r.snapshot_id for r in page]
            after = page[-1].snapshot_id
        assert paged == order
        assert store.snapshots_after(order[2], 2) == [store.get_snapshot(i) for i in order[3:5]]

    def test_checkpoints_start_empty_and_keep_the_last_set(self, store):
        assert store.get_checkpoint("snapshots") is None

        store.set_checkpoint("snapshots", "41")
        store.set_checkpoint("snapshots", "42")
        store.set_checkpoint("manifests", "7")

        assert store.get_checkpoint("snapshots") == "42"
        assert store.get_checkpoint("manifests") == "7"

    def test_checkpoints_keep_a_40_digit_stream_sequence_number_exactly(self, store):
        """DynamoDB stream sequence numbers reach 40 digits: more than a DynamoDB or SQLite number holds."""
        sequence = "0004421584500000000017450439091123456789"
        store.set_checkpoint("stream:shardId-00000001", sequence)

        assert store.get_checkpoint("stream:shardId-00000001") == sequence

    def test_clear_drops_records_and_checkpoints(self, store):
        for n in range(30):
            store.put_snapshot(record(n))
        store.set_checkpoint("snapshots", "42")

        store.clear()

        assert store.all_snapshots() == []
        assert store.pending_snapshots() == []
        assert store.get_snapshot(record(0).snapshot_id) is None
        assert store.get_checkpoint("snapshots") is None


class TestMemoryReadModelStore(ReadModelStoreContract):
    def make_store(self, tmp_path, request):
        return MemoryReadModelStore()


class TestSQLiteReadModelStore(ReadModelStoreContract):
    def make_store(self, tmp_path, request):
        return SQLiteReadModelStore(tmp_path / "read-models.db")


class TestDynamoDBReadModelStoreOnMotoServer(ReadModelStoreContract):
    def make_store(self, tmp_path, request):
        server = request.getfixturevalue("moto_server")
        names = request.getfixturevalue("aws_names")
        return DynamoDBReadModelStore(names.snapshots_table, host=server.endpoint_url, region=server.region)

    def test_table_has_a_keys_only_status_index(self, moto_server, aws_names):
        table = moto_server.client("dynamodb").describe_table(TableName=aws_names.snapshots_table)["Table"]

        [index] = table["GlobalSecondaryIndexes"]
        assert index["IndexName"] == "status-index"
        assert index["KeySchema"] == [{"AttributeName": "status", "KeyType": "HASH"}]
        assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
