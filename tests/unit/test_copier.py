"""Encrypted copies on the memory runtime: identical content, no plaintext, resumable."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chalicelib.http.bindings import Calls
from chalicelib import wiring
from chalicelib.core.blockio import BlockIO
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.events import (
    COPY_KEY,
    OUTCOME_KEY,
    BlockWritten,
    CopyProgressed,
    EventRecord,
    SnapshotFailed,
    block_streams,
    progress_stream,
)
from chalicelib.domain.snapshot import BLOCK_SIZE, COMPLETED
from chalicelib.encryption.copier import PROGRESS_EVERY, Copier
from chalicelib.encryption.service import EncryptionService
from chalicelib.encryption.local_kms import LocalKeyService
from chalicelib.ports import EncryptionFunction
from chalicelib.usecases.write_sink import WriteSink

ARN = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
SUB_BLOCK = 4096


def block(label: str) -> bytes:
    """512 KiB of pseudo-random bytes: any 32-byte run of it found elsewhere is a leak."""
    return random.Random(label).randbytes(BLOCK_SIZE)


def put(service: Calls, snapshot_id: str, index: int, data: bytes) -> None:
    service.put_snapshot_block({
        "SnapshotId": snapshot_id, "BlockIndex": index, "BlockData": data, "DataLength": len(data),
        "Checksum": sha256_b64(data), "ChecksumAlgorithm": "SHA256",
    })


def seal(runtime: wiring.Runtime, service: Calls, snapshot_id: str) -> None:
    service.complete_snapshot({"SnapshotId": snapshot_id, "ChangedBlocksCount": len(
        {e.index for s in block_streams(snapshot_id) for e in (r.event for r in runtime.events.query(s))}
    )})
    runtime.projector.catch_up()
    assert runtime.records.get_snapshot(snapshot_id).status == COMPLETED


def build_chain(runtime: wiring.Runtime, service: Calls | None = None, **start) -> list[str]:
    """Three snapshots, each overwriting some of its parent's blocks; the last also writes a sub-block."""
    service = service or Calls(runtime.usecases)
    root = service.start_snapshot({"VolumeSize": 1, **start})["SnapshotId"]
    for i in range(70):  # more than PROGRESS_EVERY, so progress is reported on the way
        put(service, root, i, block(f"root-{i}"))
    seal(runtime, service, root)
    child = service.start_snapshot({"VolumeSize": 1, "ParentSnapshotId": root})["SnapshotId"]
    for i in (3, 4, 100):
        put(service, child, i, block(f"child-{i}"))
    seal(runtime, service, child)
    grandchild = service.start_snapshot(
        {"VolumeSize": 1, "ParentSnapshotId": child, "SubBlockSize": SUB_BLOCK}
    )["SnapshotId"]
    put(service, grandchild, 4, block("grandchild-4"))
    part = block("grandchild-part")[:SUB_BLOCK]
    service.put_snapshot_sub_block({
        "SnapshotId": grandchild, "BlockIndex": 5, "Offset": 2 * SUB_BLOCK, "BlockData": part,
        "DataLength": SUB_BLOCK, "Checksum": sha256_b64(part), "ChecksumAlgorithm": "SHA256",
    })
    seal(runtime, service, grandchild)
    return [root, child, grandchild]


def request_copy(runtime: wiring.Runtime, source_id: str) -> EventRecord:
    copy_id = Calls(runtime.usecases).copy_snapshot({"SourceSnapshotId": source_id, "Encrypted": True, "KmsKeyArn": ARN})["SnapshotId"]
    [record] = runtime.events.query(copy_id, COPY_KEY)
    return record


class CountingEncryption(EncryptionFunction):
    """The in-process function, counting encryptions; it crashes like a killed process after ``crash_after``."""

    def __init__(self, inner: EncryptionFunction, crash_after: int | None = None):
        self.inner = inner
        self.crash_after = crash_after
        self.encrypted = 0

    def create_lineage_key(self, lineage_id, kms_key_arn):
        self.inner.create_lineage_key(lineage_id, kms_key_arn)

    def encrypt(self, lineage_id, object_key, plaintext):
        if self.encrypted == self.crash_after:
            raise RuntimeError("simulated crash")
        self.encrypted += 1
        return self.inner.encrypt(lineage_id, object_key, plaintext)

    def decrypt(self, lineage_id, object_key, ciphertext):
        return self.inner.decrypt(lineage_id, object_key, ciphertext)


@pytest.fixture
def runtime() -> wiring.Runtime:
    return wiring.memory()


@pytest.fixture
def function(runtime, tmp_path: Path) -> EncryptionService:
    return EncryptionService(LocalKeyService(tmp_path / "kms"), runtime.blocks)


def copier(runtime: wiring.Runtime, encryption: EncryptionFunction) -> Copier:
    return Copier(
        runtime.events, runtime.manifests, runtime.blocks, encryption,
        WriteSink(runtime.events),
    )


def assert_identical_encrypted_copy(runtime, function, source_id: str, copy_id: str) -> None:
    runtime.projector.catch_up()
    record = runtime.records.get_snapshot(copy_id)
    assert record.status == COMPLETED, record.state_message
    source = list(runtime.manifests.open(source_id).entries())
    copy = list(runtime.manifests.open(copy_id).entries())
    assert [(e.index, e.digest) for e in copy] == [(e.index, e.digest) for e in source]
    assert {e.writer for e in copy} == {copy_id}
    plain = BlockIO(runtime.blocks)
    encrypted = BlockIO(runtime.blocks, function)
    prefix = keys.snapshot_blocks_prefix(copy_id)
    stored = {key: runtime.blocks.get(key) for key in runtime.blocks.list(prefix)}
    assert len(stored) == len(source)
    for s, c in zip(source, copy):
        data = plain.read(s)
        assert encrypted.read(c, copy_id) == data
        assert all(data[at : at + 32] not in stored[c.key] for at in (0, 4096, BLOCK_SIZE - 32))


def test_an_encrypted_copy_of_a_three_deep_chain_reads_back_identical(runtime, function):
    *_, grandchild = build_chain(runtime)
    record = request_copy(runtime, grandchild)
    copier(runtime, function).handle(record)
    copy_id = record.event.snapshot_id
    assert_identical_encrypted_copy(runtime, function, grandchild, copy_id)
    progress = [r.event for r in runtime.events.query(progress_stream(copy_id))]
    assert [(p.blocks_done, p.blocks_total) for p in progress] == [(PROGRESS_EVERY, 71), (71, 71)]
    assert all(isinstance(p, CopyProgressed) for p in progress)


def test_a_crash_mid_copy_resumes_with_no_gap_and_no_duplicate(runtime, function):
    *_, grandchild = build_chain(runtime)
    record = request_copy(runtime, grandchild)
    copy_id = record.event.snapshot_id
    with pytest.raises(RuntimeError, match="simulated crash"):
        copier(runtime, CountingEncryption(function, crash_after=30)).handle(record)
    assert runtime.events.query(copy_id, OUTCOME_KEY) == []

    second = CountingEncryption(function)
    copier(runtime, second).handle(record)
    assert second.encrypted == 71 - 30
    writes = [r.event for s in block_streams(copy_id) for r in runtime.events.query(s)]
    assert all(isinstance(w, BlockWritten) for w in writes)
    assert sorted(w.index for w in writes) == sorted({w.index for w in writes})
    assert len(writes) == 71
    assert_identical_encrypted_copy(runtime, function, grandchild, copy_id)


def test_a_redelivered_request_changes_nothing(runtime, function):
    *_, grandchild = build_chain(runtime)
    record = request_copy(runtime, grandchild)
    copier(runtime, function).handle(record)
    before = runtime.events.read_after(0, 100_000)
    again = CountingEncryption(function)
    copier(runtime, again).handle(record)
    assert again.encrypted == 0
    assert runtime.events.read_after(0, 100_000) == before


def test_a_corrupt_source_fails_the_copy(runtime, function):
    root, *_ = build_chain(runtime)
    entry = runtime.manifests.open(root).lookup(10)
    runtime.blocks.put(entry.key, b"\0" * BLOCK_SIZE)
    record = request_copy(runtime, root)
    copier(runtime, function).handle(record)
    copy_id = record.event.snapshot_id
    [outcome] = runtime.events.query(copy_id, OUTCOME_KEY)
    assert isinstance(outcome.event, SnapshotFailed)
    assert f"Copy of {root} failed" in outcome.event.message
    assert "failed its checksum" in outcome.event.message
    runtime.projector.catch_up()
    assert runtime.records.get_snapshot(copy_id).status == "error"


def test_an_encrypted_source_is_decrypted_with_its_own_lineage(runtime, function):
    service = Calls(wiring.assemble(
        runtime.events, runtime.records, runtime.blocks, b"k" * 32, None, encryption=function
    ).usecases)
    *_, grandchild = build_chain(runtime, service, Encrypted=True, KmsKeyArn=ARN)
    record = request_copy(runtime, grandchild)
    copier(runtime, function).handle(record)
    copy_id = record.event.snapshot_id
    runtime.projector.catch_up()
    source_lineage = runtime.records.get_snapshot(grandchild).lineage_id
    source = list(runtime.manifests.open(grandchild).entries())
    copy = list(runtime.manifests.open(copy_id).entries())
    assert [(e.index, e.digest) for e in copy] == [(e.index, e.digest) for e in source]
    blockio = BlockIO(runtime.blocks, function)
    for s, c in zip(source, copy):
        assert blockio.read(c, copy_id) == blockio.read(s, source_lineage)


def test_other_records_are_ignored(runtime, function):
    root, *_ = build_chain(runtime)
    before = runtime.events.read_after(0, 100_000)
    for record in runtime.events.query(root):
        copier(runtime, function).handle(record)
    assert runtime.events.read_after(0, 100_000) == before
