"""Events: the only source of truth.

Each event is a frozen dataclass; an :class:`EventRecord` places it in a
*stream* (partition) under a unique *key*. The key is the concurrency control:
appending an existing (stream, key) fails, so two racing writers can never both
decide the outcome of a snapshot, and a retried request never appends twice.

Streams, and why they are split this way:

* ``snap-…`` — a snapshot's lifecycle: ``0-started``, ``0-copy`` (an
  encrypted copy's request, appended with its start), ``1-completion``,
  ``2-outcome`` (sealed, failed or timed out; exactly one can ever exist).
* ``snap-…/blocks/NN`` — block writes, spread over :data:`BLOCK_STREAM_SHARDS`
  partitions by index so that one snapshot can take far more writes per second
  than a single DynamoDB partition (~1,000 WCU) allows. Keys are
  ``<index:09d>/<seq:06d>``: the last seq of an index is its current content.
* ``token/<ClientToken>`` — StartSnapshot (and copy) idempotency.
* ``snap-…/progress`` — an encrypted copy's progress, keyed by blocks done.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

BLOCK_STREAM_SHARDS = 16

_REGISTRY: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    type_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        _REGISTRY[cls.__name__] = cls

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"), sort_keys=True)

    @staticmethod
    def from_json(type_name: str, data: str) -> Event:
        cls = _REGISTRY[type_name]
        values = json.loads(data)
        for f in dataclasses.fields(cls):
            if f.name in values and isinstance(values[f.name], list) and f.name == "tags":
                values[f.name] = tuple(tuple(t) for t in values[f.name])
        return cls(**values)


@dataclass(frozen=True)
class SnapshotStarted(Event):
    snapshot_id: str
    volume_size: int
    lineage_id: str
    start_time: float
    timeout_minutes: int
    owner_id: str
    parent_snapshot_id: str | None = None
    description: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    encrypted: bool = False
    kms_key_arn: str | None = None
    client_token: str | None = None
    request_digest: str | None = None
    sub_block_size: int | None = None
    source_snapshot_id: str | None = None


@dataclass(frozen=True)
class ClientTokenClaimed(Event):
    client_token: str
    request_digest: str
    snapshot_id: str


@dataclass(frozen=True)
class BlockWritten(Event):
    """A full 512 KiB block is durable at ``key``; ``digest`` is its base64 SHA-256."""

    snapshot_id: str
    index: int
    seq: int
    digest: str
    key: str
    written_at: float


@dataclass(frozen=True)
class SubBlockWritten(Event):
    """A sub-block range is durable at ``key``; ``merged_digest`` is the whole block's."""

    snapshot_id: str
    index: int
    seq: int
    offset: int
    length: int
    digest: str
    key: str
    merged_digest: str
    written_at: float


@dataclass(frozen=True)
class CompletionRequested(Event):
    snapshot_id: str
    changed_blocks_count: int
    checksum: str | None
    requested_at: float


@dataclass(frozen=True)
class SnapshotSealed(Event):
    snapshot_id: str
    changed_blocks_count: int
    sealed_at: float


@dataclass(frozen=True)
class SnapshotFailed(Event):
    snapshot_id: str
    message: str
    failed_at: float


@dataclass(frozen=True)
class CopyRequested(Event):
    """An encrypted copy of ``source_snapshot_id`` was asked for; the encryption function acts on it."""

    snapshot_id: str
    source_snapshot_id: str
    kms_key_arn: str
    requested_at: float


@dataclass(frozen=True)
class CopyProgressed(Event):
    snapshot_id: str
    blocks_done: int
    blocks_total: int
    reported_at: float


@dataclass(frozen=True)
class EventRecord:
    stream: str
    key: str
    event: Event
    position: int | None = field(default=None, compare=False)


def lifecycle_stream(snapshot_id: str) -> str:
    return snapshot_id


def block_stream(snapshot_id: str, index: int) -> str:
    return f"{snapshot_id}/blocks/{index % BLOCK_STREAM_SHARDS:02d}"


def block_streams(snapshot_id: str) -> list[str]:
    return [f"{snapshot_id}/blocks/{shard:02d}" for shard in range(BLOCK_STREAM_SHARDS)]


def block_key(index: int, seq: int) -> str:
    return f"{index:09d}/{seq:06d}"


def block_key_prefix(index: int) -> str:
    return f"{index:09d}/"


def progress_stream(snapshot_id: str) -> str:
    return f"{snapshot_id}/progress"


def token_stream(client_token: str) -> str:
    return f"token/{client_token}"


STARTED_KEY = "0-started"
COPY_KEY = "0-copy"
COMPLETION_KEY = "1-completion"
OUTCOME_KEY = "2-outcome"


# ---- the EC2 snapshot operations: tags and deletion on the lifecycle stream ----
# ``3-tags/<seq:06d>``: each tag change, with the snapshot's whole resulting tag
# set; ``4-deleted``: the one deletion a snapshot can have.


@dataclass(frozen=True)
class TagsChanged(Event):
    """CreateTags or DeleteTags changed a snapshot's tags to ``tags``."""

    snapshot_id: str
    seq: int
    tags: tuple[tuple[str, str], ...]
    changed_at: float


@dataclass(frozen=True)
class SnapshotDeleted(Event):
    """DeleteSnapshot: the snapshot is gone from every read; its storage is the collector's to reclaim."""

    snapshot_id: str
    deleted_at: float


TAGS_KEY_PREFIX = "3-tags/"
DELETED_KEY = "4-deleted"


def tags_key(seq: int) -> str:
    return f"{TAGS_KEY_PREFIX}{seq:06d}"


# ---- volumes (issue 15) -----------------------------------------------------
# One stream, ``volumes``, keyed by volume id, so that listing every volume is
# one query and one volume's history is a prefix query (``chalicelib/domain/volumes.py``).


@dataclass(frozen=True)
class VolumeCreated(Event):
    """A volume over ``snapshot_id``: its unread blocks come from that snapshot's chain."""

    volume_id: str
    snapshot_id: str
    size_gib: int
    sub_block_size: int
    created_at: float
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VolumeSnapshotted(Event):
    """A snapshot of the volume completed; it is the parent of the volume's next snapshot."""

    volume_id: str
    snapshot_id: str
    generation: int
    completed_at: float


@dataclass(frozen=True)
class VolumeDeleted(Event):
    volume_id: str
    deleted_at: float
