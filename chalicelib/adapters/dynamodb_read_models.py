"""Cloud read models: snapshot records and checkpoints in one DynamoDB table.

* **Snapshot items** are keyed by ``snapshot_id`` and hold the whole record as
  JSON in ``record``, so :class:`SnapshotRecord` can grow fields without a
  migration. Two fields are lifted out because DynamoDB itself must see them:
  ``status`` for the index below, ``last_activity`` (a number) for the
  conditional touch. On read, the lifted ``last_activity`` wins.
* **Checkpoint items** share the table under ``checkpoint/<name>`` with one
  DynamoDB attribute, ``sequence`` (``position`` in the pynamodb model). Snapshot ids are
  ``snap-…``, so the two cannot collide, and having no ``status`` keeps
  checkpoints out of the index and out of :meth:`all_snapshots`. One table is
  one thing to create, grant and wipe (:meth:`clear`) for a rebuild: the same
  projections replay the event table into it (``blocksnap rebuild
  --backend aws``).
* **status-index** (GSI on ``status``, KEYS_ONLY) lets the timeout sweep read
  the pending snapshots instead of scanning every snapshot ever taken. Keys
  only, because ``touch_snapshot`` rewrites ``last_activity`` of a busy
  snapshot with every projector batch, and a projected record would turn each
  touch into a second write on the index. A GSI is eventually consistent, so the keys are read back with a
  strongly consistent BatchGetItem and filtered on their current status: a
  snapshot sealed a moment ago is never reported pending, one started a moment
  ago may wait for the next sweep.
* **touch_snapshot** is a conditional UpdateItem (``last_activity < :when``)
  whose condition failure is swallowed, so a late or redelivered stream batch
  never moves a snapshot's clock back.

Gap: :meth:`all_snapshots` and :meth:`clear` scan the table; they serve a
rebuild, not the request path. DescribeSnapshots pages with
:meth:`snapshots_after`, a scan resumed after the last key returned.
"""

from __future__ import annotations

import json

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from ..domain.snapshot import PENDING, SnapshotRecord
from ..ports import ReadModelStore
from .aws_errors import CONDITION_FAILED, error_code, translates_throttling

STATUS_INDEX = "status-index"
CHECKPOINT_PREFIX = "checkpoint/"


def read_model_models(
    table_name: str, *, host: str | None = None, region: str | None = None
) -> tuple[type[Model], type[Model]]:
    """The snapshot and checkpoint Model classes of one table and endpoint.

    Built at runtime because pynamodb keeps table name and endpoint on the
    class, and blocksnap reads both from the environment. The table itself is
    created by :mod:`chalicelib.cli.aws_setup` or ``infra/``.
    """
    meta = {"table_name": table_name, "host": host, "region": region}

    class StatusIndex(GlobalSecondaryIndex):
        Meta = type("Meta", (), {"index_name": STATUS_INDEX, "projection": KeysOnlyProjection()})
        status = UnicodeAttribute(hash_key=True)

    class SnapshotItem(Model):
        Meta = type("Meta", (), meta)
        snapshot_id = UnicodeAttribute(hash_key=True)
        status = UnicodeAttribute()
        last_activity = NumberAttribute()
        record = UnicodeAttribute()
        by_status = StatusIndex()

    class CheckpointItem(Model):
        Meta = type("Meta", (), meta)
        name = UnicodeAttribute(hash_key=True, attr_name="snapshot_id")
        position = UnicodeAttribute(attr_name="sequence")

    return SnapshotItem, CheckpointItem


@translates_throttling
class DynamoDBReadModelStore(ReadModelStore):
    def __init__(self, table_name: str, *, host: str | None = None, region: str | None = None):
        self._snapshots, self._checkpoints = read_model_models(table_name, host=host, region=region)

    def get_snapshot(self, snapshot_id):
        try:
            item = self._snapshots.get(snapshot_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _record(item)

    def put_snapshot(self, record):
        self._snapshots(
            record.snapshot_id,
            status=record.status,
            last_activity=record.last_activity,
            record=json.dumps(record.to_dict(), sort_keys=True),
        ).save()

    def touch_snapshot(self, snapshot_id, when):
        model = self._snapshots
        try:
            model(snapshot_id).update(
                actions=[model.last_activity.set(when)],
                condition=model.snapshot_id.exists() & (model.last_activity < when),
            )
        except UpdateError as exc:
            if error_code(exc) not in CONDITION_FAILED:
                raise

    def pending_snapshots(self):
        keys = [item.snapshot_id for item in self._snapshots.by_status.query(PENDING)]
        items = self._snapshots.batch_get(keys, consistent_read=True)
        return sorted(
            (r for r in map(_record, items) if r.status == PENDING), key=lambda r: r.snapshot_id
        )

    def all_snapshots(self):
        items = self._snapshots.scan(self._snapshots.status.exists(), consistent_read=True)
        return sorted(map(_record, items), key=lambda r: r.snapshot_id)

    def snapshots_after(self, after, limit):
        """A scan resumed after ``after``'s key: DynamoDB's own (hash) order, stable between calls."""
        start = {"snapshot_id": {"S": after}} if after else None
        items = self._snapshots.scan(
            self._snapshots.status.exists(), consistent_read=True, limit=limit, last_evaluated_key=start
        )
        return list(map(_record, items))

    def get_checkpoint(self, name):
        try:
            return self._checkpoints.get(CHECKPOINT_PREFIX + name, consistent_read=True).position
        except DoesNotExist:
            return None

    def set_checkpoint(self, name, position):
        self._checkpoints(CHECKPOINT_PREFIX + name, position=str(position)).save()

    def clear(self):
        model = self._snapshots
        # Keys are listed before anything is deleted, so the scan never pages
        # over items the deletes are removing.
        keys = list(model.scan(consistent_read=True, attributes_to_get=["snapshot_id"]))
        with model.batch_write() as batch:
            for item in keys:
                batch.delete(item)


def _record(item) -> SnapshotRecord:
    values = json.loads(item.record)
    values["last_activity"] = item.last_activity
    return SnapshotRecord.from_dict(values)
