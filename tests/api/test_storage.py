"""Deduplicated storage and the usage figures, over HTTP on both backends."""

from __future__ import annotations

import pytest

from chalicelib.client import BlocksnapClient

from .conftest import block, snapshot

BLOCK = 524288


@pytest.fixture
def client(server):
    return BlocksnapClient(server.url, aws_access_key_id="AKID", aws_secret_access_key="secret")


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
