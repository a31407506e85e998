"""The Python client: boto3's ``ebs`` client plus blocksnap's extensions.

The EBS operations are boto3's own; the ``/blocksnap/v1`` calls are signed
with botocore's SigV4 signer and sent through botocore's HTTP session, so a
deployment behind IAM authentication accepts them like any AWS request, and
errors come back as botocore ``ClientError`` with ``Code``, ``Message`` and
``Reason`` exactly as for the EBS operations.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
from typing import Any, Callable
from urllib.parse import urlencode

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

_CREDENTIAL_ARGS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

_sub_block_size: contextvars.ContextVar[int | None] = contextvars.ContextVar("sub_block_size", default=None)


class BlocksnapClient:
    def __init__(
        self, endpoint_url: str, region_name: str = "us-east-1", session: boto3.Session | None = None,
        signing_name: str = "ebs", **client_kwargs: Any,
    ):
        """Credentials come from ``session``, or from ``aws_access_key_id``/... keyword arguments.

        Keyword credentials go into the session rather than only into the
        ``ebs`` client, so that the extension calls are signed with them too.
        ``signing_name="execute-api"`` signs every call for an API Gateway
        with IAM authorization (the deployed stack), which refuses a
        signature scoped to ``ebs``.
        """
        credentials = {name: client_kwargs.pop(name) for name in _CREDENTIAL_ARGS if name in client_kwargs}
        if credentials and session is not None:
            raise TypeError("give credentials either in the session or as keyword arguments, not both")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.session = session or boto3.Session(region_name=region_name, **credentials)
        self.region_name = region_name
        self.ebs = self.session.client("ebs", endpoint_url=self.endpoint_url, region_name=region_name, **client_kwargs)
        self.ebs.meta.events.register("before-sign.ebs.StartSnapshot", self._add_sub_block_header)
        self.signing_name = signing_name
        if signing_name != "ebs":
            self.ebs.meta.events.register("before-sign.ebs", self._rescope)
        self._http = URLLib3Session()

    def _rescope(self, request, **_: Any) -> None:
        request.context.setdefault("signing", {})["signing_name"] = self.signing_name

    @staticmethod
    def _add_sub_block_header(request, **_: Any) -> None:
        size = _sub_block_size.get()
        if size is not None:
            request.headers["x-blocksnap-sub-block-size"] = str(size)

    def start_snapshot(self, *, sub_block_size: int | None = None, **kwargs: Any) -> dict:
        """StartSnapshot; ``sub_block_size`` opts the snapshot in to sub-block writes."""
        token = _sub_block_size.set(sub_block_size)
        try:
            return self.ebs.start_snapshot(**kwargs)
        finally:
            _sub_block_size.reset(token)

    def describe_snapshot(self, snapshot_id: str) -> dict:
        return self._call("GET", f"/blocksnap/v1/snapshots/{snapshot_id}", "DescribeSnapshot")

    def put_sub_block(self, snapshot_id: str, block_index: int, offset: int, data: bytes) -> str:
        """Write ``data`` at ``offset`` of a block; returns the merged block's checksum."""
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        headers = {
            "x-amz-Data-Length": str(len(data)),
            "x-amz-Checksum": checksum,
            "x-amz-Checksum-Algorithm": "SHA256",
            "Content-Type": "application/octet-stream",
        }
        path = f"/blocksnap/v1/snapshots/{snapshot_id}/blocks/{int(block_index)}/subblocks/{int(offset)}"
        response = self._send("PUT", path, data, headers, "PutSnapshotSubBlock")
        return response.headers["x-amz-Checksum"]

    def checksums(self, snapshot_id: str) -> dict[int, str] | None:
        """Every block's checksum of a completed snapshot, inherited ones included; None where the route is absent."""
        return self._all_digests(self.list_checksums, snapshot_id)

    def writes(self, snapshot_id: str) -> dict[int, str] | None:
        """A pending snapshot's acknowledged writes (latest per index); None where the route is absent."""
        return self._all_digests(self.list_writes, snapshot_id)

    @staticmethod
    def _all_digests(page_of: Callable[..., dict], snapshot_id: str) -> dict[int, str] | None:
        """Pages of ``{"Blocks": [{"BlockIndex", "Checksum"}], "NextToken"}`` folded into one map.

        Any non-2xx answer means "not available here": a server without the
        extension (moto, AWS, an older blocksnap) answers 404 or 403, and the
        callers have a slower way to the same digests.
        """
        digests: dict[int, str] = {}
        token: str | None = None
        while True:
            try:
                page = page_of(snapshot_id, maxResults=10000, **({"pageToken": token} if token else {}))
            except ClientError:
                return None
            if page.get("ChecksumAlgorithm", "SHA256") != "SHA256":
                return None
            digests.update((int(b["BlockIndex"]), b["Checksum"]) for b in page.get("Blocks", []))
            token = page.get("NextToken")
            if not token:
                return digests

    def copy_snapshot(self, snapshot_id: str, **body: Any) -> dict:
        """Start an encrypted copy (``Encrypted=True``, optional KmsKeyArn, Description, Tags, ClientToken)."""
        data = json.dumps(body).encode()
        return self._call("POST", f"/blocksnap/v1/snapshots/{snapshot_id}/copy", "CopySnapshot", data)

    def list_checksums(self, snapshot_id: str, **query: Any) -> dict:
        """One page of a completed snapshot's block checksums (``maxResults``, ``pageToken``, ``startingBlockIndex``)."""
        path = f"/blocksnap/v1/snapshots/{snapshot_id}/checksums{_query(query)}"
        return self._call("GET", path, "ListSnapshotChecksums")

    def list_writes(self, snapshot_id: str, **query: Any) -> dict:
        """One page of a snapshot's acknowledged writes, latest per index (for resuming an upload)."""
        path = f"/blocksnap/v1/snapshots/{snapshot_id}/writes{_query(query)}"
        return self._call("GET", path, "ListSnapshotWrites")

    def get_usage(self) -> dict:
        """The store's figures: StoredBytes, StoredBlocks, ReferencedBytes, ReclaimableBytes."""
        return self._call("GET", "/blocksnap/v1/usage", "GetUsage")

    def create_access_key(self, policy: str, description: str | None = None) -> dict:
        """A new key ("full", "read-only" or "append-only"): the only answer that holds its secret."""
        body = {"Policy": policy, **({"Description": description} if description is not None else {})}
        return self._call("POST", "/blocksnap/v1/keys", "CreateAccessKey", json.dumps(body).encode())

    def list_access_keys(self) -> list[dict]:
        return self._call("GET", "/blocksnap/v1/keys", "ListAccessKeys")["AccessKeys"]

    def delete_access_key(self, access_key_id: str) -> None:
        self._call("DELETE", f"/blocksnap/v1/keys/{access_key_id}", "DeleteAccessKey")

    def _call(self, method: str, path: str, operation: str, body: bytes = b"") -> dict:
        headers = {"Content-Type": "application/json"} if body else {}
        return json.loads(self._send(method, path, body, headers, operation).content or b"{}")

    def _send(self, method: str, path: str, body: bytes, headers: dict, operation: str):
        request = AWSRequest(method=method, url=self.endpoint_url + path, data=body, headers=headers)
        credentials = self.session.get_credentials()
        if credentials is not None:
            SigV4Auth(credentials.get_frozen_credentials(), self.signing_name, self.region_name).add_auth(request)
        response = self._http.send(request.prepare())
        if response.status_code >= 300:
            raise _client_error(response, operation)
        return response


def _query(params: dict[str, Any]) -> str:
    return "?" + urlencode(params) if params else ""


def _client_error(response, operation: str) -> ClientError:
    try:
        document = json.loads(response.content or b"{}")
    except ValueError:
        document = {}
    code = response.headers.get("x-amzn-ErrorType", str(response.status_code)).split(":")[0]
    error = {"Code": code, "Message": document.get("Message") or document.get("message", "")}
    parsed: dict[str, Any] = {
        "Error": error,
        "ResponseMetadata": {
            "HTTPStatusCode": response.status_code,
            "RequestId": response.headers.get("x-amzn-RequestId"),
        },
    }
    if "Reason" in document:
        parsed["Reason"] = document["Reason"]
    return ClientError(parsed, operation)
