"""API Gateway's REST proxy integration, in process: real client requests in, proxy events out.

moto cannot run a Lambda without Docker, and ``chalice local`` builds its own
events; this plays the part of a deployed REST API in front of the
``api_handler`` function instead. A botocore client's request (serialised and
signed by botocore itself) becomes the event API Gateway would send
(``resource``, ``pathParameters``, multi-value headers and query, a
``requestContext`` with the stage and the caller), the handler's answer
becomes the HTTP response botocore parses. What API Gateway decides on its
own is modelled where blocksnap depends on it:

* **Binary media types.** A body whose Content-Type matches one of the API's
  binary media types arrives base64 encoded, others as UTF-8 text (a block of
  arbitrary bytes would be mangled); a request with no Content-Type, which is
  how botocore sends PutSnapshotBlock, is taken as ``application/json``. A
  base64 answer is decoded only when the request's Accept matches.
* **IAM authorization** (``authorizationType: AWS_IAM``): a request must carry
  a SigV4 Authorization scoped to the ``execute-api`` service, else
  API Gateway's 403. Signatures themselves are not verified.
* A path no route matches is API Gateway's 403 ``Missing Authentication Token``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import io
import json
import re
import time
import uuid
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

STAGE = "api"
ACCOUNT = "123456789012"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/[^/]+/([^/]+)/aws4_request")


class _Body(io.BytesIO):
    """A response body as urllib3 hands it to botocore: readable, and streamable."""

    def stream(self, amt: int = 1024 * 1024, decode_content: bool = False):
        while chunk := self.read(amt):
            yield chunk


def _matches(content_type: str, media_types: list[str]) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(kind, pattern.replace("~1", "/").lower()) for pattern in media_types)


class RestApiGateway:
    """One REST API stage in front of ``handler``: ``routes`` maps a resource path to its methods."""

    def __init__(
        self,
        handler: Callable[[dict, Any], dict],
        routes: dict[str, list[str]],
        binary_media_types: list[str],
        iam: bool = True,
        api_id: str = "a1b2c3d4e5",
        region: str = "us-east-1",
        context: Callable[[], Any] = lambda: None,
        record: Callable[[str, dict], None] | None = None,
    ):
        self.handler = handler
        self.routes = routes
        self.binary_media_types = binary_media_types
        self.iam = iam
        self.api_id = api_id
        self.region = region
        self.context = context
        self.record = record

    @property
    def endpoint_url(self) -> str:
        return f"https://{self.api_id}.execute-api.{self.region}.amazonaws.com/{STAGE}"

    def attach(self, client) -> None:
        """Answer every request of a botocore client here, instead of over the network."""
        client.meta.events.register("before-send", lambda request, **kw: self.send(request))

    def connect(self, client) -> None:
        """The same for a BlocksnapClient: its ``ebs`` client, and its extension calls (prepared requests)."""
        self.attach(client.ebs)
        client._http = self

    # ---- one request ----------------------------------------------------

    def send(self, request) -> AWSResponse:
        """A prepared botocore request, answered as API Gateway and the function would answer it."""
        url = urlsplit(request.url)
        path = unquote(url.path)
        if not path.startswith(f"/{STAGE}/"):
            return self._gateway_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        path = path[len(STAGE) + 1:]
        found = self._route(request.method, path)
        if found is None:
            return self._gateway_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        refusal = self._authorize(headers)
        if refusal is not None:
            return refusal
        resource, parameters = found
        event = self.event(request.method, path, url.query, headers, _body_bytes(request.body), resource, parameters)
        if self.record is not None:
            self.record(resource, copy.deepcopy(event))  # as sent: the handler may add to it
        return self.respond(self.handler(event, self.context()), headers)

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        for resource, methods in self.routes.items():
            template = resource.strip("/").split("/")
            if len(template) != len(parts) or method not in methods:
                continue
            parameters = {}
            for expected, given in zip(template, parts):
                if expected.startswith("{") and expected.endswith("}"):
                    parameters[expected[1:-1]] = given
                elif expected != given:
                    break
            else:
                return resource, parameters
        return None

    def _authorize(self, headers: dict[str, str]) -> AWSResponse | None:
        if not self.iam:
            return None
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scope = _SCOPE.search(authorization)
        if scope is None:
            return self._gateway_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if scope.group(2) != "execute-api":
            return self._gateway_error(
                403, "InvalidSignatureException",
                f"Credential should be scoped to correct service: 'execute-api'. ",
            )
        return None

    def event(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
        resource: str, parameters: dict[str, str],
    ) -> dict:
        """The REST API proxy event (payload format 1.0) for one request."""
        headers = {**headers, "Host": f"{self.api_id}.execute-api.{self.region}.amazonaws.com",
                   "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443",
                   "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"}
        pairs = parse_qsl(query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for key, value in pairs:
            multi_query.setdefault(key, []).append(value)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
        binary = bool(body) and _matches(content_type, self.binary_media_types)
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scope = _SCOPE.search(authorization)
        now = time.time()
        return {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "abc123",
                "resourcePath": resource,
                "httpMethod": method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "path": f"/{STAGE}{path}",
                "accountId": ACCOUNT,
                "protocol": "HTTP/1.1",
                "stage": STAGE,
                "domainPrefix": self.api_id,
                "requestTimeEpoch": int(now * 1000),
                "requestId": str(uuid.uuid4()),
                "identity": {
                    "accessKey": scope.group(1) if scope else None,
                    "accountId": ACCOUNT if scope else None,
                    "caller": f"{ACCOUNT}:blocksnap-client" if scope else None,
                    "user": f"{ACCOUNT}:blocksnap-client" if scope else None,
                    "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/client/blocksnap-client" if scope else None,
                    "sourceIp": "192.0.2.10",
                    "userAgent": next((v for k, v in headers.items() if k.lower() == "user-agent"), None),
                },
                "domainName": f"{self.api_id}.execute-api.{self.region}.amazonaws.com",
                "apiId": self.api_id,
            },
            "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")) if body else None,
            "isBase64Encoded": binary,
        }

    def respond(self, answer: dict, request_headers: dict[str, str]) -> AWSResponse:
        """The function's proxy answer as the HTTP response API Gateway sends on."""
        headers = HTTPHeaders()
        for name, value in (answer.get("headers") or {}).items():
            headers[name] = value
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            for value in values:
                headers[name] = value
        body = answer.get("body") or ""
        accept = next((v for k, v in request_headers.items() if k.lower() == "accept"), None)
        binary = _matches(accept or headers.get("Content-Type", ""), self.binary_media_types)
        if answer.get("isBase64Encoded") and binary:
            raw = base64.b64decode(body)
        else:
            raw = body.encode() if isinstance(body, str) else body
        headers["Content-Length"] = str(len(raw))
        return AWSResponse(self.endpoint_url, int(answer["statusCode"]), headers, _Body(raw))

    def _gateway_error(self, status: int, error_type: str, message: str) -> AWSResponse:
        body = json.dumps({"message": message}).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = error_type
        headers["Content-Length"] = str(len(body))
        return AWSResponse(self.endpoint_url, status, headers, _Body(body))


def _body_bytes(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return body.read()

