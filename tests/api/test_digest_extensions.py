"""The digest extensions a backup tool needs: a completed snapshot's checksums, a pending one's acknowledged writes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from blocksnap_client.extensions import BlocksnapClient

from .conftest import block, checksum, put, snapshot

UNIT = 4096


@pytest.fixture
def client(server):
    return BlocksnapClient(server.url, **server.credentials)


def all_pages(call, snapshot_id: str, **query) -> list[dict]:
    blocks, token = [], None
    while True:
        page = call(snapshot_id, **query, **({"pageToken": token} if token else {}))
        blocks += page["Blocks"]
        token = page["NextToken"]
        if token is None:
            return blocks


def test_checksums_cover_inherited_blocks_in_index_order_and_page(client):
    parent = snapshot(client.ebs, {i: block(f"p{i}") for i in range(150)})
    child = snapshot(client.ebs, {3: block("c3"), 200: block("c200")}, parent=parent)
    expected = {i: checksum(block(f"p{i}")) for i in range(150)} | {3: checksum(block("c3")), 200: checksum(block("c200"))}
    got = all_pages(client.list_checksums, child, maxResults=100)
    assert [b["BlockIndex"] for b in got] == sorted(expected)
    assert {b["BlockIndex"]: b["Checksum"] for b in got} == expected
    first = client.list_checksums(child, maxResults=100)
    assert first["ChecksumAlgorithm"] == "SHA256" and first["VolumeSize"] == 1 and first["BlockSize"] == 524288
    assert client.list_checksums(child, startingBlockIndex=150)["Blocks"] == [{"BlockIndex": 200, "Checksum": expected[200]}]


def test_checksums_of_a_pending_snapshot_are_not_found(client):
    sid = client.ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(ClientError) as err:
        client.list_checksums(sid)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_writes_of_a_pending_snapshot_are_the_latest_per_index(client):
    sid = client.start_snapshot(VolumeSize=1, sub_block_size=UNIT)["SnapshotId"]
    put(client.ebs, sid, 7, block("first"))
    put(client.ebs, sid, 7, block("second"))
    put(client.ebs, sid, 2, block("two"))
    merged = client.put_sub_block(sid, 9, UNIT, b"\x01" * UNIT)
    got = all_pages(client.list_writes, sid)
    assert got == [
        {"BlockIndex": 2, "Checksum": checksum(block("two"))},
        {"BlockIndex": 7, "Checksum": checksum(block("second"))},
        {"BlockIndex": 9, "Checksum": merged},
    ]


def test_listing_members_are_checked_by_the_model(client):
    sid = client.ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(ClientError) as err:
        client.list_writes(sid, maxResults=5)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "maxResults" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        client.list_writes("snap-0123456789abcdef0")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
