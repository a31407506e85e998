"""Whatever an EC2 Query request carries, the answer is EC2-shaped XML, never a 5xx.

Hypothesis builds form bodies from the served actions' wire names (and
others), with valid, malformed and hostile ids, numbers, tokens and texts,
against existing snapshots as well as unknown ones, on both backends; every
error must be one botocore's ``ec2`` parser reads as a code and message.
"""

from __future__ import annotations

from urllib.parse import urlencode

import botocore.session
import pytest
import requests
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import block, snapshot

ACTIONS = ["DescribeSnapshots", "CreateTags", "DeleteTags", "DeleteSnapshot", "CopySnapshot"]
NAMES = [
    "SnapshotId", "SnapshotId.1", "SnapshotId.2", "Owner.1", "RestorableBy.1", "Filter.1.Name", "Filter.1.Value.1",
    "Filter.2.Value.1", "MaxResults", "NextToken", "DryRun", "ResourceId.1", "ResourceId.2", "Tag.1.Key",
    "Tag.1.Value", "Tag.2.Value", "SourceSnapshotId", "SourceRegion", "Encrypted", "KmsKeyId", "Description",
    "TagSpecification.1.ResourceType", "TagSpecification.1.Tag.1.Key", "PresignedUrl", "Version", "Bogus.1",
    "SnapshotId.0", "Filter.x.Name",
]
_text = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=40)
MODEL = botocore.session.get_session().get_service_model("ec2")


@pytest.fixture(scope="module")
def targets(server):
    ebs = server.client()
    return [snapshot(ebs, {0: block("ec2-fuzz")}), ebs.start_snapshot(VolumeSize=1)["SnapshotId"]]


def _values(targets):
    return st.one_of(
        _text,
        st.sampled_from(targets + ["snap-0123456789abcdef0", "snap-", "SNAP-0123456789ABCDEF0", "snap-0000000",
                                   "self", "amazon", "all", "us-east-1", "snapshot", "true", "false", "True",
                                   "tag:k", "status", "*", "?", "\\", "2016-11-15"]),
        st.integers(-(2**70), 2**70).map(str),
    )


# derandomize: the same requests in every CI run; run it with more examples locally to explore.
@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_ec2_request_gets_a_server_error(server, targets, data):
    params = data.draw(st.dictionaries(st.sampled_from(NAMES), _values(targets), max_size=6))
    params.setdefault("Version", "2016-11-15")
    params["Action"] = data.draw(st.one_of(st.sampled_from(ACTIONS), st.sampled_from(["DescribeVolumes", "", "x"])))
    method = data.draw(st.sampled_from(["POST", "GET"]))
    if method == "POST":
        resp = requests.post(server.url + "/", data=urlencode(params), timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    else:
        resp = requests.get(server.url + "/", params=params, timeout=30)
    assert resp.status_code < 500, (params, resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("text/xml")
    assert resp.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<')
    if resp.status_code >= 400:
        shape = MODEL.operation_model("DescribeSnapshots").output_shape
        parsed = create_parser("ec2").parse(
            {"body": resp.content, "headers": dict(resp.headers), "status_code": resp.status_code}, shape)
        assert parsed["Error"]["Code"] and parsed["Error"]["Message"], resp.text[:300]
