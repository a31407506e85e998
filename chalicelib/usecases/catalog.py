"""The snapshot catalog: describing snapshots and changing their tags.

**Consistency.** A describe that names its snapshots (the waiters, coldsnap
and dsnap all do) reads each one's lifecycle stream, which is strongly
consistent, over its projected record: a snapshot is visible from the moment
StartSnapshot answers, a tag change or a deletion from the moment its call
answers, and ``completed`` appears only once the manifest is sealed (that
part is the record's). A listing without ids pages over the records
projection, which follows the log within ~100 ms embedded and within the
stream's lag on AWS; like the EC2 API itself (its documented eventual
consistency), a listing may briefly show a snapshot just deleted or miss a
tag just set. Reading every listed snapshot's events instead would cost a
query per snapshot per page.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Sequence

from ..domain import lifecycle
from ..domain.errors import (
    DryRunSucceeded,
    DuplicateEvent,
    InvalidOwner,
    InvalidPageToken,
    InvalidParameterCombination,
    InvalidResourceId,
    SnapshotNotFound,
    ValidationError,
)
from ..domain.events import EventRecord, TagsChanged, lifecycle_stream, tags_key
from ..domain.filters import Filter, attributes, check_filters, selects
from ..domain.ids import check_snapshot_id
from ..domain.snapshot import SnapshotRecord
from ..domain.tags import Tags, with_tags, without_tags
from ..domain.tokens import PAGE_TOKEN_LIFETIME, TokenInvalid, TokenMinter
from ..ports import EventStore, ReadModelStore

SELF = "self"
MIN_PAGE, MAX_PAGE = 5, 1000
# Records read per store call when a listing is not paged.
_CHUNK = 1000
_ACCOUNT = re.compile(r"[0-9]{12}")
_APPEND_RETRIES = 20
_OPERATION = "DescribeSnapshots"


@dataclass(frozen=True)
class SnapshotQuery:
    snapshot_ids: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    restorable_by: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    max_results: int | None = None
    next_token: str | None = None


@dataclass(frozen=True)
class SnapshotPage:
    snapshots: list[SnapshotRecord]
    next_token: str | None


class Catalog:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        tokens: TokenMinter,
        owner_id: str,
        clock: Callable[[], float] = time.time,
    ):
        self.events = events
        self.records = records
        self.tokens = tokens
        self.owner_id = owner_id
        self.clock = clock

    # ---- reading -------------------------------------------------------

    def current(self, snapshot_id: str) -> SnapshotRecord:
        """One snapshot as its events say now (see the module docstring), or SnapshotNotFound."""
        snapshot = self.events.snapshot(snapshot_id)
        if snapshot is None or snapshot.deleted is not None:
            raise SnapshotNotFound(snapshot_id)
        return snapshot.current(self.records.get_snapshot(snapshot_id))

    def describe(self, query: SnapshotQuery, dry_run: bool = False) -> SnapshotPage:
        ids = tuple(dict.fromkeys(check_snapshot_id(i) for i in query.snapshot_ids))
        check_filters(query.filters)
        for owner in query.owners:
            _check_account(owner, (SELF, "amazon"))
        for user in query.restorable_by:
            _check_account(user, (SELF, "all"))
        limit = query.max_results
        if limit is not None:
            if ids:
                raise InvalidParameterCombination(
                    "The parameter snapshotSet cannot be used with the parameter maxResults"
                )
            if limit < MIN_PAGE:
                raise ValidationError(
                    f"Value ( {limit} ) for parameter maxResults is invalid. "
                    f"Expect a number between {MIN_PAGE} and {MAX_PAGE}."
                )
            limit = min(limit, MAX_PAGE)  # AWS answers larger values with pages of 1000
        if ids:
            found = [self.current(i) for i in ids]
            if dry_run:
                raise DryRunSucceeded()
            return SnapshotPage([r for r in found if self._selected(query, r)], None)
        subject = _query_digest(query)
        after = None
        if query.next_token is not None:
            try:
                after = self.tokens.open_keyed_page_token(query.next_token, _OPERATION, subject, self.clock())
            except TokenInvalid:
                raise InvalidPageToken(query.next_token) from None
        if dry_run:
            raise DryRunSucceeded()
        return self._list(query, after, limit, subject)

    def _list(self, query: SnapshotQuery, after: str | None, limit: int | None, subject: str) -> SnapshotPage:
        page: list[SnapshotRecord] = []
        chunk = limit or _CHUNK
        while True:
            records = self.records.snapshots_after(after, chunk)
            for record in records:
                if limit is not None and len(page) == limit:
                    return SnapshotPage(page, self._token(subject, page[-1].snapshot_id))
                if record.status != lifecycle.DELETED and self._selected(query, record):
                    page.append(record)
            if len(records) < chunk:
                return SnapshotPage(page, None)
            after = records[-1].snapshot_id
            if limit is not None and len(page) == limit:
                return SnapshotPage(page, self._token(subject, after))

    def _token(self, subject: str, after: str) -> str:
        return self.tokens.keyed_page_token(_OPERATION, subject, after, self.clock() + PAGE_TOKEN_LIFETIME)

    def _selected(self, query: SnapshotQuery, record: SnapshotRecord) -> bool:
        """Owner and restorable-by scope (only this account's snapshots exist), then the filters."""
        mine = (SELF, self.owner_id)
        if query.owners and not any(o in mine for o in query.owners):
            return False
        if query.restorable_by and not any(u in mine for u in query.restorable_by):
            return False
        return selects(query.filters, attributes(record))

    # ---- tags ----------------------------------------------------------

    def create_tags(self, resource_ids: Sequence[str], tags: Tags, dry_run: bool = False) -> None:
        self._change_tags(resource_ids, lambda current: with_tags(current, tags), dry_run)

    def delete_tags(
        self, resource_ids: Sequence[str], tags: Sequence[tuple[str, str | None]] | None, dry_run: bool = False
    ) -> None:
        self._change_tags(resource_ids, lambda current: without_tags(current, tags), dry_run)

    def _change_tags(self, resource_ids: Sequence[str], change: Callable[[Tags], Tags], dry_run: bool) -> None:
        """Decide every snapshot's new tags and append them together, redeciding after a race."""
        ids = list(dict.fromkeys(resource_ids))
        for value in ids:
            if not value.startswith("snap-"):
                raise InvalidResourceId(value)
            check_snapshot_id(value)
        for _ in range(_APPEND_RETRIES):
            appends = []
            for snapshot_id in ids:
                life = lifecycle.fold(r.event for r in self.events.query(lifecycle_stream(snapshot_id)))
                if life is None or life.deleted:
                    raise SnapshotNotFound(snapshot_id)
                tags = change(life.tags)
                if tags != life.tags:
                    event = TagsChanged(snapshot_id, life.next_tags_seq, tags, round(self.clock(), 3))
                    appends.append(EventRecord(lifecycle_stream(snapshot_id), tags_key(event.seq), event))
            if dry_run:
                raise DryRunSucceeded()
            if not appends:
                return
            try:
                self.events.append(appends)
                return
            except DuplicateEvent:
                continue
        raise ValidationError("Too many concurrent tag changes to these snapshots; retry the request")


def _check_account(value: str, keywords: tuple[str, ...]) -> None:
    if value not in keywords and not _ACCOUNT.fullmatch(value):
        raise InvalidOwner(value)


def _query_digest(query: SnapshotQuery) -> str:
    """What binds a page token to its query: the same scope and filters, whatever the page."""
    fields = asdict(replace(query, next_token=None))
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]
