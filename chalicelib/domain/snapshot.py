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

    @property
    def snapshot_id(self) -> str:
        return self.started.snapshot_id

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
        return snapshot


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
        """One flat JSON-able document: the start's fields beside the record's own."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "started"}
        started = asdict(self.started)
        started["tags"] = [list(t) for t in self.started.tags]
        return {**started, **own}

    @staticmethod
    def from_dict(d: dict) -> SnapshotRecord:
        start_fields = {f.name for f in fields(SnapshotStarted)}
        started = {k: v for k, v in d.items() if k in start_fields}
        started["tags"] = tuple(tuple(t) for t in started.get("tags") or ())
        own = {k: v for k, v in d.items() if k not in start_fields}
        return SnapshotRecord(started=SnapshotStarted(**started), **own)

    @staticmethod
    def from_started(e: SnapshotStarted) -> SnapshotRecord:
        return SnapshotRecord(
            started=e,
            status=PENDING,
            last_activity=e.start_time,
            progress=0 if e.source_snapshot_id else None,
        )
