"""ListSnapshotBlocks, ListChangedBlocks, tokens, pagination and lineage with the real boto3 client."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .conftest import all_blocks, all_changes, block, snapshot
from .test_ebs_lifecycle import error_of


@pytest.fixture(scope="module")
def chain(server):
    """root -> child -> grandchild, and a sibling of child; plus an unrelated snapshot."""
    ebs = server.client()
    root = snapshot(ebs, {0: block("r0"), 1: block("r1"), 2: block("r2"), 9: block("r9")})
    child = snapshot(ebs, {1: block("c1"), 3: block("c3"), 9: block("r9")}, parent=root)
    grandchild = snapshot(ebs, {2: block("g2"), 4: block("g4")}, parent=child)
    sibling = snapshot(ebs, {0: block("s0"), 5: block("s5")}, parent=root)
    other = snapshot(ebs, {0: block("o0")})
    return dict(root=root, child=child, grandchild=grandchild, sibling=sibling, other=other)


def read(ebs, sid, index, token):
    return ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockToken=token)["BlockData"].read()


def test_child_inherits_every_block_of_its_chain(ebs, chain):
    blocks = {b["BlockIndex"]: b["BlockToken"] for b in all_blocks(ebs, chain["grandchild"])}
    assert sorted(blocks) == [0, 1, 2, 3, 4, 9]
    expected = {0: "r0", 1: "c1", 2: "g2", 3: "c3", 4: "g4", 9: "r9"}
    for index, tag in expected.items():
        assert read(ebs, chain["grandchild"], index, blocks[index]) == block(tag)


def changed(ebs, first, second):
    return {
        c["BlockIndex"]: ("FirstBlockToken" in c, "SecondBlockToken" in c)
        for c in all_changes(ebs, first, second)
    }


def test_changes_between_descendant_and_ancestor_are_by_write(ebs, chain):
    assert changed(ebs, chain["root"], chain["child"]) == {1: (True, True), 3: (False, True), 9: (True, True)}
    assert changed(ebs, chain["root"], chain["grandchild"]) == {
        1: (True, True), 2: (True, True), 3: (False, True), 4: (False, True), 9: (True, True),
    }
    assert changed(ebs, chain["grandchild"], chain["root"]) == {
        1: (True, True), 2: (True, True), 3: (True, False), 4: (True, False), 9: (True, True),
    }
    assert changed(ebs, chain["child"], chain["child"]) == {}


def test_siblings_report_the_union_of_their_divergent_writes(ebs, chain):
    assert changed(ebs, chain["child"], chain["sibling"]) == {
        0: (True, True), 1: (True, True), 3: (True, False), 5: (False, True), 9: (True, True),
    }


def test_changed_block_tokens_read_each_side(ebs, chain):
    changes = {c["BlockIndex"]: c for c in all_changes(ebs, chain["root"], chain["grandchild"])}
    assert read(ebs, chain["root"], 2, changes[2]["FirstBlockToken"]) == block("r2")
    assert read(ebs, chain["grandchild"], 2, changes[2]["SecondBlockToken"]) == block("g2")


def test_unrelated_lineages_and_missing_first_snapshot(ebs, chain):
    with pytest.raises(ClientError) as e:
        ebs.list_changed_blocks(FirstSnapshotId=chain["other"], SecondSnapshotId=chain["child"])
    assert error_of(e)[0::3] == (400, "UNRELATED_SNAPSHOTS")
    with pytest.raises(ClientError) as e:
        ebs.list_changed_blocks(SecondSnapshotId=chain["child"])
    assert error_of(e)[2:] == ("First snapshot should not be empty or null", "INVALID_SNAPSHOT_ID")


def test_block_tokens_are_bound_to_snapshot_and_index(ebs, chain):
    blocks = {b["BlockIndex"]: b["BlockToken"] for b in all_blocks(ebs, chain["root"])}
    child_blocks = {b["BlockIndex"]: b["BlockToken"] for b in all_blocks(ebs, chain["child"])}
    page = ebs.list_snapshot_blocks(SnapshotId=chain["root"], MaxResults=100)
    bad = [
        (chain["root"], 1, blocks[0]),            # token of another index
        (chain["root"], 5, blocks[0]),            # unwritten index
        (chain["child"], 0, blocks[0]),           # parent's token on the child
        (chain["root"], 0, child_blocks[0]),      # child's token on the parent
        (chain["root"], 0, "bm90IGEgdG9rZW4="),   # well-formed base64, not ours
        (chain["root"], 0, blocks[0][:-4] + "AAAA"),  # tampered
        (chain["root"], 4096, blocks[0]),         # beyond the volume
    ]
    for sid, index, token in bad:
        with pytest.raises(ClientError) as e:
            ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockToken=token)
        assert error_of(e) == (400, "ValidationException", f"The block token {token} is invalid.", "INVALID_BLOCK_TOKEN")
    assert page["Blocks"] and "NextToken" not in page


def test_pagination_of_snapshot_blocks(ebs):
    sid = snapshot(ebs, {i: block(f"p{i % 3}") for i in range(250)})
    pages = []
    token = None
    while True:
        args = dict(SnapshotId=sid, MaxResults=100)
        if token:
            args["NextToken"] = token
        page = ebs.list_snapshot_blocks(**args)
        pages.append([b["BlockIndex"] for b in page["Blocks"]])
        assert page["VolumeSize"] == 1 and page["BlockSize"] == 524288
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [100, 100, 50]
    assert sum(pages, []) == list(range(250))
    start = ebs.list_snapshot_blocks(SnapshotId=sid, StartingBlockIndex=240, MaxResults=100)
    assert [b["BlockIndex"] for b in start["Blocks"]] == list(range(240, 250))
    beyond = ebs.list_snapshot_blocks(SnapshotId=sid, StartingBlockIndex=5000)
    assert beyond["Blocks"] == []


def test_page_tokens_are_bound_to_operation_and_subject(ebs, chain):
    sid = snapshot(ebs, {i: block("q") for i in range(150)})
    token = ebs.list_snapshot_blocks(SnapshotId=sid, MaxResults=100)["NextToken"]
    block_token = all_blocks(ebs, sid)[0]["BlockToken"]
    misuse = [
        lambda: ebs.list_snapshot_blocks(SnapshotId=chain["root"], NextToken=token),
        lambda: ebs.list_changed_blocks(FirstSnapshotId=chain["root"], SecondSnapshotId=chain["child"], NextToken=token),
        lambda: ebs.list_snapshot_blocks(SnapshotId=sid, NextToken=block_token),
        lambda: ebs.list_snapshot_blocks(SnapshotId=sid, NextToken="Zm9yZ2Vk"),
    ]
    for call in misuse:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[3] == "INVALID_PAGE_TOKEN"
    rest = ebs.list_snapshot_blocks(SnapshotId=sid, NextToken=token, MaxResults=100)
    assert [b["BlockIndex"] for b in rest["Blocks"]] == list(range(100, 150))


def test_pagination_of_changed_blocks(ebs):
    parent = snapshot(ebs, {i: block("base") for i in range(300)})
    child = snapshot(ebs, {i: block("new") for i in range(0, 300, 2)}, parent=parent)
    pages = []
    token = None
    while True:
        args = dict(FirstSnapshotId=parent, SecondSnapshotId=child, MaxResults=100)
        if token:
            args["NextToken"] = token
        page = ebs.list_changed_blocks(**args)
        pages.append([c["BlockIndex"] for c in page["ChangedBlocks"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [100, 50]
    assert sum(pages, []) == list(range(0, 300, 2))
    later = all_changes(ebs, parent, child, StartingBlockIndex=250)
    assert [c["BlockIndex"] for c in later] == list(range(250, 300, 2))
