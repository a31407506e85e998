"""StartSnapshot, PutSnapshotBlock, CompleteSnapshot and GetSnapshotBlock with the real boto3 client."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from datetime import datetime

import pytest
from botocore.exceptions import ClientError, ParamValidationError


from chalicelib.domain import keys

from .conftest import BLOCK, all_blocks, block, checksum, put, read_all, snapshot, wait_status


def error_of(excinfo) -> tuple[int, str, str, str | None]:
    r = excinfo.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"], r.get("Reason")


def test_start_snapshot_response_has_the_aws_shape(ebs):
    r = ebs.start_snapshot(VolumeSize=2, Description="nightly", Tags=[{"Key": "team", "Value": "db"}], Timeout=120)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(r"snap-[0-9a-f]{17}", r["SnapshotId"])
    assert r["Status"] == "pending"
    assert r["BlockSize"] == BLOCK
    assert r["VolumeSize"] == 2
    assert r["Description"] == "nightly"
    assert r["Tags"] == [{"Key": "team", "Value": "db"}]
    assert r["OwnerId"] == "000000000000"
    assert isinstance(r["StartTime"], datetime)


def test_start_snapshot_wire_uses_epoch_numbers_and_nulls(server):
    resp = server.http().post(f"{server.url}/snapshots", json={"VolumeSize": 1})
    assert resp.status_code == 201
    assert resp.headers["x-amzn-RequestId"]
    body = resp.json()
    assert isinstance(body["StartTime"], float)
    assert body["ParentSnapshotId"] is None and body["KmsKeyArn"] is None


def test_round_trip_of_a_block(ebs):
    data = block("round-trip")
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    r = put(ebs, sid, 7, data, Progress=50)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["Checksum"] == checksum(data) and r["ChecksumAlgorithm"] == "SHA256"
    assert ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)["Status"] == "pending"
    wait_status(ebs, sid)
    blocks = all_blocks(ebs, sid)
    assert [b["BlockIndex"] for b in blocks] == [7]
    got = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=7, BlockToken=blocks[0]["BlockToken"])
    assert got["DataLength"] == BLOCK
    assert got["Checksum"] == checksum(data) and got["ChecksumAlgorithm"] == "SHA256"
    assert got["BlockData"].read() == data


def test_overwrite_in_a_pending_snapshot_counts_once_and_last_write_wins(ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    put(ebs, sid, 1, block("first"))
    put(ebs, sid, 1, block("second"))
    put(ebs, sid, 2, bytes(BLOCK))
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=2)
    wait_status(ebs, sid)
    blocks = {b["BlockIndex"]: b["BlockToken"] for b in all_blocks(ebs, sid)}
    assert set(blocks) == {1, 2}, "an explicitly written zero block is listed"
    assert ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=1, BlockToken=blocks[1])["BlockData"].read() == block("second")
    assert ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=2, BlockToken=blocks[2])["BlockData"].read() == bytes(BLOCK)


def test_linear_aggregate_checksum_is_verified(ebs):
    """Ascending index order, whatever the order of the writes and of the service's block shards (index % 16)."""
    blocks = {40: block("a"), 17: block("b"), 2: block("c"), 1: block("d"), 2047: block("e")}
    aggregate = base64.b64encode(
        hashlib.sha256(b"".join(hashlib.sha256(blocks[i]).digest() for i in sorted(blocks))).digest()
    ).decode()
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    for i, d in blocks.items():
        put(ebs, sid, i, d)
    r = ebs.complete_snapshot(
        SnapshotId=sid, ChangedBlocksCount=len(blocks), Checksum=aggregate,
        ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR",
    )
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202 and r["Status"] == "pending"
    wait_status(ebs, sid)


def test_wrong_aggregate_moves_the_snapshot_to_error(ebs, server):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    put(ebs, sid, 0, block("x"))
    r = ebs.complete_snapshot(
        SnapshotId=sid, ChangedBlocksCount=1, Checksum=checksum(b"not it"),
        ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR",
    )
    assert r["Status"] == "pending"
    wait_status(ebs, sid, "error")
    doc = server.http().get(f"{server.url}/blocksnap/v1/snapshots/{sid}").json()
    assert doc["Status"] == "error" and doc["StateMessage"] == "Checksum mismatch for snapshot"
    with pytest.raises(ClientError) as e:
        ebs.list_snapshot_blocks(SnapshotId=sid)
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        put(ebs, sid, 1, block("late"))
    assert error_of(e)[3] == "SNAPSHOT_NOT_FOUND"


def test_wrong_changed_blocks_count_moves_the_snapshot_to_error(ebs, server):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    put(ebs, sid, 0, block("x"))
    put(ebs, sid, 0, block("y"))
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=2)
    wait_status(ebs, sid, "error")
    doc = server.http().get(f"{server.url}/blocksnap/v1/snapshots/{sid}").json()
    assert doc["StateMessage"] == "Changed blocks count mismatch for snapshot"


def test_completing_twice_and_writing_after_completion(ebs):
    sid = snapshot(ebs, {0: block("z")})
    r = ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=99)
    assert r["Status"] == "completed", "AWS accepts a repeat with any count on a completed snapshot"
    with pytest.raises(ClientError) as e:
        put(ebs, sid, 1, block("late"))
    assert error_of(e) == (400, "ValidationException", "Snapshot is already completed", "INVALID_SNAPSHOT_ID")


def test_reads_on_a_pending_snapshot_are_not_found(ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    put(ebs, sid, 0, block("p"))
    with pytest.raises(ClientError) as e:
        ebs.list_snapshot_blocks(SnapshotId=sid)
    status, code, message, reason = error_of(e)
    assert (status, code, reason) == (404, "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND")
    assert message == f"The snapshot '{sid}' does not exist."


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"DataLength": 1}, (400, "ValidationException", "Block data length 1 is not valid, expected 524288", "INVALID_BLOCK")),
        ({"BlockIndex": 2048}, (400, "ValidationException", "Block index 2048 is beyond the volume size extent", "INVALID_BLOCK")),
        ({"ChecksumAlgorithm": "SHA1"}, (400, "ValidationException", "Unsupported Checksum Algorithm 'SHA1', supported algorithms are SHA256", "INVALID_PARAMETER_VALUE")),
        ({"BlockData": b"short"}, (400, "ValidationException", "Failed to read block data", "INVALID_PARAMETER_VALUE")),
    ],
)
def test_put_snapshot_block_errors(ebs, change, expected):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    data = block("e")
    args = dict(SnapshotId=sid, BlockIndex=0, BlockData=data, DataLength=BLOCK, Checksum=checksum(data), ChecksumAlgorithm="SHA256")
    args.update(change)
    with pytest.raises(ClientError) as e:
        ebs.put_snapshot_block(**args)
    assert error_of(e) == expected


def test_checksum_mismatch_is_403_invalid_signature(ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    data = block("m")
    with pytest.raises(ClientError) as e:
        ebs.put_snapshot_block(SnapshotId=sid, BlockIndex=0, BlockData=data, DataLength=BLOCK,
                               Checksum=checksum(b"other"), ChecksumAlgorithm="SHA256")
    status, code, message, _ = error_of(e)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The value passed in as x-amz-Checksum does not match the computed checksum.")
    assert checksum(data) in message


def test_unknown_snapshot_is_not_found_everywhere(ebs):
    ghost = "snap-0123456789abcdef0"
    data = block("g")
    calls = [
        lambda: put(ebs, ghost, 0, data),
        lambda: ebs.list_snapshot_blocks(SnapshotId=ghost),
        lambda: ebs.get_snapshot_block(SnapshotId=ghost, BlockIndex=0, BlockToken="AAAA"),
        lambda: ebs.complete_snapshot(SnapshotId=ghost, ChangedBlocksCount=0),
        lambda: ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=ghost),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[0::3] == (404, "SNAPSHOT_NOT_FOUND")


def test_complete_checksum_header_combinations(ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(ClientError) as e:
        ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=0, Checksum=checksum(b""))
    assert error_of(e)[2] == "Invalid parameter combination. Checksum algorithm is missing."
    with pytest.raises(ClientError) as e:
        ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=0, ChecksumAlgorithm="SHA256")
    assert error_of(e)[2] == "Invalid parameter combination. Snapshot checksum is missing."


def test_empty_snapshot_with_aggregate_of_nothing_completes(ebs):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=0, Checksum="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                          ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
    wait_status(ebs, sid)
    assert all_blocks(ebs, sid) == []


def test_eight_concurrent_writers(ebs, server):
    sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    payloads = {i: block(f"c{i}") for i in range(64)}
    errors = []

    def writer(worker: int) -> None:
        client = server.client()
        try:
            for i in range(worker, 64, 8):
                put(client, sid, i, payloads[i])
            put(client, sid, 100, payloads[0])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=65)
    wait_status(ebs, sid)
    blocks = {b["BlockIndex"]: b["BlockToken"] for b in all_blocks(ebs, sid)}
    assert sorted(blocks) == list(range(64)) + [100]
    for i in (0, 31, 63):
        assert ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=i, BlockToken=blocks[i])["BlockData"].read() == payloads[i]


def test_64_tib_sparse_volume_writes_its_last_block(ebs):
    last = 65536 * 2048 - 1
    sid = snapshot(ebs, {last: block("last"), 0: block("first")}, volume_size=65536)
    blocks = all_blocks(ebs, sid)
    assert [b["BlockIndex"] for b in blocks] == [0, last]
    got = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=last, BlockToken=blocks[1]["BlockToken"])
    assert got["BlockData"].read() == block("last")
    # Tokens carry their expiry in seconds, so two listings may differ in them; compare indexes.
    assert [b["BlockIndex"] for b in all_blocks(ebs, sid, StartingBlockIndex=1)] == [last]
    with pytest.raises(ClientError) as e:
        put(ebs, ebs.start_snapshot(VolumeSize=65536)["SnapshotId"], last + 1, block("x"))
    assert error_of(e)[3] == "INVALID_BLOCK"


def test_client_side_validation_gaps_are_checked_by_the_server(server):
    raw = server.client(parameter_validation=False)
    cases = [
        (lambda: raw.start_snapshot(VolumeSize=1, Timeout=4321), "timeout", "Member must have value less than or equal to 4320"),
        (lambda: raw.start_snapshot(VolumeSize=0), "volumeSize", "Member must have value greater than or equal to 1"),
        (lambda: raw.start_snapshot(VolumeSize=1, ClientToken="x" * 256), "clientToken", "Member must have length less than or equal to 255"),
        (lambda: raw.list_snapshot_blocks(SnapshotId="snap-0123456789abcdef0", MaxResults=99), "maxResults", "Member must have value greater than or equal to 100"),
        (lambda: raw.get_snapshot_block(SnapshotId="snap-0123456789abcdef0", BlockIndex=-1, BlockToken="AAAA"), "blockIndex", "Member must have value greater than or equal to 0"),
        (lambda: raw.complete_snapshot(SnapshotId="snap-0123456789abcdef0", ChangedBlocksCount=0, Checksum="AAAA", ChecksumAlgorithm="MD5", ChecksumAggregationMethod="LINEAR"), "checksumAlgorithm", "Member must satisfy enum value set: [SHA256]"),
        (lambda: raw.list_snapshot_blocks(SnapshotId="snap-XYZ"), "snapshotId", "Member must satisfy regular expression pattern"),
    ]
    for call, member, constraint in cases:
        with pytest.raises(ClientError) as e:
            call()
        status, code, message, reason = error_of(e)
        assert (status, code, reason) == (400, "ValidationException", None), message
        assert f"at '{member}' failed to satisfy constraint: {constraint}" in message
        assert message.startswith("1 validation error detected: ")


def test_botocore_enforces_min_values_itself(ebs):
    with pytest.raises(ParamValidationError):
        ebs.start_snapshot(VolumeSize=1, Timeout=9)


def test_volume_size_and_tags_limits(ebs):
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(VolumeSize=65537)
    assert error_of(e)[3] == "INVALID_VOLUME_SIZE"
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(VolumeSize=1, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error_of(e)[3] == "INVALID_TAG"
    assert len(ebs.start_snapshot(VolumeSize=1, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])["Tags"]) == 50
    with pytest.raises(ClientError) as e:  # Key is optional in the model, but a tag needs one
        ebs.start_snapshot(VolumeSize=1, Tags=[{"Value": "v"}])
    assert error_of(e)[3] == "INVALID_TAG"


@pytest.mark.parametrize(
    "changed",
    [{"VolumeSize": 2}, {"Description": "b"}, {"Timeout": 20}, {"Tags": [{"Key": "k", "Value": "other"}]},
     {"Encrypted": True}, {"ParentSnapshotId": "parent"}],
    ids=lambda changed: next(iter(changed)),
)
def test_client_token_idempotency(ebs, changed):
    parent = snapshot(ebs, {0: block("parent")})
    token = f"token-idem-{uuid.uuid4()}"
    original = {"VolumeSize": 1, "ClientToken": token, "Description": "a", "Timeout": 10,
                "Tags": [{"Key": "k", "Value": "v"}]}
    first = ebs.start_snapshot(**original)
    again = ebs.start_snapshot(**original)
    assert again["SnapshotId"] == first["SnapshotId"] and again["Status"] == "pending"
    if changed.get("ParentSnapshotId"):
        changed = {"ParentSnapshotId": parent}
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(**{**original, **changed})
    assert error_of(e) == (409, "ConflictException", "Current request does not match request stored with this token.", None)


def test_token_lifetimes(ebs):
    """Block tokens and the ExpiryTime of a non-empty list last seven days (FAQ); an empty list's an hour."""
    sid = snapshot(ebs, {0: block("x")})
    child = snapshot(ebs, {1: block("y")}, parent=sid)
    empty = snapshot(ebs, {})
    before = time.time()
    listed = ebs.list_snapshot_blocks(SnapshotId=sid)["ExpiryTime"].timestamp()
    changed = ebs.list_changed_blocks(FirstSnapshotId=sid, SecondSnapshotId=child)["ExpiryTime"].timestamp()
    nothing = ebs.list_snapshot_blocks(SnapshotId=empty)["ExpiryTime"].timestamp()
    after = time.time()
    for expiry in (listed, changed):
        assert before + 7 * 86400 - 1 <= expiry <= after + 7 * 86400 + 1
    assert before + 3600 - 1 <= nothing <= after + 3600 + 1


def test_a_corrupted_block_is_never_served(ebs, server):
    sid = snapshot(ebs, {0: block("intact")})
    store = server.store()
    key = keys.blob_key(checksum(block("intact")))  # a plaintext block lives under its content's hash
    assert key in list(store.list("blobs/"))
    store.put(key, block("tampered"))  # same length, other bytes: only the digest can tell
    token = ebs.list_snapshot_blocks(SnapshotId=sid)["Blocks"][0]["BlockToken"]
    with pytest.raises(ClientError) as e:
        ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=0, BlockToken=token)
    assert error_of(e)[:2] == (500, "InternalServerException")


def test_encryption_parameters_follow_the_aws_matrix(ebs):
    arn = "arn:aws:kms:us-east-1:123456789012:key/abc"
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(VolumeSize=1, Encrypted=False, KmsKeyArn=arn)
    assert error_of(e)[2:] == ("Encrypt cannot be false when KmsKeyArn is specified", "INVALID_PARAMETER_VALUE")
    parent = snapshot(ebs, {0: block("plain")})
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=parent, Encrypted=True)
    assert error_of(e)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(VolumeSize=1, KmsKeyArn="not-an-arn")
    assert "kmsKeyArn" in error_of(e)[2]


def test_pending_parent_is_refused(ebs):
    parent = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(ClientError) as e:
        ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=parent)
    assert error_of(e) == (400, "ValidationException", f"Source snapshot ({parent}) is not complete.", "INVALID_SNAPSHOT_ID")


def test_errors_carry_request_ids_and_json(server):
    resp = server.http().get(f"{server.url}/snapshots/snap-0123456789abcdef0/blocks")
    assert resp.status_code == 404
    assert resp.headers["x-amzn-ErrorType"].startswith("ResourceNotFoundException:")
    assert resp.headers["x-amzn-RequestId"]
    assert resp.json() == {"Message": "The snapshot 'snap-0123456789abcdef0' does not exist.", "Reason": "SNAPSHOT_NOT_FOUND"}
    unknown = server.http().get(f"{server.url}/no/such/route")
    assert unknown.status_code == 404 and unknown.headers["x-amzn-RequestId"] and unknown.json()["message"]


@pytest.mark.parametrize("body", [b"{not json", b"[" * 100_000, b'{"VolumeSize":' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
                         ids=["not-json", "deep-array", "deep-member"])
def test_malformed_json_is_a_client_error(server, body):
    resp = server.http().post(f"{server.url}/snapshots", data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.headers["x-amzn-ErrorType"].startswith("SerializationException")


def test_a_known_path_with_another_method_gets_the_aws_error_shape(server):
    resp = server.http().delete(f"{server.url}/snapshots/snap-0123456789abcdef0/blocks/0")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, PUT"
    assert resp.headers["x-amzn-ErrorType"].startswith("UnknownOperationException")
    assert resp.headers["x-amzn-RequestId"] and resp.json()["message"]


def test_a_body_larger_than_any_operation_takes_is_refused_unread(server):
    resp = server.http().post(f"{server.url}/snapshots", data=b" " * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.headers["x-amzn-ErrorType"] and resp.json()["message"]


def test_a_streamed_block_body_is_read_whole(ebs):
    """botocore sends a body it cannot size with chunked encoding: copying one snapshot's block into another."""
    source = snapshot(ebs, {3: block("copied")})
    token = {b["BlockIndex"]: b["BlockToken"] for b in ebs.list_snapshot_blocks(SnapshotId=source)["Blocks"]}[3]
    got = ebs.get_snapshot_block(SnapshotId=source, BlockIndex=3, BlockToken=token)
    target = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    ebs.put_snapshot_block(SnapshotId=target, BlockIndex=0, BlockData=got["BlockData"], DataLength=BLOCK,
                           Checksum=got["Checksum"], ChecksumAlgorithm="SHA256")
    ebs.complete_snapshot(SnapshotId=target, ChangedBlocksCount=1)
    wait_status(ebs, target)
    assert read_all(ebs, target) == {0: block("copied")}


def test_describe_extension_reports_any_state(ebs, server):
    sid = ebs.start_snapshot(VolumeSize=3, Description="d", Tags=[{"Key": "a", "Value": "b"}])["SnapshotId"]
    doc = server.http().get(f"{server.url}/blocksnap/v1/snapshots/{sid}").json()
    assert doc["Status"] == "pending" and doc["VolumeSize"] == 3 and doc["Tags"] == [{"Key": "a", "Value": "b"}]
    assert set(doc) >= {"SnapshotId", "Status", "StateMessage", "ParentSnapshotId", "VolumeSize", "StartTime",
                        "CompletionTime", "ChangedBlocksCount", "Encrypted", "Tags", "Description"}
    put(ebs, sid, 5, block("d"))
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)
    wait_status(ebs, sid)
    doc = server.http().get(f"{server.url}/blocksnap/v1/snapshots/{sid}").json()
    assert doc["Status"] == "completed" and doc["ChangedBlocksCount"] == 1 and doc["CompletionTime"] >= doc["StartTime"]
    bad = server.http().get(f"{server.url}/blocksnap/v1/snapshots/snap-NOPE")
    assert bad.status_code == 400 and bad.headers["x-amzn-ErrorType"].startswith("ValidationException")
    missing = server.http().get(f"{server.url}/blocksnap/v1/snapshots/snap-0123456789abcdef0")
    assert missing.status_code == 404 and missing.json()["Reason"] == "SNAPSHOT_NOT_FOUND"
