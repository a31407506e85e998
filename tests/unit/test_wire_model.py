"""Model-driven parsing, Coral messages and serialisation, without a server."""

import json

import pytest

from chalicelib.domain.errors import InvalidSnapshotId
from chalicelib.http.errors import ConstraintViolation, SerializationError
from chalicelib.http import model
from chalicelib.http.errors import error_response


def raw(uri=None, headers=None, query=None, body=b""):
    return model.RawRequest(uri or {}, headers or {}, query or {}, body)


def test_put_members_come_from_uri_headers_and_payload():
    req = model.parse("PutSnapshotBlock", raw(
        uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": "12"},
        headers={"X-Amz-Data-Length": "524288", "x-amz-checksum": "AAAA", "x-amz-checksum-algorithm": "SHA256"},
        body=b"xyz",
    ))
    assert req == {"SnapshotId": "snap-0123456789abcdef0", "BlockIndex": 12, "DataLength": 524288,
                   "Checksum": "AAAA", "ChecksumAlgorithm": "SHA256", "BlockData": b"xyz"}


def test_all_violations_are_reported_together():
    with pytest.raises(ConstraintViolation) as e:
        model.parse("ListSnapshotBlocks", raw(uri={"snapshotId": "snap-0123456789abcdef0"},
                                              query={"maxResults": "1", "startingBlockIndex": "-1"}))
    assert e.value.message.startswith("2 validation errors detected: ")
    assert "at 'maxResults'" in e.value.message and "at 'startingBlockIndex'" in e.value.message


def test_required_and_type_errors():
    with pytest.raises(ConstraintViolation, match="at 'volumeSize' failed to satisfy constraint: Member must not be null"):
        model.parse("StartSnapshot", raw(body=b"{}"))
    with pytest.raises(ConstraintViolation, match="Member must be a number"):
        model.parse("StartSnapshot", raw(body=b'{"VolumeSize": "big"}'))
    with pytest.raises(ConstraintViolation, match="at 'blockIndex'"):
        model.parse("GetSnapshotBlock", raw(uri={"snapshotId": "snap-0", "blockIndex": "x"}, query={"blockToken": "A"}))
    with pytest.raises(SerializationError):
        model.parse("StartSnapshot", raw(body=b"[1]"))


@pytest.mark.parametrize("request_", [
    ("PutSnapshotBlock", raw(uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": "x"},
                             headers={"x-amz-Data-Length": "524288", "x-amz-Checksum": "AAAA",
                                      "x-amz-Checksum-Algorithm": "SHA256"}, body=b"b")),
    ("StartSnapshot", raw(body=b'{"VolumeSize": 1.5}')),
    ("StartSnapshot", raw(body=b'{"VolumeSize": true}')),
])
def test_a_wrongly_typed_required_member_is_one_violation(request_):
    with pytest.raises(ConstraintViolation) as e:
        model.parse(*request_)
    assert e.value.message.startswith("1 validation error detected: ")
    assert "Member must be a number" in e.value.message


def test_numbers_beyond_the_model_types_are_violations():
    """BlockIndex is an int, VolumeSize a long: Coral's Java types, not Python's unbounded ints."""
    with pytest.raises(ConstraintViolation, match="at 'blockIndex' failed to satisfy constraint: Member must be a number"):
        model.parse("GetSnapshotBlock", raw(uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": str(2**31)},
                                            query={"blockToken": "A"}))
    with pytest.raises(ConstraintViolation, match="at 'volumeSize'"):
        model.parse("StartSnapshot", raw(body=json.dumps({"VolumeSize": 2**63}).encode()))
    assert model.parse("StartSnapshot", raw(body=json.dumps({"VolumeSize": 2**40}).encode()))["VolumeSize"] == 2**40


def test_query_parameters_are_named_as_on_the_wire():
    with pytest.raises(ConstraintViolation, match="Value '' at 'pageToken' failed"):
        model.parse("ListSnapshotBlocks", raw(uri={"snapshotId": "snap-0123456789abcdef0"}, query={"pageToken": ""}))


def test_deeply_nested_json_is_a_serialization_error():
    with pytest.raises(SerializationError):
        model.parse("StartSnapshot", raw(body=b"[" * 100_000))
    with pytest.raises(SerializationError):
        model.parse("StartSnapshot", raw(body=b'{"VolumeSize":' + b"[" * 100_000 + b"]" * 100_000 + b"}"))


def test_tag_members_are_validated():
    with pytest.raises(ConstraintViolation, match="at 'key'"):
        model.parse("StartSnapshot", raw(body=json.dumps({"VolumeSize": 1, "Tags": [{"Key": "k" * 200, "Value": "v"}]}).encode()))


def test_serialisation_uses_headers_payload_and_explicit_nulls():
    wire = model.serialize("GetSnapshotBlock", {"DataLength": 3, "BlockData": b"abc", "Checksum": "c", "ChecksumAlgorithm": "SHA256"})
    assert wire.status == 200 and wire.body == b"abc"
    assert wire.headers["x-amz-Data-Length"] == "3" and wire.headers["Content-Type"] == "application/octet-stream"
    listed = model.serialize("ListChangedBlocks", {"ChangedBlocks": [{"BlockIndex": 1, "SecondBlockToken": "t"}], "ExpiryTime": 1.5})
    doc = json.loads(listed.body)
    assert doc["ChangedBlocks"] == [{"BlockIndex": 1, "FirstBlockToken": None, "SecondBlockToken": "t"}]
    assert doc["NextToken"] is None and doc["ExpiryTime"] == 1.5
    assert model.serialize("StartSnapshot", {"SnapshotId": "snap-1"}).status == 201


def test_unexpected_errors_become_json_internal_errors():
    status, headers, body = error_response(KeyError("boom"))
    assert status == 500 and headers["x-amzn-ErrorType"].startswith("InternalServerException")
    assert b"boom" not in body and json.loads(body)["Message"]


def test_patterns_match_the_whole_value_not_up_to_a_trailing_newline():
    with pytest.raises(ConstraintViolation, match="at 'clientToken'"):
        model.parse("StartSnapshot", raw(body=json.dumps({"VolumeSize": 1, "ClientToken": "tok\n"}).encode()))
    with pytest.raises(ConstraintViolation, match="at 'checksum'"):
        model.parse("PutSnapshotBlock", raw(
            uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": "0"},
            headers={"x-amz-Data-Length": "524288", "x-amz-Checksum": "AAAA\n", "x-amz-Checksum-Algorithm": "SHA256"},
            body=b"b",
        ))


@pytest.mark.parametrize(
    ("where", "request_"),
    [
        ("blockIndex", raw(uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": "9" * 5000},
                           query={"blockToken": "AAAA"})),
        ("maxResults", raw(uri={"snapshotId": "snap-0123456789abcdef0"}, query={"maxResults": "1" * 5000})),
    ],
)
def test_a_number_beyond_pythons_digit_limit_is_a_violation_not_a_crash(where, request_):
    operation = "GetSnapshotBlock" if where == "blockIndex" else "ListSnapshotBlocks"
    with pytest.raises(ConstraintViolation, match=f"at '{where}' failed to satisfy constraint: Member must be a number"):
        model.parse(operation, request_)


def test_a_header_number_beyond_pythons_digit_limit_is_a_violation():
    with pytest.raises(ConstraintViolation, match="at 'dataLength'"):
        model.parse("PutSnapshotBlock", raw(
            uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": "1"},
            headers={"x-amz-Data-Length": "5" * 5000, "x-amz-Checksum": "AAAA", "x-amz-Checksum-Algorithm": "SHA256"},
        ))


@pytest.mark.parametrize("index", ["1\n", " 1", "1 ", "\u0661", "+1"])
def test_a_number_is_its_digits_and_nothing_around_them(index):
    """``…/blocks/1%0a`` arrives as ``1\\n``: not block 1."""
    with pytest.raises(ConstraintViolation, match="at 'blockIndex'"):
        model.parse("GetSnapshotBlock", raw(uri={"snapshotId": "snap-0123456789abcdef0", "blockIndex": index},
                                            query={"blockToken": "AAAA"}))


@pytest.mark.parametrize(
    ("exc", "key"),
    [
        (ConstraintViolation.many([(f"member{n}", "x" * 90, "Member must be a number") for n in range(3)]), "message"),
        (SerializationError("y" * 300), "message"),
        (InvalidSnapshotId("z" * 300), "Message"),
    ],
)
def test_a_message_echoing_a_long_value_is_cut_to_the_models_256_characters(exc, key):
    message = json.loads(error_response(exc)[2])[key]
    assert len(message) == 256 and message.endswith("...")


def test_a_violation_shows_a_long_value_shortened_so_that_its_constraint_still_fits():
    message = json.loads(error_response(ConstraintViolation("clientToken", "x" * 5000, "Member must be short"))[2])["message"]
    assert len(message) <= 256 and message.endswith("at 'clientToken' failed to satisfy constraint: Member must be short")
