"""The reference event table: a list and an index under one lock.

What every event store must do, with nothing else in the way: unit tests
run on it, and the contract suite holds it to the same rules as SQLite and
DynamoDB. The log's order is the append order (positions from 1, like
SQLite's rowid), so it is also the :class:`EventFeed` a projector follows.
Events are kept as objects, not serialised: they are frozen dataclasses, so
nothing a caller holds can change what was stored (their JSON round trip is
the contract suite's to check, on the stores that serialise). Nothing
survives the process.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Sequence

from ..domain.errors import DuplicateEvent
from ..domain.events import EventRecord
from ..ports import EventFeed, EventStore, distinct_ids


class MemoryEventStore(EventStore, EventFeed):
    def __init__(self):
        self._lock = threading.Lock()
        self._log: list[EventRecord] = []
        self._streams: dict[str, dict[str, EventRecord]] = {}

    def append(self, records: Sequence[EventRecord]) -> None:
        ids = distinct_ids(records)
        with self._lock:
            taken = [(stream, key) for stream, key in ids if key in self._streams.get(stream, {})]
            if taken:
                raise DuplicateEvent(f"already exist: {taken}")
            for record in records:
                stored = replace(record, position=len(self._log) + 1)
                self._log.append(stored)
                self._streams.setdefault(record.stream, {})[record.key] = stored

    def query(self, stream, prefix="", *, reverse=False, limit=None):
        with self._lock:
            found = [r for key, r in self._streams.get(stream, {}).items() if key.startswith(prefix)]
        found.sort(key=lambda r: r.key, reverse=reverse)
        return found if limit is None else found[:limit]

    def read_after(self, position, limit):
        with self._lock:
            return self._log[position : position + limit]
