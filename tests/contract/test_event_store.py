"""One contract for every EventStore: in memory, SQLite embedded, DynamoDB on a moto server.

The base classes have no ``Test`` prefix, so pytest collects them only through
the subclasses, each of which supplies a store through ``make_store``. The
stores with a global order (memory, SQLite) are also held to the
:class:`EventFeed` contract the embedded projector follows.
"""

from __future__ import annotations

import sys
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager

import botocore.session
import pynamodb.connection.base
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.adapters.dynamodb_events import CONFLICT_WAITS, DynamoDBEventStore
from chalicelib.adapters.memory_events import MemoryEventStore
from chalicelib.adapters.sqlite_events import SQLiteEventStore
from chalicelib.domain.errors import DuplicateEvent
from chalicelib.domain.events import (
    COMPLETION_KEY,
    OUTCOME_KEY,
    STARTED_KEY,
    BlockWritten,
    ClientTokenClaimed,
    CompletionRequested,
    EventRecord,
    SnapshotFailed,
    SnapshotSealed,
    SnapshotStarted,
    block_key,
    block_key_prefix,
    block_stream,
    lifecycle_stream,
    token_stream,
)

SNAP = "snap-0123456789abcdef0"


def started(snapshot_id: str = SNAP) -> SnapshotStarted:
    return SnapshotStarted(
        snapshot_id=snapshot_id,
        volume_size=8,
        lineage_id="lin-1",
        start_time=1_700_000_000.25,
        timeout_minutes=60,
        owner_id="111122223333",
        description="contract",
        tags=(("team", "storage"), ("env", "test")),
        client_token="tok-1",
    )


def written(index: int, seq: int, digest: str = "AAAA") -> EventRecord:
    event = BlockWritten(
        snapshot_id=SNAP,
        index=index,
        seq=seq,
        digest=digest,
        key=f"blocks/{SNAP}/{index:09d}/{seq:064x}",
        written_at=1_700_000_001.5 + seq,
    )
    return EventRecord(block_stream(SNAP, index), block_key(index, seq), event)


def lifecycle(key: str, event) -> EventRecord:
    return EventRecord(lifecycle_stream(SNAP), key, event)


class EventStoreContract(ABC):
    """The contract; each adapter's test class subclasses it and builds its store."""

    @abstractmethod
    def make_store(self, tmp_path, request):
        """A fresh, empty store of the adapter under test."""

    @pytest.fixture
    def store(self, tmp_path, request):
        return self.make_store(tmp_path, request)

    def test_query_returns_a_stream_in_key_order(self, store):
        completion = lifecycle(COMPLETION_KEY, CompletionRequested(SNAP, 3, "c2Vj", 1_700_000_100.0))
        start = lifecycle(STARTED_KEY, started())
        outcome = lifecycle(OUTCOME_KEY, SnapshotSealed(SNAP, 3, 1_700_000_200.0))
        for record in (outcome, start, completion):
            store.append([record])

        assert store.query(lifecycle_stream(SNAP)) == [start, completion, outcome]

    def test_events_round_trip_exactly(self, store):
        record = lifecycle(STARTED_KEY, started())
        store.append([record])

        [got] = store.query(lifecycle_stream(SNAP))
        assert (got.stream, got.key, got.event) == (record.stream, record.key, record.event)
        assert type(got.event) is SnapshotStarted
        assert got.event.tags == (("team", "storage"), ("env", "test"))

    def test_streams_are_separate(self, store):
        store.append([lifecycle(STARTED_KEY, started())])

        assert store.query("snap-ffffffffffffffff0") == []
        assert store.query(lifecycle_stream(SNAP) + "/blocks/00") == []

    def test_prefix_selects_exactly_one_block_index(self, store):
        # Indexes 12 and 120 live in different shards; one stream holds both
        # here so that a prefix matching too much would show.
        stream = block_stream(SNAP, 12)
        keys = ["000000012/000001", "000000012/000003", "000000120/000001", "000000001/000012"]
        records = [EventRecord(stream, k, written(12, i).event) for i, k in enumerate(keys)]
        store.append(records)

        got = store.query(stream, block_key_prefix(12))
        assert [r.key for r in got] == ["000000012/000001", "000000012/000003"]
        assert [r.key for r in store.query(stream, "000000120/")] == ["000000120/000001"]
        assert store.query(stream, "000000013/") == []

    def test_reverse_with_limit_gives_the_latest_seq_of_an_index(self, store):
        store.append([written(12, seq) for seq in (1, 2, 3, 4, 5)])
        store.append([written(28, 9)])  # same shard as 12, later index

        stream, prefix = block_stream(SNAP, 12), block_key_prefix(12)
        [latest] = store.query(stream, prefix, reverse=True, limit=1)
        assert latest.key == block_key(12, 5)
        assert latest.event.seq == 5
        assert [r.key for r in store.query(stream, prefix, reverse=True)] == [
            block_key(12, seq) for seq in (5, 4, 3, 2, 1)
        ]
        assert [r.key for r in store.query(stream, prefix, limit=2)] == [block_key(12, 1), block_key(12, 2)]

    def test_appending_an_existing_key_raises_and_keeps_the_first(self, store):
        first = lifecycle(OUTCOME_KEY, SnapshotSealed(SNAP, 3, 1_700_000_200.0))
        store.append([first])

        timed_out = lifecycle(OUTCOME_KEY, SnapshotFailed(SNAP, "Snapshot timed out", 1_700_000_201.0))
        with pytest.raises(DuplicateEvent):
            store.append([timed_out])
        assert store.query(lifecycle_stream(SNAP)) == [first]

    def test_multi_record_append_with_one_duplicate_appends_nothing(self, store):
        existing = written(7, 1)
        store.append([existing])

        batch = [written(7, 2), written(7, 1, digest="BBBB"), written(8, 1)]
        with pytest.raises(DuplicateEvent):
            store.append(batch)

        assert store.query(block_stream(SNAP, 7)) == [existing]
        assert store.query(block_stream(SNAP, 8)) == []

    def test_one_append_naming_a_key_twice_appends_nothing(self, store):
        with pytest.raises(DuplicateEvent):
            store.append([written(3, 1), written(3, 1, digest="BBBB")])

        assert store.query(block_stream(SNAP, 3)) == []

    def test_multi_record_append_across_streams_lands_whole(self, store):
        claim = EventRecord(token_stream("tok-1"), STARTED_KEY, ClientTokenClaimed("tok-1", "digest", SNAP))
        start = lifecycle(STARTED_KEY, started())
        store.append([claim, start])

        assert store.query(token_stream("tok-1")) == [claim]
        assert store.query(lifecycle_stream(SNAP)) == [start]

    def test_empty_append_is_a_no_op(self, store):
        store.append([])

        assert store.query(lifecycle_stream(SNAP)) == []

    RACE_ROUNDS = 1  # races of 8 writers, each on its own key

    def test_concurrent_appends_of_one_key_have_exactly_one_winner(self, store):
        writers = 8
        for index in range(42, 42 + self.RACE_ROUNDS):
            barrier = threading.Barrier(writers)
            outcomes: list[object] = [None] * writers

            def append(i: int, index: int = index) -> None:
                record = written(index, 1, digest=f"digest-{i}")
                barrier.wait()
                try:
                    store.append([record])
                    outcomes[i] = record
                except DuplicateEvent as exc:
                    outcomes[i] = exc

            # Connect before the race, so that the writers meet at the store
            # instead of arriving one by one as each finishes connecting.
            store.query(block_stream(SNAP, index))
            threads = [threading.Thread(target=append, args=(i,)) for i in range(writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

            winners = [o for o in outcomes if isinstance(o, EventRecord)]
            assert len(winners) == 1, outcomes
            assert sum(isinstance(o, DuplicateEvent) for o in outcomes) == writers - 1
            assert store.query(block_stream(SNAP, index), block_key_prefix(index)) == winners

    def test_a_duplicate_among_concurrent_appends_fails_alone(self, store):
        """Appends that share a commit (SQLite's group commit) succeed or fail each on its own."""
        writers, rounds = 8, 20
        store.append([written(0, 1)])
        store.query(block_stream(SNAP, 0))  # connect before the race
        for round_ in range(rounds):
            barrier = threading.Barrier(writers)
            failures: list[int] = []

            def append(i: int, round_: int = round_) -> None:
                record = written(0, 1) if i == 0 else written(round_ * writers + i, 1)
                barrier.wait()
                try:
                    store.append([record])
                except DuplicateEvent:
                    failures.append(i)

            threads = [threading.Thread(target=append, args=(i,)) for i in range(writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert failures == [0], f"round {round_}: writers {failures} failed; only writer 0 repeats a key"
        for index in range(1, rounds * writers):
            if index % writers:
                assert len(store.query(block_stream(SNAP, index), prefix=f"{index:09d}/")) == 1

    # ~1.2 MB: more than one 1 MB DynamoDB Query page.
    BIG_RECORDS = 30
    BIG_MESSAGE = 40_000

    def append_big_stream(self, store) -> list[EventRecord]:
        records = [
            EventRecord(
                "big-stream",
                f"{i:06d}",
                SnapshotFailed(SNAP, f"{i:06d}" + "x" * self.BIG_MESSAGE, float(i)),
            )
            for i in range(self.BIG_RECORDS)
        ]
        for start in range(0, len(records), 10):
            store.append(records[start : start + 10])
        return records

    def test_query_returns_every_record_past_one_page(self, store):
        records = self.append_big_stream(store)

        assert store.query("big-stream") == records
        assert store.query("big-stream", reverse=True) == records[::-1]
        assert store.query("big-stream", limit=25) == records[:25]


class EventFeedContract(EventStoreContract):
    """Reading the whole log in append order, from a position, as the embedded projector does."""

    def test_the_feed_gives_every_record_once_in_append_order(self, store):
        first = [lifecycle(STARTED_KEY, started()), written(17, 1)]
        second = [written(1, 1)]
        third = [lifecycle(COMPLETION_KEY, CompletionRequested(SNAP, 2, None, 1_700_000_100.0))]
        for batch in (first, second, third):
            store.append(batch)

        log = store.read_after(0, 100)
        assert log == first + second + third
        positions = [r.position for r in log]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert store.read_after(positions[0], 2) == log[1:3]
        assert store.read_after(positions[-1], 100) == []

    def test_query_and_feed_report_the_same_positions(self, store):
        store.append([written(5, 1), written(21, 1)])

        assert [r.position for r in store.query(block_stream(SNAP, 5))] == [
            r.position for r in store.read_after(0, 100)
        ]

    def test_a_refused_append_leaves_no_trace_in_the_feed(self, store):
        store.append([written(7, 1)])
        before = store.read_after(0, 100)

        with pytest.raises(DuplicateEvent):
            store.append([written(8, 1), written(7, 1, digest="BBBB")])
        store.append([written(9, 1)])

        after = store.read_after(0, 100)
        assert after[:-1] == before and after[-1] == written(9, 1)
        assert after[-1].position > before[-1].position


@contextmanager
def frequent_thread_switches():
    """Switch threads every microsecond, so that a store checking and inserting in two steps shows its race."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class TestMemoryEventStore(EventFeedContract):
    def make_store(self, tmp_path, request):
        return MemoryEventStore()

    RACE_ROUNDS = 20

    def test_concurrent_appends_of_one_key_have_exactly_one_winner(self, store):
        """Python threads rarely switch between a check and an insert; here they may switch at any bytecode.

        Only here: moto's in-process DynamoDB server lets two conditional
        PutItems of one key both succeed under such switching.
        """
        with frequent_thread_switches():
            super().test_concurrent_appends_of_one_key_have_exactly_one_winner(store)


class TestSQLiteEventStore(EventFeedContract):
    def make_store(self, tmp_path, request):
        return SQLiteEventStore(tmp_path / "events.db")


class TestDynamoDBEventStoreOnMotoServer(EventStoreContract):
    def make_store(self, tmp_path, request):
        server = request.getfixturevalue("moto_server")
        names = request.getfixturevalue("aws_names")
        return DynamoDBEventStore(names.events_table, host=server.endpoint_url, region=server.region)

    def test_query_returns_every_record_past_one_page(self, store, moto_server, aws_names):
        super().test_query_returns_every_record_past_one_page(store)

        first_page = moto_server.client("dynamodb").query(
            TableName=aws_names.events_table,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "stream"},
            ExpressionAttributeValues={":s": {"S": "big-stream"}},
            ConsistentRead=True,
        )
        assert "LastEvaluatedKey" in first_page, "the data fits one page: pagination is untested"
        assert first_page["Count"] < self.BIG_RECORDS

    @pytest.fixture
    def conflicts(self, monkeypatch):
        """Answer the next N writes as DynamoDB does while another transaction
        holds an item (moto never does): set ``conflicts["left"] = N``."""
        state = {"left": 0}

        def answer(model, **kwargs):
            if state["left"] == 0:
                return None
            state["left"] -= 1
            if model.name == "PutItem":
                parsed = {"Error": {"Code": "TransactionConflictException", "Message": "in flight"}}
            else:
                parsed = {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                }
            parsed["ResponseMetadata"] = {"HTTPStatusCode": 400, "HTTPHeaders": {}}
            return AWSResponse("http://moto", 400, {}, None), parsed

        def session():
            s = botocore.session.get_session()
            s.register("before-call.dynamodb.PutItem", answer)
            s.register("before-call.dynamodb.TransactWriteItems", answer)
            return s

        # pynamodb builds its botocore session on first use, after this patch.
        monkeypatch.setattr(pynamodb.connection.base, "get_session", session)
        return state

    @pytest.mark.parametrize("size", [1, 2])
    def test_a_write_held_by_another_transaction_is_retried(self, conflicts, store, size):
        records = [written(5, seq) for seq in range(1, size + 1)]
        conflicts["left"] = 2

        store.append(records)

        assert conflicts["left"] == 0
        assert store.query(block_stream(SNAP, 5)) == records

    @pytest.mark.parametrize("size", [1, 2])
    def test_a_write_held_too_long_is_a_lost_race(self, conflicts, store, size):
        conflicts["left"] = 100

        with pytest.raises(DuplicateEvent):
            store.append([written(5, seq) for seq in range(1, size + 1)])

        assert 100 - conflicts["left"] == len(CONFLICT_WAITS) + 1
        conflicts["left"] = 0
        assert store.query(block_stream(SNAP, 5)) == []

    def test_table_streams_new_images(self, moto_server, aws_names):
        table = moto_server.client("dynamodb").describe_table(TableName=aws_names.events_table)["Table"]

        assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
            "stream": "HASH",
            "key": "RANGE",
        }

    def test_items_are_small(self, store, moto_server, aws_names):
        store.append([written(12, 1), lifecycle(STARTED_KEY, started())])

        items = moto_server.client("dynamodb").scan(TableName=aws_names.events_table)["Items"]
        sizes = [sum(len(k) + len(next(iter(v.values()))) for k, v in item.items()) for item in items]
        assert max(sizes) < 1024, sizes
