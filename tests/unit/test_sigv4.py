"""The verifier against requests botocore signs, rebuilt as the WSGI front sees them (path decoded, query raw)."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import unquote_to_bytes, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalicelib.domain.access import AccessKey, Policy
from chalicelib.domain.errors import (
    IncompleteSignature,
    MissingAuthentication,
    OperationDenied,
    RequestExpired,
    SignatureMismatch,
    UnknownAccessKey,
)
from chalicelib.http.sigv4 import Guard, SignedRequest, Verifier

KEY = AccessKey("AKIDUNITTEST00000000", "unit-secret", Policy.FULL)
READER = AccessKey("AKIDREADER0000000000", "reader-secret", Policy.READ_ONLY)
KEYS = {k.access_key_id: k for k in (KEY, READER)}


def signed(method: str, url: str, body: bytes = b"", headers: dict | None = None, key: AccessKey = KEY,
           service: str = "ebs") -> SignedRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, "eu-west-1").add_auth(request)
    parts = urlsplit(url)
    wire = {k.lower(): v for k, v in request.headers.items()}
    wire["host"] = parts.netloc
    return SignedRequest(method, unquote_to_bytes(parts.path).decode("latin-1"), parts.query, wire, body)


def verify(request: SignedRequest, service: str = "ebs", clock=time.time) -> AccessKey:
    return Verifier(KEYS.get, clock).authenticate(request, service)


@pytest.mark.parametrize("url", [
    "http://h:1/snapshots/snap-0a/blocks/7",
    "http://h:1/snapshots/snap-0a/blocks?maxResults=100&pageToken=ab%2Bc%2F%3D&startingBlockIndex=3",
    "http://h:1/a%20b/%C3%A9t%C3%A9/~x",
    "http://h:1/keys/A!B:C@D(E)",  # sub-delimiters left as they are, as hand-built clients do
    "http://h:1/snapshots/snap-0a/changedblocks?firstSnapshotId=snap-1&maxResults=100",
    "http://h:1/",
])
def test_what_botocore_signs_verifies(url):
    assert verify(signed("GET", url)) == KEY


def test_a_payload_hash_must_be_the_body_s_and_unsigned_payload_is_accepted():
    body = b'{"VolumeSize": 1}'
    good = signed("POST", "http://h/snapshots", body, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert verify(good) == KEY
    with pytest.raises(SignatureMismatch, match="x-amz-content-sha256"):
        verify(SignedRequest(good.method, good.path, good.query, good.headers, b'{"VolumeSize": 2}'))
    unsigned = signed("PUT", "http://h/snapshots/snap-0a/blocks/0", b"x" * 64, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert verify(unsigned) == KEY
    with pytest.raises(IncompleteSignature):
        verify(signed("PUT", "http://h/x", b"", {"X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}))


def test_without_the_header_the_body_itself_is_signed():
    request = signed("POST", "http://h/snapshots", b'{"VolumeSize": 1}')
    assert verify(request) == KEY
    with pytest.raises(SignatureMismatch):
        verify(SignedRequest(request.method, request.path, request.query, request.headers, b'{"VolumeSize": 9}'))


@pytest.mark.parametrize("change", ["path", "query", "method", "header"])
def test_any_change_after_signing_fails(change):
    r = signed("GET", "http://h/snapshots/snap-0a/blocks?maxResults=100", headers={"x-amz-Progress": "5"})
    changed = {
        "path": SignedRequest(r.method, "/snapshots/snap-0b/blocks", r.query, r.headers, r.body),
        "query": SignedRequest(r.method, r.path, "maxResults=1000", r.headers, r.body),
        "method": SignedRequest("DELETE", r.path, r.query, r.headers, r.body),
        "header": SignedRequest(r.method, r.path, r.query, {**r.headers, "x-amz-progress": "6"}, r.body),
    }[change]
    with pytest.raises(SignatureMismatch):
        verify(changed)


def test_unsigned_headers_may_be_added_by_the_way():
    r = signed("GET", "http://h/snapshots/snap-0a/blocks")
    assert verify(SignedRequest(r.method, r.path, r.query, {**r.headers, "x-forwarded-for": "1.2.3.4"}, r.body)) == KEY


def test_each_refusal_is_its_own_error():
    r = signed("GET", "http://h/x")
    with pytest.raises(MissingAuthentication):
        verify(SignedRequest(r.method, r.path, r.query, {"host": "h"}, b""))
    with pytest.raises(UnknownAccessKey):
        verify(signed("GET", "http://h/x", key=AccessKey("AKIDNOBODY0000000000", "s", Policy.FULL)))
    with pytest.raises(SignatureMismatch):
        verify(signed("GET", "http://h/x", key=AccessKey(KEY.access_key_id, "wrong", Policy.FULL)))
    with pytest.raises(SignatureMismatch, match="scoped to correct service: 'ec2'"):
        verify(r, service="ec2")
    with pytest.raises(IncompleteSignature):
        verify(SignedRequest(r.method, r.path, r.query, {**r.headers, "authorization": "AWS AKID:abc"}, b""))


@pytest.mark.parametrize("offset, ok", [(-901, False), (901, False), (-890, True), (890, True)])
def test_fifteen_minutes_of_skew(offset, ok):
    r = signed("GET", "http://h/x")
    clock = lambda: time.time() - offset  # noqa: E731 - the server's clock, `offset` seconds from the client's
    if ok:
        assert verify(r, clock=clock) == KEY
    else:
        with pytest.raises(RequestExpired):
            verify(r, clock=clock)


def test_the_guard_names_ec2_actions_and_applies_the_policy():
    guard = Guard(Verifier(KEYS.get))
    body = b"Action=DescribeSnapshots&Version=2016-11-15"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert guard.check(signed("POST", "http://h/", body, form, READER, "ec2"), "/", "ec2") == READER
    with pytest.raises(OperationDenied, match="ec2:DeleteSnapshot"):
        guard.check(signed("POST", "http://h/", b"Action=DeleteSnapshot&SnapshotId=snap-1", form, READER, "ec2"),
                    "/", "ec2")
    with pytest.raises(OperationDenied, match="ebs:StartSnapshot"):
        guard.check(signed("POST", "http://h/snapshots", b"{}", key=READER), "/snapshots", "start_snapshot")


def test_a_signed_header_dropped_because_it_was_empty_still_verifies():
    r = signed("POST", "http://h/snapshots", b"", {"Content-Type": ""})
    dropped = {k: v for k, v in r.headers.items() if k != "content-type"}
    assert verify(SignedRequest(r.method, r.path, r.query, dropped, r.body)) == KEY
