"""Timeouts: a pending snapshot with no put or complete for ``Timeout`` minutes fails.

AWS checks coarsely (a 10-minute timeout was seen to fire after 909-929 s), so
a periodic sweep over pending records is faithful. ``minute_seconds`` is the
length of one Timeout minute: 60 in service, shorter in tests so that a
10-minute timeout can be observed in a test run.
"""

from __future__ import annotations

from typing import Callable

from ..domain.events import OUTCOME_KEY, EventRecord, SnapshotFailed, lifecycle_stream
from ..domain.snapshot import TIMED_OUT
from ..ports import EventStore, ReadModelStore


class Timekeeper:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        clock: Callable[[], float],
        minute_seconds: float = 60.0,
    ):
        self.events = events
        self.records = records
        self.clock = clock
        self.minute_seconds = minute_seconds

    def sweep(self) -> int:
        """Fail every expired pending snapshot; return how many were failed."""
        now = self.clock()
        failed = 0
        for record in self.records.pending_snapshots():
            if now < record.last_activity + record.timeout_minutes * self.minute_seconds:
                continue
            snapshot = self.events.snapshot(record.snapshot_id)
            if snapshot is None or snapshot.completion is not None:
                continue
            event = SnapshotFailed(record.snapshot_id, TIMED_OUT, round(now, 3))
            failed += self.events.append_once([EventRecord(lifecycle_stream(record.snapshot_id), OUTCOME_KEY, event)])
        return failed
