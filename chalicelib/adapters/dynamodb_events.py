"""The cloud event table: DynamoDB through pynamodb.

Why the table looks the way it does (``docs/dynamodb-table-design.md`` has the
long form):

* **Partition key = stream.** Every read the service makes is "the events of
  one stream": a snapshot's lifecycle, one block shard, one ClientToken. So
  each read is a single strongly consistent Query on a single partition, with
  no scan and no index, and the sixteen block shards of a snapshot spread its
  write rate over sixteen partitions (each capped near 1,000 WCU).
* **Sort key = key.** It orders a stream the way the domain reads it:
  ``0-started < 1-completion < 2-outcome``, and ``<index:09d>/<seq:06d>`` so
  that ``begins_with(key, "000000012/")`` is exactly index 12 (the slash keeps
  index 120 out) and a reverse Query with ``Limit=1`` is its latest write.
* **The condition is the concurrency control.** ``attribute_not_exists(stream)``
  is evaluated against the item with the same full primary key, so it fails
  exactly when that (stream, key) is taken: two racing writers cannot both
  decide an outcome and a retried request cannot append twice. Several records
  go in one TransactWriteItems with the condition on each: all land or none.
* **Items are small.** Stream, key, type and the JSON of a frozen dataclass come
  to ~350 bytes for a block write (~4 KB for the largest, a SnapshotStarted
  with 50 tags), far below the 400 KB item limit: a block write is 1 WCU and a
  1 MB Query page holds ~3,000 of them.
* **NEW_IMAGE stream.** Items are never updated, so the new image is the whole
  event; the projector consumes it as the cloud counterpart of SQLite's rowid.

Retries: pynamodb retries throttling and transient errors inside botocore. A
retried PutItem whose first attempt landed reports :class:`DuplicateEvent`;
that is safe because callers answer a duplicate by reloading the stream, where
they find their own event. Transactions carry a ClientRequestToken, which makes
their retries idempotent in DynamoDB. A TransactionConflict (another
transaction holds one of the items) says nothing yet about whether the key is
taken, so the append waits a few milliseconds for that transaction to settle
and tries again; only if it keeps conflicting is the race reported as lost.
Errors other than a lost race (throttling after retries, missing table)
propagate as they are.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Iterator, Sequence

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from ..domain.errors import DuplicateEvent
from ..domain.events import Event, EventRecord
from ..ports import EventStore, distinct_ids
from .aws_errors import CONDITION_FAILED, error_code, translates_throttling

MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems limit

# Seconds between attempts while another transaction holds an item; DynamoDB
# transactions settle in tens of milliseconds, so these cover one comfortably.
CONFLICT_WAITS = (0.01, 0.02, 0.05, 0.1)

_IN_FLIGHT = {"TransactionConflictException", "TransactionConflict"}


class _InFlight(Exception):
    """Another transaction holds an item: nothing was written, try again."""


def event_model(table_name: str, *, host: str | None = None, region: str | None = None) -> type[Model]:
    """A Model class bound to one table and endpoint.

    Built at runtime because pynamodb keeps table name and endpoint on the
    class, and blocksnap reads both from the environment (AWS, LocalStack, a
    test's moto server). Credentials come from the standard AWS chain. The
    table itself is created by :mod:`chalicelib.cli.aws_setup` or ``infra/``.
    """

    class EventItem(Model):
        Meta = type("Meta", (), {"table_name": table_name, "host": host, "region": region})
        stream = UnicodeAttribute(hash_key=True)
        key = UnicodeAttribute(range_key=True)
        type_name = UnicodeAttribute(attr_name="type")
        data = UnicodeAttribute()

    return EventItem


@translates_throttling
class DynamoDBEventStore(EventStore):
    def __init__(self, table_name: str, *, host: str | None = None, region: str | None = None):
        self._model = event_model(table_name, host=host, region=region)
        self._connection = Connection(region=region, host=host)

    def append(self, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        if len(records) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"at most {MAX_TRANSACTION_ITEMS} records per append, got {len(records)}")
        # DynamoDB would reject two operations on one item with a ValidationException;
        # for the caller this is the same collision SQLite reports.
        ids = distinct_ids(records)
        items = [self._item(r) for r in records]
        write = self._put if len(items) == 1 else self._transact
        for wait in (*CONFLICT_WAITS, None):
            try:
                write(items)
                return
            except _InFlight as exc:
                if wait is None:
                    raise DuplicateEvent(f"{ids} stayed held by other transactions") from exc
                time.sleep(wait * random.uniform(0.5, 1.5))

    def _item(self, record: EventRecord) -> Model:
        return self._model(
            record.stream, record.key, type_name=record.event.type_name, data=record.event.to_json()
        )

    def _put(self, items: list[Model]) -> None:
        [item] = items
        try:
            item.save(condition=self._model.stream.does_not_exist())
        except PutError as exc:
            if error_code(exc) in CONDITION_FAILED:
                raise DuplicateEvent(f"({item.stream}, {item.key}) already exists") from exc
            if error_code(exc) in _IN_FLIGHT:
                raise _InFlight() from exc
            raise

    def _transact(self, items: list[Model]) -> None:
        condition = self._model.stream.does_not_exist()
        try:
            with TransactWrite(connection=self._connection, client_request_token=uuid.uuid4().hex) as tx:
                for item in items:
                    tx.save(item, condition=condition)
        except TransactWriteError as exc:
            codes = {reason.code for reason in exc.cancellation_reasons if reason is not None}
            if codes & CONDITION_FAILED:
                taken = [
                    (item.stream, item.key)
                    for item, reason in zip(items, exc.cancellation_reasons)
                    if reason is not None and reason.code in CONDITION_FAILED
                ]
                raise DuplicateEvent(f"already exist: {taken}") from exc
            if codes & _IN_FLIGHT:
                raise _InFlight() from exc
            raise

    def scan_key(self, key: str) -> Iterator[EventRecord]:
        """Every record stored under ``key``, in any stream.

        A full table Scan (billed for every item read), so only for a
        rebuild: it finds every snapshot's ``0-started`` record, because the
        stream of the table keeps 24 hours and a rebuild must start from the
        first event.
        """
        for item in self._model.scan(self._model.key == key, consistent_read=True):
            yield EventRecord(item.stream, item.key, Event.from_json(item.type_name, item.data))

    def query(self, stream, prefix="", *, reverse=False, limit=None):
        condition = self._model.key.startswith(prefix) if prefix else None
        items = self._model.query(
            stream,
            range_key_condition=condition,
            consistent_read=True,
            scan_index_forward=not reverse,
            limit=limit,
        )
        return [
            EventRecord(item.stream, item.key, Event.from_json(item.type_name, item.data))
            for item in items
        ]
