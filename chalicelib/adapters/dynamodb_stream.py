"""The DynamoDB stream of the event table, as a source of projection batches.

On AWS the stream triggers the projector function (``app.py``), which turns
each stream record into an :class:`EventRecord` with :func:`record_from_image`.
``blocksnap serve --backend aws`` and the tests have no Lambda event source
mapping, so :class:`DynamoDBStreamSource` plays its part: it polls every shard
through the DynamoDB Streams API and commits each shard's last sequence number
as a checkpoint, giving the same at-least-once, per-shard-ordered delivery.
"""

from __future__ import annotations

from typing import Any

from ..domain.events import Event, EventRecord
from ..ports import ReadModelStore

_BATCH = 1000


def record_from_image(image: dict[str, Any]) -> EventRecord:
    """An event-table item in DynamoDB JSON (a stream record's NewImage) as an EventRecord."""
    return EventRecord(
        image["stream"]["S"],
        image["key"]["S"],
        Event.from_json(image["type"]["S"], image["data"]["S"]),
    )


class DynamoDBStreamSource:
    def __init__(self, streams_client: Any, stream_arn: str, records: ReadModelStore, checkpoint_prefix: str = "stream"):
        self._prefix = checkpoint_prefix
        self._streams = streams_client
        self.stream_arn = stream_arn
        self._records = records
        self._iterators: dict[str, str | None] = {}
        self._turn = 0

    def positions(self) -> dict[str, str | None]:
        """Every shard's committed position: what ``rebuild --backend aws`` watches for a live projector."""
        description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return {s["ShardId"]: self._records.get_checkpoint(self._checkpoint_name(s["ShardId"]))
                for s in description.get("Shards", [])}

    def _checkpoint_name(self, shard_id: str) -> str:
        return f"{self._prefix}:{shard_id}"

    def _refresh_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            after = self._records.get_checkpoint(self._checkpoint_name(shard_id))
            args: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
            if after:
                args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
            else:
                args.update(ShardIteratorType="TRIM_HORIZON")
            self._iterators[shard_id] = self._streams.get_shard_iterator(**args)["ShardIterator"]

    def next_batch(self):
        if not self._iterators or self._turn % 50 == 0:
            self._refresh_shards()
        self._turn += 1
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=iterator, Limit=_BATCH)
            following = response.get("NextShardIterator")
            items = [r for r in response.get("Records", []) if r["dynamodb"].get("NewImage")]
            if not items:
                self._iterators[shard_id] = following
                continue
            batch = [record_from_image(r["dynamodb"]["NewImage"]) for r in items]
            return batch, self._committer(shard_id, items[-1]["dynamodb"]["SequenceNumber"], following)
        return [], (lambda: None)

    def _committer(self, shard_id: str, last: str, following: str | None):
        """Move past a batch only once it is projected: a failed batch is read again, like a Lambda retry."""

        def commit() -> None:
            self._records.set_checkpoint(self._checkpoint_name(shard_id), last)
            self._iterators[shard_id] = following

        return commit
