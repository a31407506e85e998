"""The real AWS CLI v1 (``aws ec2 …``) against ``blocksnap serve``: what backup scripts run.

Snapshots are made with boto3's ``ebs`` client; the CLI describes, waits,
tags and deletes them through EC2 on the same endpoint. Exit status 255 and
the code on stderr are how the CLI reports a service error.
"""

from __future__ import annotations

import pytest

from .conftest import block, snapshot
from .test_aws_cli import AwsCli
from .test_ec2_snapshots import eventually


@pytest.fixture(scope="module")
def ec2(server, tmp_path_factory):
    return AwsCli(server.url, tmp_path_factory.mktemp("aws-cli-ec2-home"), service="ec2")


def test_describe_wait_tag_and_delete(ec2, ebs):
    sid = snapshot(ebs, {0: block("cli-ec2")}, Description="from the cli test")
    ec2("wait", "snapshot-completed", "--snapshot-ids", sid)
    (snap,) = ec2("describe-snapshots", "--snapshot-ids", sid)["Snapshots"]
    assert (snap["SnapshotId"], snap["State"], snap["Progress"]) == (sid, "completed", "100%")
    assert snap["VolumeId"] == "vol-ffffffff"
    assert snap["Description"] == "from the cli test"
    assert snap["StartTime"].endswith("Z") or "+00:00" in snap["StartTime"]

    ec2("create-tags", "--resources", sid, "--tags", "Key=Name,Value=cli")
    (snap,) = ec2("describe-snapshots", "--snapshot-ids", sid)["Snapshots"]
    assert snap["Tags"] == [{"Key": "Name", "Value": "cli"}]
    # --owner-ids alone makes the CLI send MaxResults=1000 and follow nextToken
    # (the listing follows the records projection, so it is polled)
    listing = ["describe-snapshots", "--owner-ids", "self", "--filters", f"Name=snapshot-id,Values={sid}",
               "Name=tag:Name,Values=cli"]
    assert eventually(lambda: [s["SnapshotId"] for s in ec2(*listing)["Snapshots"]] == [sid])

    ec2("delete-snapshot", "--snapshot-id", sid)
    proc = ec2.run("describe-snapshots", "--snapshot-ids", sid)
    assert proc.returncode == 255
    assert "(InvalidSnapshot.NotFound)" in proc.stderr and sid in proc.stderr


def test_dry_run_and_errors(ec2):
    proc = ec2.run("delete-snapshot", "--snapshot-id", "snap-0123456789abcdef0")
    assert proc.returncode == 255 and "(InvalidSnapshot.NotFound)" in proc.stderr
    proc = ec2.run("describe-snapshots", "--dry-run")
    assert proc.returncode == 255
    assert "(DryRunOperation)" in proc.stderr and "Request would have succeeded" in proc.stderr
    proc = ec2.run("describe-volumes")
    assert proc.returncode == 255 and "(UnsupportedOperation)" in proc.stderr
