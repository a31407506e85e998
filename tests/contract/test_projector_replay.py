"""A projector killed in the middle of a batch replays it: nothing duplicated, nothing lost.

Runs on every backend: the memory and SQLite logs with their checkpoints, and
the DynamoDB stream of the event table on a moto server.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from chalicelib.http.bindings import Calls
from chalicelib import wiring
from chalicelib.adapters.file_blocks import FileBlockStore
from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.adapters.memory_read_models import MemoryReadModelStore
from chalicelib.adapters.sqlite_read_models import SQLiteReadModelStore
from chalicelib.domain.events import OUTCOME_KEY, SnapshotSealed
from chalicelib.projections.runner import LogSource, Projector

BLOCK = 524288


class Crash(Exception):
    pass


def data(tag: str) -> bytes:
    return (tag.encode() * BLOCK)[:BLOCK]


def put(service, sid, index, payload):
    service.put_snapshot_block({
        "SnapshotId": sid, "BlockIndex": index, "BlockData": payload, "DataLength": BLOCK,
        "Checksum": base64.b64encode(hashlib.sha256(payload).digest()).decode(), "ChecksumAlgorithm": "SHA256",
    })


def drain(projector: Projector) -> None:
    for _ in range(200):
        if projector.run_once() == 0 and projector.run_once() == 0:
            return


def crash_midway(projector: Projector) -> None:
    """Apply half of the next batch's record projection, then die before the checkpoint moves."""
    real = projector.snapshot_records.handle_batch

    def half_then_crash(batch):
        real(batch[: len(batch) // 2])
        raise Crash()

    projector.snapshot_records.handle_batch = half_then_crash
    try:
        with pytest.raises(Crash):
            for _ in range(50):
                projector.run_once()
    finally:
        projector.snapshot_records.handle_batch = real


def scenario(runtime) -> list[str]:
    service = Calls(runtime.usecases)
    root = service.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    for i in range(6):
        put(service, root, i, data(f"r{i}"))
    service.complete_snapshot({"SnapshotId": root, "ChangedBlocksCount": 6})
    failed = service.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    put(service, failed, 0, data("f"))
    service.complete_snapshot({"SnapshotId": failed, "ChangedBlocksCount": 5})
    return [root, failed]


def check(runtime, fresh_records, sids):
    records = {r.snapshot_id: r for r in runtime.records.all_snapshots()}
    assert {sid: records[sid].status for sid in sids} == {sids[0]: "completed", sids[1]: "error"}
    assert [r.to_dict() for r in runtime.records.all_snapshots()] == [r.to_dict() for r in fresh_records.all_snapshots()]
    outcomes = [r for r in runtime.events.query(sids[0]) if r.key == OUTCOME_KEY]
    assert len(outcomes) == 1 and isinstance(outcomes[0].event, SnapshotSealed)
    entries = list(runtime.manifests.open(sids[0]).entries())
    assert [e.index for e in entries] == list(range(6))


LOG_BACKENDS = {
    # runtime, then a fresh (read models, block store) pair to replay the same log into
    "memory": (lambda tmp: wiring.memory(), lambda tmp: (MemoryReadModelStore(), MemoryBlockStore())),
    "embedded": (
        lambda tmp: wiring.embedded(tmp / "data"),
        lambda tmp: (SQLiteReadModelStore(tmp / "fresh-readmodels.sqlite3"), FileBlockStore(tmp / "fresh-store")),
    ),
}


@pytest.mark.parametrize("backend", LOG_BACKENDS)
def test_log_projector_replays_a_killed_batch(tmp_path, backend):
    build, fresh_stores = LOG_BACKENDS[backend]
    runtime = build(tmp_path)
    sids = scenario(runtime)
    crash_midway(runtime.projector)
    drain(runtime.projector)  # the sealer's own events are projected by later batches
    fresh_records, fresh_blocks = fresh_stores(tmp_path)
    fresh = wiring.assemble(runtime.events, fresh_records, fresh_blocks, b"s" * 32,
                            LogSource(runtime.events, fresh_records))
    drain(fresh.projector)
    check(runtime, fresh.records, sids)


def test_stream_projector_replays_a_killed_batch(moto_server, aws_names, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("BLOCKSNAP_EVENTS_TABLE", aws_names.events_table)
    monkeypatch.setenv("BLOCKSNAP_SNAPSHOTS_TABLE", aws_names.snapshots_table)
    monkeypatch.setenv("BLOCKSNAP_BUCKET", aws_names.bucket)
    runtime = wiring.aws()
    sids = scenario(runtime)
    crash_midway(runtime.projector)
    drain(runtime.projector)
    from chalicelib.cli.aws_setup import ensure_tables_and_bucket
    from chalicelib.wiring import AwsNames

    second = AwsNames(aws_names.events_table, aws_names.snapshots_table + "-fresh", aws_names.bucket)
    ensure_tables_and_bucket(second, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    monkeypatch.setenv("BLOCKSNAP_SNAPSHOTS_TABLE", second.snapshots_table)
    fresh = wiring.aws()
    drain(fresh.projector)
    check(runtime, fresh.records, sids)
