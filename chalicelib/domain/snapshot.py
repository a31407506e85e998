"""The snapshot aggregate and its read-model record.

:class:`Snapshot` is folded from a snapshot's lifecycle stream; handlers decide
on it (can this block be written? is completion already requested?).
:class:`SnapshotRecord` is the projected read model that readers and the
``/blocksnap/v1`` routes use; it also knows when the manifest is ready.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Iterable

from .events import (
    CompletionRequested,
    Event,
    SnapshotDeleted,
    SnapshotFailed,
    SnapshotSealed,
    SnapshotStarted,
    TagsChanged,
)

PENDING = "pending"
COMPLETED = "completed"
ERROR = "error"

BLOCK_SIZE = 524288
BLOCKS_PER_GIB = (1 << 30) // BLOCK_SIZE
MAX_VOLUME_SIZE_GIB = 65536
MAX_TAGS = 50

TIMED_OUT = "Snapshot timed out"
CHECKSUM_MISMATCH = "Checksum mismatch for snapshot"
COUNT_MISMATCH = "Changed blocks count mismatch for snapshot"


@dataclass(frozen=True)
class Snapshot:
    started: SnapshotStarted
    completion: CompletionRequested | None = None
    sealed: SnapshotSealed | None = None
    failed: SnapshotFailed | None = None
    deleted: SnapshotDeleted | None = None
    tags_changed: TagsChanged | None = None

    @property
    def snapshot_id(self) -> str:
        return self.started.snapshot_id

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        """The tags now: the start's, or the last CreateTags/DeleteTags outcome."""
        return self.started.tags if self.tags_changed is None else self.tags_changed.tags

    @property
    def next_tags_seq(self) -> int:
        return 0 if self.tags_changed is None else self.tags_changed.seq + 1

    @property
    def block_count_limit(self) -> int:
        return self.started.volume_size * BLOCKS_PER_GIB

    @property
    def status(self) -> str:
        if self.failed is not None:
            return ERROR
        if self.sealed is not None:
            return COMPLETED
        return PENDING

    @staticmethod
    def fold(events: Iterable[Event]) -> Snapshot | None:
        snapshot: Snapshot | None = None
        for event in events:
            if isinstance(event, SnapshotStarted):
                snapshot = Snapshot(started=event)
            elif snapshot is None:
                continue
            elif isinstance(event, CompletionRequested):
                snapshot = replace(snapshot, completion=event)
            elif isinstance(event, SnapshotSealed):
                snapshot = replace(snapshot, sealed=event)
            elif isinstance(event, SnapshotFailed):
                snapshot = replace(snapshot, failed=event)
            elif isinstance(event, SnapshotDeleted):
                snapshot = replace(snapshot, deleted=event)
            elif isinstance(event, TagsChanged) and event.seq >= snapshot.next_tags_seq:
                snapshot = replace(snapshot, tags_changed=event)
        return snapshot

    def current(self, stored: SnapshotRecord | None) -> SnapshotRecord:
        """The record as the events say now: the projected one (or the start's) with what it lags behind.

        The records projection is asynchronous (more so behind a DynamoDB
        stream), so a failure or a tag change already in the events is
        reported at once, consistently with the calls that made it.
        """
        record = stored or SnapshotRecord.from_started(self.started)
        if self.failed is not None and record.status != ERROR:
            record = replace(record, status=ERROR, state_message=self.failed.message)
        return replace(record, tags=self.tags)


@dataclass(frozen=True)
class SnapshotRecord:
    """What the projection keeps about one snapshot (rebuildable from events).

    The snapshot's shape is its start event's: the record holds that event and
    adds only what happened since (status, outcome, progress), so a field added
    to :class:`SnapshotStarted` reaches every reader without being listed again.
    Attribute access falls through to the start (``record.volume_size``).
    """

    started: SnapshotStarted
    status: str
    last_activity: float
    # Tags are the one part of the start that changes later (EC2 CreateTags/DeleteTags).
    tags: tuple[tuple[str, str], ...] = ()
    state_message: str | None = None
    completion_time: float | None = None
    changed_blocks_count: int | None = None
    progress: int | None = None

    def __getattr__(self, name: str):
        # Only reached for names that are not the record's own fields.
        if name == "started":
            raise AttributeError(name)
        return getattr(self.started, name)

    def to_dict(self) -> dict:
        """One flat JSON-able document: the start's fields beside the record's own (current tags win)."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "started"}
        own["tags"] = [list(t) for t in self.tags]
        return {**asdict(self.started), **own}

    @staticmethod
    def from_dict(d: dict) -> SnapshotRecord:
        start_fields = {f.name for f in fields(SnapshotStarted)}
        tags = tuple(tuple(t) for t in d.get("tags") or ())
        started = {k: v for k, v in d.items() if k in start_fields and k != "tags"}
        own = {k: v for k, v in d.items() if k not in start_fields}
        return SnapshotRecord(started=SnapshotStarted(**started, tags=tags), tags=tags, **own)

    @staticmethod
    def from_started(e: SnapshotStarted) -> SnapshotRecord:
        return SnapshotRecord(
            started=e,
            status=PENDING,
            last_activity=e.start_time,
            tags=e.tags,
            progress=0 if e.source_snapshot_id else None,
        )
