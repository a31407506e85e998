"""The commands the use cases take: typed, validated by the wire layer, free of wire names.

A command says what a caller asks for; ``None`` means "not given", which the
rules tell apart from false or zero where AWS does (Encrypted, Timeout).
"""

from __future__ import annotations

from dataclasses import dataclass

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StartRequest:
    """What StartSnapshot asks for; ``None`` means "not given", which the rules tell apart from false."""

    volume_size: int
    parent_snapshot_id: str | None = None
    description: str | None = None
    tags: Tags = ()
    encrypted: bool | None = None
    kms_key_arn: str | None = None
    timeout_minutes: int | None = None
    client_token: str | None = None
    sub_block_size: int | None = None


@dataclass(frozen=True)
class CopyRequest:
    """An encrypted copy of a completed snapshot, made by the encryption function."""

    source_snapshot_id: str
    encrypted: bool | None = None
    kms_key_arn: str | None = None
    description: str | None = None
    tags: Tags = ()
    client_token: str | None = None


@dataclass(frozen=True)
class PutBlock:
    """A full block write (``offset`` None) or a sub-block write at ``offset``."""

    snapshot_id: str
    index: int
    data: bytes
    declared_length: int
    checksum: str
    checksum_algorithm: str
    offset: int | None = None


@dataclass(frozen=True)
class CompleteSnapshot:
    snapshot_id: str
    changed_blocks_count: int
    checksum: str | None = None
    checksum_algorithm: str | None = None
    aggregation_method: str | None = None


@dataclass(frozen=True)
class GetBlock:
    snapshot_id: str
    index: int
    block_token: str


@dataclass(frozen=True)
class ListBlocks:
    snapshot_id: str
    starting_index: int | None = None
    max_results: int | None = None
    next_token: str | None = None


@dataclass(frozen=True)
class ListChanges:
    second_snapshot_id: str
    first_snapshot_id: str | None = None
    starting_index: int | None = None
    max_results: int | None = None
    next_token: str | None = None
