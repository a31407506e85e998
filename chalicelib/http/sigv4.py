"""SigV4 verification for ``blocksnap serve``: botocore recomputes the signature the client sent.

No canonicalisation is written here. The request is rebuilt as a botocore
``AWSRequest`` and botocore's own :class:`~botocore.auth.SigV4Auth` computes
the canonical request, the string to sign and the signature, exactly as it did
in the client. Three things have to be given back to it as the client had them:

* **The path as sent.** WSGI hands over ``PATH_INFO`` percent-decoded (as
  latin-1 text); the SDKs percent-encode everything but the unreserved
  characters and ``/`` (botocore's ``percent_encode``, the JS SDK's
  ``escapeUri``), so encoding it again that way gives the wire path, which
  botocore then encodes once more as SigV4 wants for every service but S3.
  Clients that build a path by hand may leave RFC 3986's sub-delimiters,
  ``:`` and ``@`` as they are; a path holding one is tried that way too (both
  spellings name the same path to the server). A path that percent-encodes an
  unreserved character cannot be told apart and fails.
* **The query as sent.** botocore signs the query string of the URL as it is
  (split at ``&``, sorted, not re-encoded), so the raw ``QUERY_STRING`` goes in.
* **Only the signed headers**, those named by ``SignedHeaders``: the server
  sees headers the client did not sign (proxies add some), and botocore's
  client-side choice (all headers but a few) is not the server's to make.

The payload hash is what ``x-amz-content-sha256`` says when it is signed:
``UNSIGNED-PAYLOAD`` (botocore's PutSnapshotBlock), or the body's SHA-256 in
hex (the JS SDK over http), which is checked against the body here. Without
the header botocore hashes the body itself, as the client did (every other
botocore request). A chunked transfer encoding changes nothing: the body is
read whole before this runs. ``STREAMING-…`` (aws-chunked) payloads are
refused; no SDK sends them to EBS or EC2.

Any region in the credential scope is accepted (there is one blocksnap per
endpoint, whatever region the client believes it is in); the service must be
``ebs`` for the EBS and extension routes and ``ec2`` for ``POST /``. Query-string
(presigned) authentication is not supported. Signatures are compared in
constant time, and no message names or hints at a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping
from urllib.parse import parse_qs, quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..domain.access import ACCESS_KEY_ID, AccessKey, allowed, operation_name
from ..domain.errors import (
    IncompleteSignature,
    MissingAuthentication,
    OperationDenied,
    RequestExpired,
    SignatureMismatch,
    UnknownAccessKey,
)

# AWS's allowed clock skew between client and server.
MAX_SKEW_SECONDS = 15 * 60
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EC2_ROUTE = "/"

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_FIELDS = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
_AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256\s+(.+)", re.DOTALL)
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_ACTION = re.compile(r"[A-Za-z0-9]{1,64}")
_SUB_DELIMS = "/!$&'()*+,;=:@"


@dataclass(frozen=True)
class SignedRequest:
    """What the WSGI front knows of a request: ``path`` decoded, ``query`` raw, header names lower-case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class _SignedHeaders(dict):
    """The signed headers, one value each, in the two ways botocore reads them (names, ``get_all``).

    botocore's own ``HTTPHeaders`` is an ``email.message.Message``: building
    and reading one was a third of the check's CPU.
    """

    def get_all(self, name: str) -> list[str]:
        return [self[name]]


class _GivenHeaders(SigV4Auth):
    """botocore's signer, told which headers the client signed instead of choosing them itself."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: _SignedHeaders):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> _SignedHeaders:
        return self._signed


class Verifier:
    """Finds the key a request was signed with and proves the signature, or raises an AuthenticationError."""

    def __init__(self, lookup: Callable[[str], AccessKey | None], clock: Callable[[], float] = time.time):
        self.lookup = lookup
        self.clock = clock

    def authenticate(self, request: SignedRequest, service: str) -> AccessKey:
        header = request.headers.get("authorization")
        if not header:
            raise MissingAuthentication()
        auth = _parse(header)
        key = self.lookup(auth.access_key_id) if ACCESS_KEY_ID.fullmatch(auth.access_key_id) else None
        if key is None:
            raise UnknownAccessKey()
        amz_date = _checked_date(request.headers.get("x-amz-date", ""), auth, service, self.clock())
        if "host" not in auth.signed_headers:
            raise IncompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        if "x-amz-content-sha256" in auth.signed_headers:
            _check_payload_hash(request.headers.get("x-amz-content-sha256", ""), request.body)
        for path in _wire_paths(request.path):
            if hmac.compare_digest(_signature(request, path, auth, key.secret_access_key, amz_date), auth.signature):
                return key
        raise SignatureMismatch()


class Guard:
    """Authentication, then the key's policy, for one routed request; the route picks the service."""

    def __init__(self, verifier: Verifier):
        self.verifier = verifier

    def check(self, request: SignedRequest, route: str, handler_name: str) -> AccessKey:
        service = "ec2" if route == EC2_ROUTE else "ebs"
        key = self.verifier.authenticate(request, service)
        operation = ec2_action(request) if service == "ec2" else operation_name(handler_name)
        if not allowed(key.policy, operation):
            raise OperationDenied(key.access_key_id, f"{service}:{operation or 'an unnamed action'}")
        return key


def ec2_action(request: SignedRequest) -> str | None:
    """The EC2 ``Action`` of a Query request (form body, or query string), if it looks like one."""
    values = parse_qs(request.body.decode("utf-8", "replace")).get("Action") or parse_qs(request.query).get("Action")
    action = values[0] if values else ""
    return action if _ACTION.fullmatch(action) else None


def _parse(header: str) -> _Authorization:
    match = _AUTHORIZATION.fullmatch(header.strip())
    if not match:
        raise IncompleteSignature("Authorization header must be AWS4-HMAC-SHA256 with Credential, SignedHeaders "
                                  "and Signature.")
    fields = {}
    for part in match.group(1).split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError as missing:
        raise IncompleteSignature(f"Authorization header requires '{missing.args[0]}' parameter.") from None
    scope = credential.split("/")
    names = tuple(signed.split(";"))
    if (len(scope) != 5 or scope[4] != "aws4_request" or not _REGION.fullmatch(scope[2])
            or not all(_HEADER_NAME.fullmatch(n) for n in names) or not _HEX_SHA256.fullmatch(signature)):
        raise IncompleteSignature("Authorization header is malformed: Credential must be "
                                  "<key>/<date>/<region>/<service>/aws4_request, Signature 64 hex digits.")
    return _Authorization(scope[0], scope[1], scope[2], scope[3], names, signature)


def _checked_date(amz_date: str, auth: _Authorization, service: str, now: float) -> str:
    """X-Amz-Date, once it matches the scope, the scope names ``service`` and the clock agrees."""
    when = _timestamp(amz_date)
    if auth.date != amz_date[:8]:
        raise SignatureMismatch(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                                f"from HTTP: '{auth.date[:8]}' != '{amz_date[:8]}', from '{amz_date}'.")
    if auth.service != service:
        raise SignatureMismatch(f"Credential should be scoped to correct service: '{service}'.")
    if when < now - MAX_SKEW_SECONDS:
        raise RequestExpired(f"Signature expired: {amz_date} is now earlier than {_stamp(now - MAX_SKEW_SECONDS)} "
                             f"({_stamp(now)} - 15 min.)")
    if when > now + MAX_SKEW_SECONDS:
        raise RequestExpired(f"Signature not yet current: {amz_date} is still later than "
                             f"{_stamp(now + MAX_SKEW_SECONDS)} ({_stamp(now)} + 15 min.)")
    return amz_date


def _timestamp(amz_date: str) -> float:
    fields = _AMZ_DATE_FIELDS.fullmatch(amz_date)
    if fields is not None:
        try:
            return datetime(*map(int, fields.groups()), tzinfo=timezone.utc).timestamp()  # strptime: 5 times slower
        except ValueError:  # month 13, say
            pass
    raise IncompleteSignature("Authorization header requires existence of a valid 'X-Amz-Date' header.")


def _stamp(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime(_AMZ_DATE)


def _check_payload_hash(declared: str, body: bytes) -> None:
    if declared == UNSIGNED_PAYLOAD:
        return
    if not _HEX_SHA256.fullmatch(declared):
        raise IncompleteSignature("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the body; "
                                  "aws-chunked (STREAMING-…) payloads are not accepted.")
    if declared != hashlib.sha256(body).hexdigest():
        raise SignatureMismatch("The provided 'x-amz-content-sha256' header does not match what was computed.")


def _wire_paths(path: str) -> list[str]:
    """The path as the SDKs send it, and as a hand-built client may have, if that differs."""
    try:
        raw = path.encode("latin-1")  # PEP 3333: PATH_INFO is bytes decoded as latin-1
    except UnicodeEncodeError:
        raw = path.encode("utf-8")
    sdk = quote(raw, safe="/")
    by_hand = quote(raw, safe=_SUB_DELIMS)
    return [sdk] if by_hand == sdk else [sdk, by_hand]


def _signature(request: SignedRequest, path: str, auth: _Authorization, secret: str, amz_date: str) -> str:
    url = "http://blocksnap" + path + (f"?{request.query}" if request.query else "")
    # A signed header that is not there was empty: WSGI servers drop an empty Content-Type.
    headers = _SignedHeaders((name, request.headers.get(name, "")) for name in auth.signed_headers)
    # botocore takes the payload hash from the request's x-amz-content-sha256, else hashes the body
    payload = {"X-Amz-Content-SHA256": headers["x-amz-content-sha256"]} if "x-amz-content-sha256" in headers else {}
    signed = AWSRequest(method=request.method, url=url, data=request.body, headers=payload)
    signed.context["timestamp"] = amz_date
    signer = _GivenHeaders(Credentials(auth.access_key_id, secret), auth.service, auth.region, headers)
    canonical = signer.canonical_request(signed)
    return signer.signature(signer.string_to_sign(signed, canonical), signed)
