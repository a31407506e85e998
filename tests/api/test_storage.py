"""Deduplicated storage and the usage figures, over HTTP on both backends."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from blocksnap_client.extensions import BlocksnapClient

from .conftest import block, snapshot

BLOCK = 524288


@pytest.fixture
def client(server):
    return BlocksnapClient(server.url, **server.credentials)


def usage(client) -> dict:
    return client._call("GET", "/blocksnap/v1/usage", "GetUsage")


def test_two_full_uploads_of_one_image_take_the_space_of_one(client):
    image = {i: block(f"dedup-image-{i}") for i in range(8)}
    before = usage(client)
    snapshot(client.ebs, image)
    once = usage(client)
    snapshot(client.ebs, image)  # an unrelated full snapshot of the same disk
    snapshot(client.ebs, {i + 100: data for i, data in image.items()})  # the same blocks at other indexes
    twice = usage(client)
    assert once["StoredBytes"] - before["StoredBytes"] == 8 * BLOCK
    assert twice["StoredBytes"] == once["StoredBytes"]
    assert twice["StoredBlocks"] == once["StoredBlocks"]
    assert set(twice) == {"StoredBytes", "StoredBlocks", "ReferencedBytes", "ReclaimableBytes"}
    assert twice["ReferencedBytes"] + twice["ReclaimableBytes"] == twice["StoredBytes"]


def test_deleting_the_middle_of_a_chain_keeps_the_leaf_and_deleting_all_frees_the_store(tmp_path):
    """With a short grace period, so the collector (every 50 ms here) frees what deletions leave."""
    from tests.servers import BlocksnapServer

    from .conftest import all_blocks

    data_dir = tmp_path / "data"
    srv = BlocksnapServer(data_dir, env={"BLOCKSNAP_GC_SECONDS": "0.05", "BLOCKSNAP_GC_GRACE_SECONDS": "1"}).start()
    try:
        ebs, ec2 = srv.client(), srv.ec2()
        root = snapshot(ebs, {0: block("r0"), 1: block("r1"), 2: block("r2")})
        middle = snapshot(ebs, {1: block("m1"), 3: block("m3")}, parent=root)
        leaf = snapshot(ebs, {2: block("l2")}, parent=middle)
        expected = {0: block("r0"), 1: block("m1"), 2: block("l2"), 3: block("m3")}
        changes_before = [c["BlockIndex"] for c in ebs.list_changed_blocks(
            FirstSnapshotId=root, SecondSnapshotId=leaf)["ChangedBlocks"]]
        ec2.delete_snapshot(SnapshotId=middle)

        def leaf_blocks():
            return {
                b["BlockIndex"]: ebs.get_snapshot_block(
                    SnapshotId=leaf, BlockIndex=b["BlockIndex"], BlockToken=b["BlockToken"])["BlockData"].read()
                for b in all_blocks(ebs, leaf)
            }

        time.sleep(2.5)  # past the grace period: collections have run since the deletion
        assert leaf_blocks() == expected  # blocks inherited through the deleted snapshot included
        assert [c["BlockIndex"] for c in ebs.list_changed_blocks(
            FirstSnapshotId=root, SecondSnapshotId=leaf)["ChangedBlocks"]] == changes_before == [1, 2, 3]
        with pytest.raises(ClientError) as err:
            ebs.list_snapshot_blocks(SnapshotId=middle)
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
        # Every block is still reached: r1 and r2 by the root, m1 and m3 by the leaf through the deleted middle.
        assert blob_bytes(data_dir) == 6 * BLOCK
        for sid in (root, leaf):
            ec2.delete_snapshot(SnapshotId=sid)
        deadline = time.monotonic() + 20
        while blob_bytes(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert blob_bytes(data_dir) == 0
        assert not list((data_dir / "store" / "manifests").rglob("root"))
    finally:
        srv.stop()


def blob_bytes(data_dir) -> int:
    """Block bytes on disk (shared blobs and per-snapshot blocks), manifests aside."""
    return sum(
        p.stat().st_size
        for folder in ("blobs", "blocks")
        for p in (data_dir / "store" / folder).rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
