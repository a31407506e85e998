"""WriteSink: the copier's two appends, with the API's rules for each."""

from __future__ import annotations

import pytest

from chalicelib.adapters.sqlite_events import SQLiteEventStore
from chalicelib.domain.events import (
    COMPLETION_KEY,
    OUTCOME_KEY,
    STARTED_KEY,
    BlockWritten,
    CompletionRequested,
    EventRecord,
    SnapshotFailed,
    SnapshotStarted,
    block_stream,
    lifecycle_stream,
)
from chalicelib.usecases.write_sink import WriteSink

SNAPSHOT = "snap-0123456789abcdef0"


@pytest.fixture
def events(tmp_path) -> SQLiteEventStore:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    started = SnapshotStarted(SNAPSHOT, 1, SNAPSHOT, 1.0, 60, "000000000000")
    store.append([EventRecord(lifecycle_stream(SNAPSHOT), STARTED_KEY, started)])
    return store


@pytest.fixture
def sink(events) -> WriteSink:
    return WriteSink(events, clock=lambda: 2.0)


def writes(events, index: int) -> list[BlockWritten]:
    return [r.event for r in events.query(block_stream(SNAPSHOT, index))]


def test_a_write_takes_the_next_seq_and_a_repeat_of_the_latest_appends_nothing(sink, events):
    sink.record_full_write(SNAPSHOT, 7, "digest-a", "key-a")
    sink.record_full_write(SNAPSHOT, 7, "digest-a", "key-a")
    sink.record_full_write(SNAPSHOT, 7, "digest-b", "key-b")
    sink.record_full_write(SNAPSHOT, 7, "digest-a", "key-a")  # not the latest any more: a new write
    assert [(w.seq, w.digest) for w in writes(events, 7)] == [(0, "digest-a"), (1, "digest-b"), (2, "digest-a")]
    assert writes(events, 7)[0] == BlockWritten(SNAPSHOT, 7, 0, "digest-a", "key-a", 2.0)


def test_a_racing_writer_is_retried_on_the_next_seq(sink, events):
    racing = WriteSink(events)
    original = events.append
    raced = []

    def append_after_a_rival(records):
        if not raced:
            raced.append(True)
            racing.record_full_write(SNAPSHOT, 3, "rival", "rival-key")
        return original(records)

    events.append = append_after_a_rival
    sink.record_full_write(SNAPSHOT, 3, "mine", "my-key")
    assert [(w.seq, w.digest) for w in writes(events, 3)] == [(0, "rival"), (1, "mine")]


def test_completion_is_requested_once_with_its_linear_checksum(sink, events):
    assert sink.request_completion(SNAPSHOT, 2, "linear-checksum")
    assert not sink.request_completion(SNAPSHOT, 3, "another")
    [record] = events.query(lifecycle_stream(SNAPSHOT), COMPLETION_KEY)
    assert record.event == CompletionRequested(SNAPSHOT, 2, "linear-checksum", 2.0)


def test_a_failed_or_unknown_snapshot_gets_no_completion(sink, events):
    events.append([EventRecord(lifecycle_stream(SNAPSHOT), OUTCOME_KEY, SnapshotFailed(SNAPSHOT, "timed out", 1.5))])
    assert not sink.request_completion(SNAPSHOT, 2, "linear-checksum")
    assert not sink.request_completion("snap-00000000000000001", 2, "linear-checksum")
    assert events.query(lifecycle_stream(SNAPSHOT), COMPLETION_KEY) == []

