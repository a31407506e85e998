"""The real boto3 ``ec2`` client over HTTP against ``blocksnap serve``, on both backends.

Snapshots are made through the EBS direct APIs (the ``ebs`` fixture) and then
described, tagged, copied and deleted through EC2 on the same endpoint, as
coldsnap, dsnap and boto3 users do.
"""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from .conftest import block, read_all, snapshot

UNKNOWN = "snap-0123456789abcdef0"


@pytest.fixture
def ec2(server):
    return server.ec2()


def error(call, **kw) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call(**kw)
    err = info.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message") or ""


def describe(ec2, sid: str) -> dict:
    (snap,) = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"]
    return snap


def eventually(check, timeout: float = 20.0):
    """``check()``'s value once it is truthy: for listings, which follow the records projection."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def listed(ec2, **kw) -> list[dict]:
    return [s for page in ec2.get_paginator("describe_snapshots").paginate(**kw) for s in page["Snapshots"]]


@pytest.fixture
def tagged(ebs):
    """A completed two-block snapshot with a run-unique tag, and that tag."""
    run = uuid.uuid4().hex[:8]
    sid = snapshot(ebs, {0: block("e0"), 3: block("e3")}, volume_size=2, Description="ec2 test",
                   Tags=[{"Key": "run", "Value": run}])
    return sid, run


def test_a_completed_direct_api_snapshot_as_aws_describes_it(ec2, tagged):
    sid, run = tagged
    snap = describe(ec2, sid)
    assert snap["SnapshotId"] == sid
    assert snap["VolumeId"] == "vol-ffffffff"
    assert (snap["State"], snap["Progress"], snap["StorageTier"]) == ("completed", "100%", "standard")
    assert (snap["VolumeSize"], snap["Description"], snap["Encrypted"]) == (2, "ec2 test", False)
    assert snap["OwnerId"] == "000000000000"
    assert snap["Tags"] == [{"Key": "run", "Value": run}]
    assert snap["StartTime"].tzinfo is not None and snap["CompletionTime"] >= snap["StartTime"]
    assert "KmsKeyId" not in snap and "StateMessage" not in snap


def test_a_pending_snapshot_is_visible_at_once_and_the_waiter_sees_it_complete(ec2, ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    snap = describe(ec2, sid)  # no projection lag: coldsnap's waiter polls right after StartSnapshot
    assert (snap["State"], snap["Progress"]) == ("pending", "0%")
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=0)
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert describe(ec2, sid)["State"] == "completed"


def test_the_waiter_fails_on_an_unknown_snapshot(ec2):
    from botocore.exceptions import WaiterError

    with pytest.raises(WaiterError, match="InvalidSnapshot.NotFound"):
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[UNKNOWN], WaiterConfig={"Delay": 1, "MaxAttempts": 2})


def test_snapshot_id_errors(ec2, tagged):
    sid, _ = tagged
    assert error(ec2.describe_snapshots, SnapshotIds=[sid, UNKNOWN]) == (
        400, "InvalidSnapshot.NotFound", f"The snapshot '{UNKNOWN}' does not exist.")
    assert error(ec2.describe_snapshots, SnapshotIds=["snap-nothex"]) == (
        400, "InvalidSnapshotID.Malformed", 'Invalid id: "snap-nothex"')
    status, code, message = error(ec2.describe_snapshots, SnapshotIds=["snap-0123456789ABCDEF0"])
    assert (status, code) == (400, "InvalidParameterValue") and "snap-0123456789ABCDEF0" in message


def test_filters_select_and_reject(ec2, ebs, tagged):
    sid, run = tagged

    def ids(*filters, **kw):
        answer = ec2.describe_snapshots(SnapshotIds=[sid], Filters=list(filters), **kw)
        return [s["SnapshotId"] for s in answer["Snapshots"]]

    f = lambda name, *values: {"Name": name, "Values": list(values)}  # noqa: E731
    for selecting in ([f("status", "pending", "completed")], [f("tag:run", run)], [f("tag-key", "r?n")],
                      [f("description", "ec2*")], [f("volume-size", "2")], [f("encrypted", "false")],
                      [f("owner-id", "000000000000")], [f("progress", "100%")], [f("snapshot-id", "snap-*")],
                      [f("start-time", "20*Z")], [f("volume-id", "vol-ffffffff")], [f("storage-tier", "standard")]):
        assert ids(*selecting) == [sid], selecting
    for rejecting in ([f("status", "pending")], [f("tag:run", "other")], [f("tag:missing", "*")],
                      [f("description", "ec2")], [f("encrypted", "true")], [f("kms-key-id", "*")],
                      [f("status", "completed"), f("volume-size", "1")]):
        assert ids(*rejecting) == [], rejecting
    assert ids(OwnerIds=["self"]) == [sid]
    assert ids(OwnerIds=["000000000000"], RestorableByUserIds=["self"]) == [sid]
    assert ids(OwnerIds=["amazon"]) == []
    assert error(ec2.describe_snapshots, Filters=[f("colour", "blue")]) == (
        400, "InvalidParameterValue", "The filter 'colour' is invalid")
    assert error(ec2.describe_snapshots, OwnerIds=["someone"])[:2] == (400, "InvalidUserID.Malformed")


def test_listing_pages_over_more_snapshots_than_a_page(ec2, ebs):
    run = uuid.uuid4().hex[:8]
    made = set()
    for _ in range(12):
        sid = ebs.start_snapshot(VolumeSize=1, Tags=[{"Key": "page-run", "Value": run}])["SnapshotId"]
        made.add(sid)
    selecting = [{"Name": "tag:page-run", "Values": [run]}]
    found = eventually(lambda: len(listed(ec2, Filters=selecting)) == 12)
    assert found, "the listing never showed all twelve snapshots"
    pages = list(ec2.get_paginator("describe_snapshots").paginate(
        Filters=selecting, OwnerIds=["self"], PaginationConfig={"PageSize": 5}))
    assert len(pages) >= 3
    assert all(len(p["Snapshots"]) <= 5 for p in pages)
    seen = [s["SnapshotId"] for p in pages for s in p["Snapshots"]]
    assert sorted(seen) == sorted(made)  # every snapshot once, none twice
    assert "NextToken" not in pages[-1]
    # a token is bound to its query
    token = next(p["NextToken"] for p in pages if "NextToken" in p)
    assert error(ec2.describe_snapshots, MaxResults=5, NextToken=token)[:2] == (400, "InvalidNextToken")
    assert error(ec2.describe_snapshots, MaxResults=5, Filters=selecting, NextToken="forged")[:2] == (
        400, "InvalidNextToken")


def test_max_results_rules(ec2, tagged):
    sid, _ = tagged
    assert error(ec2.describe_snapshots, SnapshotIds=[sid], MaxResults=5)[:2] == (400, "InvalidParameterCombination")
    assert error(ec2.describe_snapshots, MaxResults=4)[:2] == (400, "InvalidParameterValue")
    # larger than 1000 is answered with pages of at most 1000, as AWS does
    assert len(ec2.describe_snapshots(MaxResults=5000)["Snapshots"]) <= 1000


def test_create_and_delete_tags(ec2, ebs, tagged):
    sid, run = tagged
    ec2.create_tags(Resources=[sid], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""},
                                          {"Key": "run", "Value": "renamed"}])
    assert describe(ec2, sid)["Tags"] == [{"Key": "run", "Value": "renamed"}, {"Key": "a", "Value": "1"},
                                          {"Key": "b", "Value": ""}]
    ec2.delete_tags(Resources=[sid], Tags=[{"Key": "a", "Value": "other"}, {"Key": "b", "Value": ""}])
    assert describe(ec2, sid)["Tags"] == [{"Key": "run", "Value": "renamed"}, {"Key": "a", "Value": "1"}]
    ec2.delete_tags(Resources=[sid], Tags=[{"Key": "a"}])
    assert describe(ec2, sid)["Tags"] == [{"Key": "run", "Value": "renamed"}]
    # the listing follows the projection
    renamed = [{"Name": "tag:run", "Values": ["renamed"]}, {"Name": "snapshot-id", "Values": [sid]}]
    assert eventually(lambda: listed(ec2, Filters=renamed))
    ec2.delete_tags(Resources=[sid])
    assert "Tags" not in describe(ec2, sid)


def test_tag_errors_and_the_limit_of_fifty(ec2, tagged):
    sid, _ = tagged
    assert error(ec2.create_tags, Resources=[UNKNOWN], Tags=[{"Key": "a", "Value": "1"}])[:2] == (
        400, "InvalidSnapshot.NotFound")
    assert error(ec2.create_tags, Resources=["vol-0123"], Tags=[{"Key": "a", "Value": "1"}]) == (
        400, "InvalidID", "The ID 'vol-0123' is not valid")
    assert error(ec2.create_tags, Resources=[sid], Tags=[{"Key": "aws:x", "Value": "1"}])[:2] == (
        400, "InvalidParameterValue")
    assert error(ec2.create_tags, Resources=[sid], Tags=[{"Key": "", "Value": "1"}]) == (
        400, "InvalidParameterValue", "Tag key cannot be null or empty")
    assert error(ec2.create_tags, Resources=[sid], Tags=[]) == (
        400, "MissingParameter", "The request must contain the parameter Tag")
    ec2.create_tags(Resources=[sid], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])  # 1 + 49 = 50
    ec2.create_tags(Resources=[sid], Tags=[{"Key": "k0", "Value": "overwritten at the limit"}])
    assert error(ec2.create_tags, Resources=[sid], Tags=[{"Key": "one-more", "Value": "v"}])[:2] == (
        400, "TagLimitExceeded")
    assert len(describe(ec2, sid)["Tags"]) == 50


def test_tags_of_several_snapshots_change_together(ec2, ebs, tagged):
    sid, _ = tagged
    other = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    # one unknown id and nothing is tagged
    assert error(ec2.create_tags, Resources=[other, UNKNOWN], Tags=[{"Key": "both", "Value": "1"}])[:2] == (
        400, "InvalidSnapshot.NotFound")
    assert "Tags" not in describe(ec2, other)
    ec2.create_tags(Resources=[sid, other], Tags=[{"Key": "both", "Value": "1"}])
    assert {"Key": "both", "Value": "1"} in describe(ec2, sid)["Tags"]
    assert describe(ec2, other)["Tags"] == [{"Key": "both", "Value": "1"}]


def test_delete_snapshot(ec2, ebs):
    parent = snapshot(ebs, {0: block("d0"), 1: block("d1")})
    child = snapshot(ebs, {1: block("d1-child")}, parent=parent)
    ec2.delete_snapshot(SnapshotId=parent)
    assert error(ec2.describe_snapshots, SnapshotIds=[parent])[:2] == (400, "InvalidSnapshot.NotFound")
    assert error(ec2.delete_snapshot, SnapshotId=parent)[:2] == (400, "InvalidSnapshot.NotFound")
    assert error(ec2.create_tags, Resources=[parent], Tags=[{"Key": "a", "Value": "b"}])[:2] == (
        400, "InvalidSnapshot.NotFound")
    assert error(ec2.delete_snapshot, SnapshotId="snap-0")[:2] == (400, "InvalidSnapshotID.Malformed")
    # the child still reads every block, including the one it inherits from the deleted parent
    assert read_all(ebs, child) == {0: block("d0"), 1: block("d1-child")}
    assert eventually(lambda: not listed(ec2, Filters=[{"Name": "snapshot-id", "Values": [parent]}]))


def test_a_pending_snapshot_may_be_deleted(ec2, ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    ec2.delete_snapshot(SnapshotId=sid)
    assert error(ec2.describe_snapshots, SnapshotIds=[sid])[:2] == (400, "InvalidSnapshot.NotFound")


def test_a_deleted_snapshot_is_gone_from_the_ebs_reads(ec2, ebs):
    sid = snapshot(ebs, {0: block("gone")})
    ebs.list_snapshot_blocks(SnapshotId=sid)  # the read path has seen (and cached) the completed record
    ec2.delete_snapshot(SnapshotId=sid)
    with pytest.raises(ClientError) as info:
        ebs.list_snapshot_blocks(SnapshotId=sid)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_copy_snapshot_plain(ec2, ebs):
    source = snapshot(ebs, {0: block("c0"), 5: block("c5")})
    out = ec2.copy_snapshot(SourceSnapshotId=source, SourceRegion="us-east-1", Description="plain copy",
                            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "copy", "Value": "1"}]}])
    copy = out["SnapshotId"]
    assert copy != source and out["Tags"] == [{"Key": "copy", "Value": "1"}]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    snap = describe(ec2, copy)
    assert (snap["Description"], snap["Encrypted"]) == ("plain copy", False)
    assert snap["Tags"] == [{"Key": "copy", "Value": "1"}]
    assert read_all(ebs, copy) == {0: block("c0"), 5: block("c5")}


def test_copy_snapshot_encrypted(ec2, ebs):
    source = snapshot(ebs, {2: block("enc2")})
    copy = ec2.copy_snapshot(SourceSnapshotId=source, SourceRegion="us-east-1", Encrypted=True)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    snap = describe(ec2, copy)
    assert snap["Encrypted"] is True and snap["KmsKeyId"].startswith("arn:aws:kms:")
    assert read_all(ebs, copy) == {2: block("enc2")}


def test_copy_snapshot_errors(ec2, ebs, tagged):
    sid, _ = tagged
    status, code, message = error(ec2.copy_snapshot, SourceSnapshotId=sid, SourceRegion="eu-west-1")
    assert (status, code) == (400, "UnsupportedOperation") and "us-east-1" in message and "eu-west-1" in message
    assert error(ec2.copy_snapshot, SourceSnapshotId=UNKNOWN, SourceRegion="us-east-1")[:2] == (
        400, "InvalidSnapshot.NotFound")
    pending = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    assert error(ec2.copy_snapshot, SourceSnapshotId=pending, SourceRegion="us-east-1")[:2] == (400, "IncorrectState")
    assert error(ec2.copy_snapshot, SourceSnapshotId=sid, SourceRegion="us-east-1", KmsKeyId="alias/x")[:2] == (
        400, "InvalidParameterCombination")
    assert error(ec2.copy_snapshot, SourceSnapshotId=sid, SourceRegion="us-east-1",
                 TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "a", "Value": "b"}]}])[:2] == (
        400, "InvalidParameterValue")


def test_dry_run_does_nothing(ec2, ebs, tagged):
    sid, run = tagged
    dry = (412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
    assert error(ec2.describe_snapshots, SnapshotIds=[sid], DryRun=True) == dry
    assert error(ec2.describe_snapshots, DryRun=True) == dry
    assert error(ec2.create_tags, Resources=[sid], Tags=[{"Key": "dry", "Value": "1"}], DryRun=True) == dry
    assert error(ec2.delete_tags, Resources=[sid], DryRun=True) == dry
    assert error(ec2.delete_snapshot, SnapshotId=sid, DryRun=True) == dry
    assert error(ec2.copy_snapshot, SourceSnapshotId=sid, SourceRegion="us-east-1", DryRun=True) == dry
    snap = describe(ec2, sid)
    assert snap["Tags"] == [{"Key": "run", "Value": run}]
    copies = [{"Name": "description", "Values": ["ec2 test"]}, {"Name": "tag:run", "Values": [run]}]
    time.sleep(0.3)  # let the projection catch up with anything a dry run had wrongly done
    assert [s["SnapshotId"] for s in listed(ec2, Filters=copies)] == [sid]
    # checks come before the dry-run answer
    assert error(ec2.delete_snapshot, SnapshotId=UNKNOWN, DryRun=True)[:2] == (400, "InvalidSnapshot.NotFound")


def test_unsupported_and_invalid_actions_answer_in_the_ec2_shape(ec2, server):
    assert error(ec2.describe_volumes)[:2] == (400, "UnsupportedOperation")
    import requests

    from tests.servers import ROOT_KEY_ID, ROOT_SECRET, SignedRequests

    answer = requests.post(server.url + "/", data=b"Action=Frobnicate&Version=2016-11-15",
                           headers={"Content-Type": "application/x-www-form-urlencoded"},
                           auth=SignedRequests(ROOT_KEY_ID, ROOT_SECRET, "ec2"))
    body = answer.text
    assert answer.status_code == 400 and answer.headers["Content-Type"].startswith("text/xml")
    assert "<Code>InvalidAction</Code>" in body and body.startswith("<?xml")
