"""Encrypted snapshots and encrypted copies, through the real boto3 client, on both backends."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from blocksnap_client.extensions import BlocksnapClient

from .conftest import all_blocks, all_changes, block, put, snapshot, start_server, wait_status


@pytest.fixture
def client(server):
    return BlocksnapClient(server.url, **server.credentials)


def read(ebs, sid) -> dict[int, bytes]:
    return {
        b["BlockIndex"]: ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=b["BlockIndex"], BlockToken=b["BlockToken"])["BlockData"].read()
        for b in all_blocks(ebs, sid)
    }


def stored(server, sid) -> list[bytes]:
    store = server.store()
    return [store.get(k) for k in store.list(f"blocks/{sid}/")]


def wait_copy(client, sid, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = client.describe_snapshot(sid)
        if doc["Status"] != "pending" or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def test_encrypted_round_trip_stores_no_plaintext(ebs, server):
    blocks = {0: block("secret-0"), 9: block("secret-9")}
    started = ebs.start_snapshot(VolumeSize=1, Encrypted=True)
    default = server.env.get("BLOCKSNAP_DEFAULT_KMS_KEY_ARN", "arn:aws:kms:us-east-1:000000000000:key/aws-ebs-default")
    assert started["KmsKeyArn"] == default
    sid = started["SnapshotId"]
    for i, d in blocks.items():
        put(ebs, sid, i, d)
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=2)
    wait_status(ebs, sid)
    assert read(ebs, sid) == blocks
    raw = stored(server, sid)
    assert len(raw) == 2
    for ciphertext in raw:
        assert b"secret-" not in ciphertext
    child = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=sid)
    assert child["KmsKeyArn"] == started["KmsKeyArn"], "an incremental snapshot inherits its parent's key"
    put(ebs, child["SnapshotId"], 1, block("secret-1"))
    ebs.complete_snapshot(SnapshotId=child["SnapshotId"], ChangedBlocksCount=1)
    wait_status(ebs, child["SnapshotId"])
    assert read(ebs, child["SnapshotId"]) == {**blocks, 1: block("secret-1")}


def test_tampered_ciphertext_is_a_clean_error(ebs, server):
    sid = snapshot(ebs, {3: block("t")}, Encrypted=True)
    store = server.store()
    [key] = list(store.list(f"blocks/{sid}/"))
    data = bytearray(store.get(key))
    data[100] ^= 0xFF
    store.put(key, bytes(data))
    token = all_blocks(ebs, sid)[0]["BlockToken"]
    with pytest.raises(ClientError) as e:
        ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=3, BlockToken=token)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert e.value.response["Error"]["Code"] == "InternalServerException"


def test_encrypted_copy_of_a_three_deep_chain_reads_back_identical(client, server):
    ebs = client.ebs
    root = snapshot(ebs, {0: block("r0"), 1: block("r1"), 7: block("r7")})
    child = snapshot(ebs, {1: block("c1"), 2: block("c2")}, parent=root)
    leaf = snapshot(ebs, {7: block("l7"), 300: block("l300")}, parent=child)
    answer = client.copy_snapshot(leaf, Encrypted=True, Description="encrypted copy", Tags=[{"Key": "k", "Value": "v"}])
    assert answer["Status"] == "pending"
    copy = answer["SnapshotId"]
    doc = wait_copy(client, copy)
    assert doc["Status"] == "completed", doc
    assert doc["Encrypted"] is True and doc["Progress"] == 100 and doc["SourceSnapshotId"] == leaf
    assert doc["ChangedBlocksCount"] == 5 and doc["Description"] == "encrypted copy"
    assert read(ebs, copy) == read(ebs, leaf)
    for ciphertext in stored(server, copy):
        assert b"block-" not in ciphertext
    with pytest.raises(ClientError) as e:
        all_changes(ebs, leaf, copy)
    assert e.value.response["Reason"] == "UNRELATED_SNAPSHOTS"
    later = snapshot(ebs, {2: block("after")}, parent=copy)
    assert client.describe_snapshot(later)["Encrypted"] is True
    assert read(ebs, later)[2] == block("after")
    assert [c["BlockIndex"] for c in all_changes(ebs, copy, later)] == [2]


def test_copy_errors(client):
    ebs = client.ebs
    pending = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(ClientError) as e:
        client.copy_snapshot(pending, Encrypted=True)
    assert e.value.response["Reason"] == "INVALID_SNAPSHOT_ID"
    with pytest.raises(ClientError) as e:
        client.copy_snapshot("snap-0123456789abcdef0", Encrypted=True)
    assert e.value.response["Reason"] == "SNAPSHOT_NOT_FOUND"
    done = snapshot(ebs, {0: block("x")})
    with pytest.raises(ClientError) as e:
        client.copy_snapshot(done, Encrypted=False)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    first = client.copy_snapshot(done, Encrypted=True, ClientToken="copy-token-1")
    assert client.copy_snapshot(done, Encrypted=True, ClientToken="copy-token-1") == first
    with pytest.raises(ClientError) as e:
        client.copy_snapshot(done, Encrypted=True, ClientToken="copy-token-1", Description="other")
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_crypto_shredding_makes_a_lineage_unreadable(tmp_path, request):
    srv = start_server("embedded", request, tmp_path / "data")
    try:
        ebs = srv.client()
        sid = snapshot(ebs, {0: block("shred")}, Encrypted=True)
        token = all_blocks(ebs, sid)[0]["BlockToken"]
        assert ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=0, BlockToken=token)["BlockData"].read() == block("shred")
        srv.store().delete_prefix(f"keys/{sid}")
        srv.stop()  # the running function caches data keys for minutes; a restart forgets them
        srv.start()
        ebs = srv.client()
        with pytest.raises(ClientError) as e:
            ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=0, BlockToken=token)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        assert e.value.response["Reason"] == "DEPENDENCY_ACCESS_DENIED"
    finally:
        srv.stop()
