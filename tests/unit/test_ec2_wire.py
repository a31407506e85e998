"""The EC2 Query wire against botocore itself: its serializer makes the requests, its parser reads the answers."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from chalicelib.domain import errors as e
from chalicelib.domain.snapshot import COMPLETED, ERROR, PENDING, SnapshotRecord
from chalicelib.http import ec2_query
from chalicelib.http import errors as w
from chalicelib.http.ec2_errors import ec2_error
from chalicelib.http.ec2_operations import snapshot_members

MODEL = botocore.session.get_session().get_service_model("ec2")
SNAP = "snap-0a1b2c3d4e5f67890"


def wire(operation: str, params: dict) -> dict[str, str]:
    """What boto3 sends for ``params``, as the pairs the server reads."""
    request = create_serializer("ec2").serialize_to_request(params, MODEL.operation_model(operation))
    return ec2_query.form(urlencode(request["body"], doseq=True).encode())


def roundtrip(operation: str, params: dict) -> dict:
    return ec2_query.parse(operation, wire(operation, params))


def parsed(operation: str, body: bytes, status: int = 200) -> dict:
    out = create_parser("ec2").parse(
        {"body": body, "headers": {}, "status_code": status}, MODEL.operation_model(operation).output_shape
    )
    out.pop("ResponseMetadata")
    return out


def test_spec_vector_a1_describe_snapshots_request():
    params = {"OwnerIds": ["self"], "Filters": [{"Name": "tag:Project", "Values": ["blocksnap"]},
                                                {"Name": "status", "Values": ["pending", "completed"]}],
              "MaxResults": 100}
    assert wire("DescribeSnapshots", params) == {
        "Action": "DescribeSnapshots", "Version": "2016-11-15", "Owner.1": "self",
        "Filter.1.Name": "tag:Project", "Filter.1.Value.1": "blocksnap",
        "Filter.2.Name": "status", "Filter.2.Value.1": "pending", "Filter.2.Value.2": "completed",
        "MaxResults": "100"}
    assert ec2_query.parse("DescribeSnapshots", wire("DescribeSnapshots", params)) == params


@pytest.mark.parametrize("operation, params", [
    ("DescribeSnapshots", {"SnapshotIds": [SNAP, "snap-00000001"], "RestorableByUserIds": ["all"], "DryRun": True}),
    ("DescribeSnapshots", {"NextToken": "abc+/=", "MaxResults": 5, "DryRun": False}),
    ("CreateTags", {"Resources": [SNAP], "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}),
    ("DeleteTags", {"Resources": [SNAP],
                    "Tags": [{"Key": "a"}, {"Key": "b", "Value": ""}, {"Key": "c", "Value": "v"}]}),
    ("DeleteTags", {"Resources": [SNAP, "snap-0a1b2c3d4e5f67891"]}),
    ("DeleteSnapshot", {"SnapshotId": SNAP, "DryRun": True}),
    ("CopySnapshot", {"SourceSnapshotId": SNAP, "SourceRegion": "us-east-1", "Encrypted": True,
                      "KmsKeyId": "alias/x", "Description": "d é & <x>", "PresignedUrl": "https://e/?a=b",
                      "DestinationRegion": "us-east-1",
                      "TagSpecifications": [{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}]}),
])
def test_every_member_boto3_sends_comes_back_typed(operation, params):
    assert roundtrip(operation, params) == params


def test_delete_tags_tells_an_absent_value_from_an_empty_one():
    pairs = wire("DeleteTags", {"Resources": [SNAP], "Tags": [{"Key": "a"}, {"Key": "b", "Value": ""}]})
    assert "Tag.1.Value" not in pairs and pairs["Tag.2.Value"] == ""
    assert roundtrip("DeleteTags", {"Resources": [SNAP], "Tags": [{"Key": "a"}]})["Tags"] == [{"Key": "a"}]


def test_required_unknown_and_mistyped_parameters():
    with pytest.raises(w.MissingParameter, match="SnapshotId"):
        ec2_query.parse("DeleteSnapshot", {"Action": "DeleteSnapshot", "Version": "2016-11-15"})
    with pytest.raises(w.UnknownParameter, match="Bogus"):
        ec2_query.parse("DeleteSnapshot", {"SnapshotId": SNAP, "Bogus": "1"})
    with pytest.raises(e.ValidationError, match="MaxResults"):
        ec2_query.parse("DescribeSnapshots", {"MaxResults": "ten"})
    with pytest.raises(e.ValidationError, match="DryRun"):
        ec2_query.parse("DescribeSnapshots", {"DryRun": "yes"})
    with pytest.raises(e.ValidationError, match="given more than once"):
        ec2_query.form(b"Action=A&Action=B")
    # query-string signing parameters are the envelope's, not the operation's
    assert ec2_query.parse("DeleteSnapshot", {"SnapshotId": SNAP, "X-Amz-Signature": "s", "Version": "v"}) == {
        "SnapshotId": SNAP}


def record(**kw) -> SnapshotRecord:
    base = dict(snapshot_id=SNAP, status=COMPLETED, volume_size=8, lineage_id=SNAP, start_time=1796119200.123,
                timeout_minutes=60, owner_id="111122223333", last_activity=0.0, description="uploaded by coldsnap",
                tags=(("Name", "root-fs"), ("Project", "blocksnap")), completion_time=1796119204.567, progress=100)
    base.update(kw)
    return SnapshotRecord.from_dict(base)


def test_spec_vector_a2_describe_snapshots_response():
    body = ec2_query.serialize("DescribeSnapshots", {"Snapshots": [snapshot_members(record())]}, "req-1")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSnapshotsResponse '
                           b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>')
    assert b"<startTime>2026-12-01T10:00:00.123Z</startTime>" in body
    assert b"<tagSet><item><key>Name</key><value>root-fs</value></item>" in body
    assert parsed("DescribeSnapshots", body) == {"Snapshots": [{
        "SnapshotId": SNAP, "VolumeId": "vol-ffffffff", "State": "completed",
        "StartTime": datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=timezone.utc), "Progress": "100%",
        "OwnerId": "111122223333", "VolumeSize": 8, "Description": "uploaded by coldsnap", "Encrypted": False,
        "Tags": [{"Key": "Name", "Value": "root-fs"}, {"Key": "Project", "Value": "blocksnap"}],
        "StorageTier": "standard", "CompletionTime": datetime(2026, 12, 1, 10, 0, 4, 567000, tzinfo=timezone.utc)}]}


def test_pending_error_and_encrypted_snapshots():
    pending = record(status=PENDING, tags=(), completion_time=None, progress=None, description=None)
    failed = record(status=ERROR, state_message="Snapshot timed out", completion_time=None, progress=None)
    encrypted = record(encrypted=True, kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/k")
    members = [snapshot_members(r) for r in (pending, failed, encrypted)]
    out = parsed("DescribeSnapshots", ec2_query.serialize("DescribeSnapshots", {"Snapshots": members}, "r"))
    first, second, third = out["Snapshots"]
    assert (first["State"], first["Progress"], first["Description"]) == ("pending", "0%", "")
    assert "Tags" not in first and "CompletionTime" not in first and "StateMessage" not in first
    assert (second["State"], second["StateMessage"]) == ("error", "Snapshot timed out")
    assert (third["Encrypted"], third["KmsKeyId"]) == (True, "arn:aws:kms:us-east-1:111122223333:key/k")
    assert "KmsKeyId" not in first


def test_next_token_and_an_empty_page():
    body = ec2_query.serialize("DescribeSnapshots", {"Snapshots": [], "NextToken": "eyJ2IjoxfQ=="}, "r")
    assert parsed("DescribeSnapshots", body) == {"Snapshots": [], "NextToken": "eyJ2IjoxfQ=="}


def test_spec_vector_a4_copy_snapshot_response_and_no_output_operations():
    body = ec2_query.serialize("CopySnapshot", {"SnapshotId": "snap-0fedcba9876543210",
                                                "Tags": [{"Key": "copied-from", "Value": SNAP}]}, "r")
    assert parsed("CopySnapshot", body) == {"SnapshotId": "snap-0fedcba9876543210",
                                            "Tags": [{"Key": "copied-from", "Value": SNAP}]}
    body = ec2_query.serialize("DeleteSnapshot", None, "r-2")
    assert body.endswith(b"<requestId>r-2</requestId><return>true</return></DeleteSnapshotResponse>")


@pytest.mark.parametrize("exc, status, code", [
    (e.SnapshotNotFound("snap-0a1b2c3d4e5f67891"), 400, "InvalidSnapshot.NotFound"),
    (e.MalformedSnapshotId("snap-x"), 400, "InvalidSnapshotID.Malformed"),
    (e.DryRunSucceeded(), 412, "DryRunOperation"),
    (e.InvalidTag("Tag key cannot be null or empty"), 400, "InvalidParameterValue"),
    (e.TagLimitExceeded("too many"), 400, "TagLimitExceeded"),
    (w.InvalidAction("nope"), 400, "InvalidAction"),
    (e.UnsupportedOperation("nope"), 400, "UnsupportedOperation"),
    (e.DependencyThrottled("slow down"), 503, "RequestLimitExceeded"),
    (RuntimeError("bug"), 500, "InternalError"),
])
def test_spec_vector_a3_errors_as_botocore_reads_them(exc, status, code):
    got_status, got_code, message = ec2_error(exc)
    assert (got_status, got_code) == (status, code)
    body = ec2_query.error_body(got_code, message, "0c9a8b7d")
    out = create_parser("ec2").parse({"body": body, "headers": {}, "status_code": status},
                                     MODEL.operation_model("DescribeSnapshots").output_shape)
    assert out["Error"] == {"Code": code, "Message": message}
    assert out["ResponseMetadata"]["RequestId"] == "0c9a8b7d"
    if isinstance(exc, e.SnapshotNotFound):
        assert message == "The snapshot 'snap-0a1b2c3d4e5f67891' does not exist."
    if isinstance(exc, RuntimeError):
        assert "bug" not in message


def test_what_xml_cannot_carry_never_breaks_the_response():
    # a bad value is echoed in the message; a control character in it would make the whole body unreadable
    status, code, message = ec2_error(e.ValidationError("Invalid value '\x08\ud800' for MaxResults"))
    out = create_parser("ec2").parse({"body": ec2_query.error_body(code, message, "r"), "headers": {},
                                      "status_code": status}, MODEL.operation_model("DescribeSnapshots").output_shape)
    assert out["Error"]["Message"] == "Invalid value '\ufffd\ufffd' for MaxResults"
