"""A WSGI front for the Chalice app: what API Gateway does, for ``blocksnap serve``.

Chalice's own ``chalice local`` server is a single-threaded development
server; blocksnap serves with granian instead and needs only this thin
translation from a WSGI request to an API Gateway proxy event and back. Every
routed request passes the :class:`~chalicelib.http.sigv4.Guard` (SigV4 and
the key's policy) before dispatch, and the key id reaches the handlers as API
Gateway's ``requestContext.identity.accessKey``. Bodies
are handed over as raw bytes (no base64 round trip on the way in). Unknown
paths get an AWS-shaped JSON 404 rather than API Gateway's 403 "Missing
Authentication Token", and a known path with another method gets the same
shape with 405 rather than Chalice's own body. Responses come back as raw
bytes too (:data:`~chalicelib.http.gateway.RAW_BODY_MARK`).
"""

from __future__ import annotations

import base64
import uuid
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from chalice.local import RouteMatcher

from ..domain.errors import (
    BlocksnapError,
    MethodNotAllowed,
    RequestTooLarge,
    SerializationError,
    UnknownOperation,
)
from .errors import ec2_error_response, error_response
from .gateway import RAW_BODY_MARK
from .sigv4 import EC2_ROUTE, Guard, SignedRequest

# A block (512 KiB) is the largest body any operation takes; JSON documents are far smaller.
MAX_BODY = 1024 * 1024

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class ChaliceWSGI:
    def __init__(self, app: Any, guard: Guard | None = None):
        """``guard`` checks every routed request's signature and policy; None serves everyone (--no-auth)."""
        self.app = app
        self.matcher = RouteMatcher(list(app.routes))
        self.guard = guard

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ["REQUEST_METHOD"]
        try:
            match = self._route(path, method)
            body = request_body(environ)
        except BlocksnapError as exc:
            return self._error(exc, start_response)
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        try:
            key = self._check(SignedRequest(method, path, environ.get("QUERY_STRING", ""), headers, body), match)
        except BlocksnapError as exc:
            return self._error(exc, start_response, match.route)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        event = {
            "requestContext": {
                "httpMethod": method,
                "resourcePath": match.route,
                "identity": {"sourceIp": environ.get("REMOTE_ADDR", ""), "accessKey": key},
                "path": path,
            },
            "headers": headers,
            "pathParameters": {k: match.captured[k] for k in _params(match.route)},
            "multiValueQueryStringParameters": query or None,
            "stageVariables": {},
            "body": body,
            "isBase64Encoded": False,
            RAW_BODY_MARK: True,
        }
        response = self.app(event, None)  # no Lambda context outside Lambda; nothing here reads one
        out = response.get("body") or b""
        if response.get("isBase64Encoded"):
            out = base64.b64decode(out)
        elif isinstance(out, str):
            out = out.encode("utf-8")
        header_list = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            header_list.extend((name, str(v)) for v in values)
        if not any(k.lower() == "x-amzn-requestid" for k, _ in header_list):
            header_list.append(("x-amzn-RequestId", str(uuid.uuid4())))
        header_list.append(("Content-Length", str(len(out))))
        status = response["statusCode"]
        start_response(f"{status} {_REASONS.get(status, '')}", header_list)
        return [out]

    def _route(self, path: str, method: str):
        try:
            match = self.matcher.match_route(path)
        except ValueError:
            raise UnknownOperation(f"No operation is served at {path}") from None
        methods = self.app.routes[match.route]
        if method not in methods:
            raise MethodNotAllowed(f"No operation is served at {method} {path}", tuple(sorted(methods)))
        return match

    def _check(self, request: SignedRequest, match) -> str | None:
        """The access key id the request was signed with, once the guard lets it through."""
        if self.guard is None:
            return None
        handler = self.app.routes[match.route][request.method].view_name
        return self.guard.check(request, match.route, handler).access_key_id

    @staticmethod
    def _error(exc: BlocksnapError, start_response: Callable, route: str | None = None) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        ec2 = ec2_error_response(exc, request_id) if route == EC2_ROUTE else None
        status, headers, body = ec2 or error_response(exc)
        header_list = list(headers.items())
        if isinstance(exc, MethodNotAllowed):
            header_list.append(("Allow", ", ".join(exc.allowed)))
        header_list += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, '')}", header_list)
        return [body]


def request_body(environ: dict) -> bytes:
    """The whole body, whether sized by Content-Length or chunked, refused beyond MAX_BODY.

    botocore sends a body it cannot size (a stream, such as the body of a
    GetSnapshotBlock being copied) with chunked transfer encoding, so no
    Content-Length means "read to the end", not "empty", where the server
    ends the input stream at the end of the body (``wsgi.input_terminated``,
    as granian does). Elsewhere (wsgiref) reading past Content-Length would
    block until the client hangs up, so there no Content-Length is no body.
    """
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        if not declared.isdigit():
            raise SerializationError(f"Content-Length {declared!r} is not a number")
        length = int(declared)
        if length > MAX_BODY:
            raise RequestTooLarge(f"The request body of {length} bytes is larger than {MAX_BODY} bytes")
        return stream.read(length) if length > 0 else b""
    if not environ.get("wsgi.input_terminated") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""  # HTTP/1.1: no Content-Length and no chunked encoding is no body (every GET)
    body = stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise RequestTooLarge(f"The request body is larger than {MAX_BODY} bytes")
    return body


def _params(route: str) -> list[str]:
    return [part[1:-1] for part in route.split("/") if part.startswith("{") and part.endswith("}")]
