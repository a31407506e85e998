"""Every read of block content is verified, including the base a sub-block write is merged onto."""

from __future__ import annotations

import pytest

from chalicelib.http.bindings import Calls
from chalicelib import wiring
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import CorruptData

BLOCK = 524288
SUB_BLOCK = 4096


def write(service, sid, index, data):
    service.put_snapshot_block({
        "SnapshotId": sid, "BlockIndex": index, "BlockData": data, "DataLength": BLOCK,
        "Checksum": sha256_b64(data), "ChecksumAlgorithm": "SHA256",
    })


def test_a_sub_block_write_refuses_a_corrupted_base():
    runtime = wiring.memory()
    service = Calls(runtime.usecases)
    sid = service.start_snapshot({"VolumeSize": 1, "SubBlockSize": SUB_BLOCK})["SnapshotId"]
    write(service, sid, 1, b"\x01" * BLOCK)
    stored = keys.blob_key(sha256_b64(b"\x01" * BLOCK))
    assert list(runtime.blocks.list("blobs/")) == [stored]
    runtime.blocks.put(stored, b"\x02" * BLOCK)  # the store, not a client, changed it
    part = b"\x03" * SUB_BLOCK
    with pytest.raises(CorruptData):
        service.put_snapshot_sub_block({
            "SnapshotId": sid, "BlockIndex": 1, "Offset": 0, "BlockData": part,
            "DataLength": SUB_BLOCK, "Checksum": sha256_b64(part), "ChecksumAlgorithm": "SHA256",
        })
