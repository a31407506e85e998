"""The sample events in events/ are what the stream-triggered projector accepts."""

import json
from pathlib import Path

from chalicelib import wiring
from chalicelib.adapters.dynamodb_stream import record_from_image

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_stream_batch_sample_projects_a_snapshot_record():
    batch = json.loads((EVENTS / "projector-stream-batch.json").read_text())
    records = [record_from_image(r["dynamodb"]["NewImage"]) for r in batch["Records"]]
    runtime = wiring.memory()
    runtime.projector.apply(records)
    record = runtime.records.get_snapshot("snap-0123456789abcdef0")
    assert record is not None and record.status == "pending" and record.description == "sample"


def test_encryption_request_sample_names_a_known_operation():
    request = json.loads((EVENTS / "encryption-create-lineage-key.json").read_text())
    from chalicelib.adapters.encryption_wire import OPERATIONS

    assert request["op"] in OPERATIONS
