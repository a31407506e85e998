"""Sub-block writes over HTTP: opt-in, merge with the parent chain, reads, lists, counts."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from blocksnap_client.extensions import BlocksnapClient
from chalicelib.domain.checksums import linear_aggregate

from .conftest import BLOCK, all_blocks, all_changes, block, checksum, put, snapshot, wait_status

UNIT = 4096


@pytest.fixture
def client(server):
    return BlocksnapClient(server.url, **server.credentials)


def merged(base: bytes, *writes: tuple[int, bytes]) -> bytes:
    out = bytearray(base)
    for offset, data in writes:
        out[offset : offset + len(data)] = data
    return bytes(out)


def read(ebs, sid) -> dict[int, bytes]:
    return {
        b["BlockIndex"]: ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=b["BlockIndex"], BlockToken=b["BlockToken"])["BlockData"].read()
        for b in all_blocks(ebs, sid)
    }


def test_sub_blocks_merge_with_parent_zeros_and_full_writes(client):
    ebs = client.ebs
    parent = snapshot(ebs, {0: block("p0"), 1: block("p1"), 2: block("p2")})
    sid = client.start_snapshot(VolumeSize=1, ParentSnapshotId=parent, sub_block_size=UNIT)["SnapshotId"]
    assert client.describe_snapshot(sid)["SubBlockSize"] == UNIT
    a, b, c = b"A" * UNIT, b"B" * (2 * UNIT), b"C" * UNIT
    expected = {
        0: merged(block("p0"), (0, a), (UNIT, c)),     # sub-block on an inherited block, then overwritten in part
        1: block("full"),                               # sub-block later replaced by a full write
        2: block("p2"),                                 # untouched, inherited
        5: merged(bytes(BLOCK), (8 * UNIT, b)),        # never written before: zeros around it
        6: merged(block("f6"), (BLOCK - UNIT, c)),     # sub-block over a full write of this snapshot
    }
    assert client.put_sub_block(sid, 0, 0, a + a) == checksum(merged(block("p0"), (0, a + a)))
    assert client.put_sub_block(sid, 0, UNIT, c) == checksum(expected[0])
    client.put_sub_block(sid, 1, 0, a)
    put(ebs, sid, 1, block("full"))
    assert client.put_sub_block(sid, 5, 8 * UNIT, b) == checksum(expected[5])
    put(ebs, sid, 6, block("f6"))
    client.put_sub_block(sid, 6, BLOCK - UNIT, c)
    aggregate = linear_aggregate(checksum(expected[i]) for i in (0, 1, 5, 6))
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=4, Checksum=aggregate,
                          ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
    wait_status(ebs, sid)
    assert read(ebs, sid) == expected
    assert client.describe_snapshot(sid)["ChangedBlocksCount"] == 4
    assert [c["BlockIndex"] for c in all_changes(ebs, parent, sid)] == [0, 1, 5, 6]
    got = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=0, BlockToken=all_blocks(ebs, sid)[0]["BlockToken"])
    assert got["Checksum"] == checksum(expected[0])

    grandchild = client.start_snapshot(VolumeSize=1, ParentSnapshotId=sid, sub_block_size=UNIT)["SnapshotId"]
    client.put_sub_block(grandchild, 5, 0, c)
    ebs.complete_snapshot(SnapshotId=grandchild, ChangedBlocksCount=1)
    wait_status(ebs, grandchild)
    assert read(ebs, grandchild)[5] == merged(expected[5], (0, c))


def test_only_the_written_sub_blocks_are_stored(client, server):
    sid = client.start_snapshot(VolumeSize=1, sub_block_size=UNIT)["SnapshotId"]
    client.put_sub_block(sid, 3, 0, b"x" * UNIT)
    store = server.store()
    keys = list(store.list(f"blocks/{sid}/"))
    assert len(keys) == 1 and keys[0].startswith(f"blocks/{sid}/{3:09d}-sub-")
    assert len(store.get(keys[0])) == UNIT


def test_sub_block_errors(client):
    ebs = client.ebs
    plain = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(ClientError) as e:
        client.put_sub_block(plain, 0, 0, b"x" * UNIT)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "sub-block writes are not enabled" in e.value.response["Error"]["Message"]
    sid = client.start_snapshot(VolumeSize=1, sub_block_size=UNIT)["SnapshotId"]
    for index, offset, size in [(0, 100, UNIT), (0, 0, 100), (0, BLOCK - UNIT, 2 * UNIT), (2048, 0, UNIT)]:
        with pytest.raises(ClientError) as e:
            client.put_sub_block(sid, index, offset, b"y" * size)
        assert e.value.response["Reason"] == "INVALID_BLOCK", (index, offset, size)
    with pytest.raises(ClientError) as e:
        client.put_sub_block("snap-0123456789abcdef0", 0, 0, b"x" * UNIT)
    assert e.value.response["Reason"] == "SNAPSHOT_NOT_FOUND"
    with pytest.raises(ClientError) as e:
        client.start_snapshot(VolumeSize=1, sub_block_size=3000)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_sub_block_checksum_is_verified_over_raw_http(server, client):
    sid = client.start_snapshot(VolumeSize=1, sub_block_size=UNIT)["SnapshotId"]
    data = b"z" * UNIT
    url = f"{server.url}/blocksnap/v1/snapshots/{sid}/blocks/0/subblocks/0"
    http = server.http()
    headers = {"x-amz-Data-Length": str(UNIT), "x-amz-Checksum-Algorithm": "SHA256"}
    bad = http.put(url, data=data, headers={**headers, "x-amz-Checksum": checksum(b"other")})
    assert bad.status_code == 403 and bad.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
    assert "x-amz-Checksum does not match" in bad.json()["message"]
    good = http.put(url, data=data, headers={**headers, "x-amz-Checksum": checksum(data)})
    assert good.status_code == 201
    assert good.headers["x-amz-Checksum"] == checksum(merged(bytes(BLOCK), (0, data)))
    assert http.put(url.replace("/0/subblocks", "/-1/subblocks"), data=data, headers=headers).status_code == 400
