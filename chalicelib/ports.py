"""The ports: what the core needs from storage, as abstract classes.

The storage ports (events, read models, blocks) each have three adapters: an
in-memory one (``memory_*``: the reference semantics, which unit tests run
on), an embedded one (SQLite, files) and a cloud one (DynamoDB via pynamodb,
S3). One contract-test suite per port in ``tests/contract`` runs against all
three, so a behaviour difference between them fails CI instead of reaching a
user. :class:`EventFeed` (reading the log in order) is for the stores with a
global order, memory and SQLite: in the cloud the DynamoDB stream delivers the
events. The key service and the encryption function have a local and an AWS
form each, tested by their own suites (``tests/unit/test_*encryption*``,
``test_kms_error_mapping``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator, Sequence

from .domain.access import AccessKey
from .domain.errors import DuplicateEvent
from .domain.events import EventRecord, lifecycle_stream
from .domain.snapshot import Snapshot, SnapshotRecord


class EventStore(ABC):
    """Append-only event table, partitioned by stream, unique on (stream, key)."""

    @abstractmethod
    def append(self, records: Sequence[EventRecord]) -> None:
        """Append all records atomically.

        Raises :class:`~chalicelib.domain.errors.DuplicateEvent` (and appends
        nothing) if any (stream, key) already exists.
        """

    @abstractmethod
    def query(
        self,
        stream: str,
        prefix: str = "",
        *,
        reverse: bool = False,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Records of one stream whose key starts with ``prefix``, in key order.

        Strongly consistent: a record appended before the call is returned.
        """

    def append_once(self, records: Sequence[EventRecord]) -> bool:
        """Append unless already there: how idempotent handlers record a decision.

        A redelivered event, a replayed batch or a racing handler finds the
        key taken; that is success, not an error. Returns whether this call
        appended.
        """
        try:
            self.append(records)
        except DuplicateEvent:
            return False
        return True

    def snapshot(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot aggregate, folded from its lifecycle stream (None if never started)."""
        return Snapshot.fold(r.event for r in self.query(lifecycle_stream(snapshot_id)))


def distinct_ids(records: Sequence[EventRecord]) -> list[tuple[str, str]]:
    """The records' (stream, key) pairs; :class:`DuplicateEvent` if one append names a pair twice.

    SQLite's UNIQUE constraint refuses such an append by itself; a store that
    checks each pair against what it holds (DynamoDB, memory) must also check
    them against each other.
    """
    ids = [(r.stream, r.key) for r in records]
    if len(set(ids)) != len(ids):
        raise DuplicateEvent(f"one append names the same (stream, key) twice: {ids}")
    return ids


class EventFeed(ABC):
    """An ordered feed of every appended record, for projections.

    The embedded store has a global order (SQLite rowid); on AWS the DynamoDB
    stream plays this role and feeds the same projection code.
    """

    @abstractmethod
    def read_after(self, position: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` records with position > ``position``, in order."""


class BlockStore(ABC):
    """Immutable objects by key: block bytes and manifest pages.

    Keys come from :mod:`chalicelib.domain.keys` only; an adapter never builds
    a key from client input.
    """

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` durably and atomically under ``key`` (last put wins)."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Return the bytes; raise :class:`ObjectNotFound` if absent."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``, in lexicographic order."""

    @abstractmethod
    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size in bytes) under ``prefix``, in lexicographic order: the garbage collector's and usage's listing."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix`` (used by rebuild and shredding)."""

    @abstractmethod
    def put_shared(self, key: str, data: bytes, fresh_for: float) -> bool:
        """Store ``data`` under a key that names its content, unless it is there; return whether it stored.

        An object found is made young again, unless it is younger than
        ``fresh_for`` seconds: the garbage collector frees only unreferenced
        objects older than its grace period, so an object a write reuses
        cannot be freed before that write is recorded (deduplication's half of
        the collector's safety argument, docs/garbage-collection.md).
        """

    @abstractmethod
    def modified(self, key: str) -> float | None:
        """When the object was written or last made young (epoch seconds), or None if it is absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object; an absent one is no error (a collection may be repeated)."""


class ReadModelStore(ABC):
    """Projected snapshot records and projection checkpoints."""

    @abstractmethod
    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None: ...

    @abstractmethod
    def put_snapshot(self, record: SnapshotRecord) -> None: ...

    @abstractmethod
    def touch_snapshot(self, snapshot_id: str, when: float) -> None:
        """Raise ``last_activity`` to ``when`` if it is later (idempotent)."""

    @abstractmethod
    def pending_snapshots(self) -> list[SnapshotRecord]: ...

    @abstractmethod
    def all_snapshots(self) -> list[SnapshotRecord]: ...

    @abstractmethod
    def snapshots_after(self, after: str | None, limit: int) -> list[SnapshotRecord]:
        """Up to ``limit`` records following the one with id ``after`` (None: from the first).

        The order is the store's own and stable (SQLite: by id; DynamoDB: its
        scan order), so a listing can resume after the last id it returned
        without loading every record (DescribeSnapshots pages).
        """

    @abstractmethod
    def get_checkpoint(self, name: str) -> str | None:
        """The position last committed under ``name``, or None.

        Positions are opaque strings: a SQLite log position is a small
        integer, but a DynamoDB stream sequence number has up to 40 digits,
        more than a DynamoDB number (38) or a SQLite integer (19) can hold.
        """

    @abstractmethod
    def set_checkpoint(self, name: str, position: str) -> None: ...

    @abstractmethod
    def clear(self) -> None:
        """Drop every record and checkpoint (``blocksnap rebuild``)."""


class EncryptionFunction(ABC):
    """The API's only way to encryption: invoking the encryption function.

    Implementations send requests to a separate process (the embedded worker)
    or a separate Lambda with its own role; none of them holds a key. Every
    ciphertext is bound to its block-store key as associated data, so bytes
    moved to another key, snapshot or index fail authentication.
    """

    @abstractmethod
    def create_lineage_key(self, lineage_id: str, kms_key_arn: str) -> None:
        """Generate the lineage's data key under ``kms_key_arn``; store it wrapped only."""

    @abstractmethod
    def encrypt(self, lineage_id: str, object_key: str, plaintext: bytes) -> bytes: ...

    @abstractmethod
    def decrypt(self, lineage_id: str, object_key: str, ciphertext: bytes) -> bytes:
        """Raise :class:`CorruptData` for tampered bytes or a wrong context,
        :class:`DependencyAccessDenied` when the key is gone or access is denied."""


class KeyService(ABC):
    """The KMS interface (GenerateDataKey / Decrypt); only the encryption function has one."""

    @abstractmethod
    def generate_data_key(self, key_id: str, context: dict[str, str]) -> tuple[bytes, bytes]:
        """(plaintext 32-byte key, wrapped key)."""

    @abstractmethod
    def decrypt(self, wrapped: bytes, context: dict[str, str]) -> bytes: ...


class KeyStore(ABC):
    """The scoped access keys, created and revoked while the server runs (the root key is configuration).

    Every HTTP worker process of ``blocksnap serve`` reads the same store: a
    key created or revoked through one worker holds for the next request to
    any other.
    """

    @abstractmethod
    def get(self, access_key_id: str) -> AccessKey | None: ...

    @abstractmethod
    def all(self) -> list[AccessKey]:
        """Every key, oldest first."""

    @abstractmethod
    def add(self, key: AccessKey) -> None: ...

    @abstractmethod
    def remove(self, access_key_id: str) -> bool:
        """Revoke the key; whether it existed."""
