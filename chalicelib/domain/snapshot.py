"""The snapshot aggregate and its read-model record.

:class:`Snapshot` is folded from a snapshot's lifecycle stream; handlers decide
on it (can this block be written? is completion already requested?).
:class:`SnapshotRecord` is the projected read model that readers and the
``/blocksnap/v1`` routes use; it also knows when the manifest is ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from .events import (
    CompletionRequested,
    Event,
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
        return snapshot


@dataclass(frozen=True)
class SnapshotRecord:
    """What the projection keeps about one snapshot (rebuildable from events)."""

    snapshot_id: str
    status: str
    volume_size: int
    lineage_id: str
    start_time: float
    timeout_minutes: int
    owner_id: str
    last_activity: float
    parent_snapshot_id: str | None = None
    description: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    encrypted: bool = False
    kms_key_arn: str | None = None
    sub_block_size: int | None = None
    state_message: str | None = None
    completion_time: float | None = None
    changed_blocks_count: int | None = None
    progress: int | None = field(default=None)
    source_snapshot_id: str | None = None

    def to_dict(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "status": self.status,
            "volume_size": self.volume_size,
            "lineage_id": self.lineage_id,
            "start_time": self.start_time,
            "timeout_minutes": self.timeout_minutes,
            "owner_id": self.owner_id,
            "last_activity": self.last_activity,
            "parent_snapshot_id": self.parent_snapshot_id,
            "description": self.description,
            "tags": [list(t) for t in self.tags],
            "encrypted": self.encrypted,
            "kms_key_arn": self.kms_key_arn,
            "sub_block_size": self.sub_block_size,
            "state_message": self.state_message,
            "completion_time": self.completion_time,
            "changed_blocks_count": self.changed_blocks_count,
            "progress": self.progress,
            "source_snapshot_id": self.source_snapshot_id,
        }

    @staticmethod
    def from_dict(d: dict) -> SnapshotRecord:
        values = dict(d)
        values["tags"] = tuple(tuple(t) for t in values.get("tags") or ())
        return SnapshotRecord(**values)

    @staticmethod
    def from_started(e: SnapshotStarted) -> SnapshotRecord:
        return SnapshotRecord(
            snapshot_id=e.snapshot_id,
            status=PENDING,
            volume_size=e.volume_size,
            lineage_id=e.lineage_id,
            start_time=e.start_time,
            timeout_minutes=e.timeout_minutes,
            owner_id=e.owner_id,
            last_activity=e.start_time,
            parent_snapshot_id=e.parent_snapshot_id,
            description=e.description,
            tags=e.tags,
            encrypted=e.encrypted,
            kms_key_arn=e.kms_key_arn,
            sub_block_size=e.sub_block_size,
            source_snapshot_id=e.source_snapshot_id,
            progress=0 if e.source_snapshot_id else None,
        )
