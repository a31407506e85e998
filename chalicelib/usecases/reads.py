"""The read operations: GetSnapshotBlock, ListSnapshotBlocks, ListChangedBlocks, and describe.

Reads use the projected record and the sealed manifest, so a snapshot is
readable exactly when its manifest is complete — the same lag AWS shows
between EC2 ``completed`` and the direct-API read plane. Block and page
tokens are HMACs minted here and checked here, so a client can neither forge
a token nor use one for another snapshot, index or listing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

from ..core.blockio import BlockIO
from ..core.cache import BoundedCache
from ..core.manifest_store import ManifestStore
from ..domain.commands import GetBlock, ListBlocks, ListChanges
from ..domain.errors import InvalidBlockToken, InvalidPageToken, InvalidSnapshotId, SnapshotNotFound, UnrelatedSnapshots
from ..domain.events import DELETED_KEY, BlockWritten, SubBlockWritten, block_streams, lifecycle_stream
from ..domain.manifest import diff
from ..domain.snapshot import BLOCKS_PER_GIB, COMPLETED, SnapshotRecord
from ..domain.tokens import BLOCK_TOKEN_LIFETIME, EMPTY_LIST_EXPIRY, PAGE_TOKEN_LIFETIME, PageCursor, TokenInvalid, TokenMinter
from ..ports import EventStore, ReadModelStore

DEFAULT_MAX_RESULTS = 10000
# Completed snapshot records kept in memory by the read operations (a few hundred bytes each).
COMPLETED_RECORDS_CACHED = 4096

T = TypeVar("T")


@dataclass(frozen=True)
class BlockContent:
    data: bytes
    digest: str


@dataclass(frozen=True)
class BlockRef:
    index: int
    token: str


@dataclass(frozen=True)
class BlockChange:
    """A changed index; a token is None on the side where the block does not exist."""

    index: int
    first_token: str | None
    second_token: str | None


@dataclass(frozen=True)
class Page:
    """One page of a listing: its items, when their tokens expire, and the token of the next page."""

    items: list
    expiry: float
    volume_size: int
    next_token: str | None


class Reads:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        manifests: ManifestStore,
        blockio: BlockIO,
        tokens: TokenMinter,
        clock: Callable[[], float] = time.time,
    ):
        self.events = events
        self.records = records
        self.manifests = manifests
        self.blockio = blockio
        self.tokens = tokens
        self.clock = clock
        self._completed: BoundedCache[SnapshotRecord] = BoundedCache(COMPLETED_RECORDS_CACHED)

    def readable(self, snapshot_id: str) -> SnapshotRecord:
        """A snapshot the read operations may serve: completed and sealed.

        A completed record never changes again, so it is kept in memory: a
        GetSnapshotBlock then costs no read-model query (SQLite, or a DynamoDB
        read) on top of its block. Only a deletion ends it, and that is read
        from the events on every call (one keyed lookup), so a snapshot is gone
        from every process the moment DeleteSnapshot answers, without waiting
        for the records projection.
        """
        record = self._completed.get(snapshot_id)
        if record is None:
            record = self.records.get_snapshot(snapshot_id)
            if record is None or record.status != COMPLETED:
                raise SnapshotNotFound(snapshot_id)
            self._completed.put(snapshot_id, record)
        if self.events.query(lifecycle_stream(snapshot_id), DELETED_KEY):
            self._completed.discard(snapshot_id)
            raise SnapshotNotFound(snapshot_id)
        return record

    def get_block(self, command: GetBlock) -> BlockContent:
        record = self.readable(command.snapshot_id)
        try:
            self.tokens.check_block_token(command.block_token, command.snapshot_id, command.index, self.clock())
        except TokenInvalid:
            raise InvalidBlockToken(command.block_token) from None
        entry = None
        if command.index < record.volume_size * BLOCKS_PER_GIB:
            entry = self.manifests.open(command.snapshot_id).lookup(command.index)
        if entry is None:
            raise InvalidBlockToken(command.block_token)
        data = self.blockio.read(entry, record.lineage_id if record.encrypted else None)
        return BlockContent(data, entry.digest)

    def list_blocks(self, command: ListBlocks) -> Page:
        snapshot_id = command.snapshot_id
        record = self.readable(snapshot_id)
        start = self._start_index(command.next_token, command.starting_index, "ListSnapshotBlocks", snapshot_id)
        extent = record.volume_size * BLOCKS_PER_GIB
        indexes = (e.index for e in self.manifests.open(snapshot_id).entries(start) if e.index < extent)
        page, next_token, expiry = self._page(indexes, int, command.max_results, "ListSnapshotBlocks", snapshot_id)
        refs = [BlockRef(i, self.tokens.block_token(snapshot_id, i, expiry)) for i in page]
        return Page(refs, expiry, record.volume_size, next_token)

    def list_changes(self, command: ListChanges) -> Page:
        first_id, second_id = command.first_snapshot_id, command.second_snapshot_id
        if not first_id:
            raise InvalidSnapshotId("First snapshot should not be empty or null")
        first = self.readable(first_id)
        second = self.readable(second_id)
        if first.lineage_id != second.lineage_id:
            raise UnrelatedSnapshots(f"The snapshots {first_id} and {second_id} are not from the same lineage")
        subject = f"{first_id}:{second_id}"
        start = self._start_index(command.next_token, command.starting_index, "ListChangedBlocks", subject)
        changes = diff(self.manifests.open(first_id), self.manifests.open(second_id), start)
        page, next_token, expiry = self._page(changes, lambda change: change[0], command.max_results, "ListChangedBlocks", subject)
        items = [
            BlockChange(
                index,
                self.tokens.block_token(first_id, index, expiry) if a is not None else None,
                self.tokens.block_token(second_id, index, expiry) if b is not None else None,
            )
            for index, a, b in page
        ]
        return Page(items, expiry, second.volume_size, next_token)

    def list_checksums(self, command: ListBlocks) -> Page:
        """Every block of a completed snapshot with its SHA-256, inherited ones included.

        What an incremental backup compares its image with, so that it sends
        only what changed without downloading the parent.
        """
        record = self.readable(command.snapshot_id)
        operation = "ListSnapshotChecksums"
        start = self._start_index(command.next_token, command.starting_index, operation, command.snapshot_id)
        extent = record.volume_size * BLOCKS_PER_GIB
        entries = (
            (e.index, e.digest) for e in self.manifests.open(command.snapshot_id).entries(start) if e.index < extent
        )
        page, next_token, expiry = self._page(entries, lambda item: item[0], command.max_results, operation, command.snapshot_id)
        return Page(page, expiry, record.volume_size, next_token)

    def list_writes(self, command: ListBlocks) -> Page:
        """The writes a snapshot has acknowledged, latest per index, in index order: what a resumed upload skips.

        Read from the block-write events (a pending snapshot has no manifest),
        so the cost is the snapshot's writes, once per page; resuming is rare.
        """
        snapshot = self.events.snapshot(command.snapshot_id)
        if snapshot is None or snapshot.deleted is not None:
            raise SnapshotNotFound(command.snapshot_id)
        operation = "ListSnapshotWrites"
        start = self._start_index(command.next_token, command.starting_index, operation, command.snapshot_id)
        latest: dict[int, BlockWritten | SubBlockWritten] = {}
        for stream in block_streams(command.snapshot_id):
            for record in self.events.query(stream):
                event = record.event
                if isinstance(event, (BlockWritten, SubBlockWritten)) and event.index >= start:
                    if event.index not in latest or latest[event.index].seq < event.seq:
                        latest[event.index] = event
        writes = ((index, _digest(latest[index])) for index in sorted(latest))
        page, next_token, expiry = self._page(writes, lambda item: item[0], command.max_results, operation, command.snapshot_id)
        return Page(page, expiry, snapshot.started.volume_size, next_token)

    def describe(self, snapshot_id: str) -> SnapshotRecord:
        """The snapshot in any state, as its events say now (:meth:`Snapshot.current`)."""
        snapshot = self.events.snapshot(snapshot_id)
        if snapshot is None or snapshot.deleted is not None:
            raise SnapshotNotFound(snapshot_id)
        return snapshot.current(self.records.get_snapshot(snapshot_id))

    def _start_index(self, token: str | None, starting_index: int | None, operation: str, subject: str) -> int:
        if token is None:
            return starting_index or 0
        try:
            return self.tokens.open_page_token(token, operation, subject, self.clock())
        except TokenInvalid:
            raise InvalidPageToken(token) from None

    def _page(
        self, items: Iterable[T], index_of: Callable[[T], int], limit: int | None, operation: str, subject: str
    ) -> tuple[list[T], str | None, float]:
        """Up to ``limit`` items, the token of the page after them, and when this page's block tokens expire."""
        now = self.clock()
        limit = limit or DEFAULT_MAX_RESULTS
        page: list[T] = []
        next_token = None
        for item in items:
            if len(page) == limit:
                cursor = PageCursor(operation, subject, index_of(item))
                next_token = self.tokens.page_token(cursor, now + PAGE_TOKEN_LIFETIME)
                break
            page.append(item)
        expiry = round(now + (BLOCK_TOKEN_LIFETIME if page else EMPTY_LIST_EXPIRY), 3)
        return page, next_token, expiry


def _digest(event: BlockWritten | SubBlockWritten) -> str:
    """The whole block's digest after this write."""
    return event.digest if isinstance(event, BlockWritten) else event.merged_digest
