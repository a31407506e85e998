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
bytes too: with no API Gateway in front, the app is told it has no binary
types, so Chalice neither base64-encodes a block (which this front would
only decode again) nor asks for an Accept header that matches it.
"""

from __future__ import annotations

import base64
import copy
import re
import threading
import uuid
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from chalice.local import RouteMatcher

from ..domain.errors import BlocksnapError
from .errors import (
    BodyTimeout,
    MethodNotAllowed,
    RequestTooLarge,
    SerializationError,
    UnknownOperation,
    error_response,
)
from . import ec2_errors, ec2_query
from .sigv4 import EC2_ROUTE, Guard, SignedRequest

# A block (512 KiB) is the largest body any operation takes; JSON documents are far smaller.
MAX_BODY = 1024 * 1024
# How long a body may take to arrive: a 512 KiB block needs 30 s only below
# about 17 KiB/s; a client stalled or trickling longer is answered 408.
BODY_SECONDS = 30.0

# Where a front that has read the body already (serve's HTTP worker) leaves it,
# so that it is neither read nor copied a second time.
READ_BODY = "blocksnap.body"

_REASONS = {s.value: s.phrase for s in HTTPStatus}
# What urlsplit, inside Chalice's route matcher, drops without a word: matched
# as they are, ``…/blocks/1%0a`` (decoded to ``1\n``) would be block 1.
_UNSAFE_IN_URL = re.compile(r"[\t\r\n]")


def _percent_encoded(match: re.Match) -> str:
    return f"%{ord(match.group()):02X}"


class ChaliceWSGI:
    def __init__(self, app: Any, guard: Guard | None = None):
        """``guard`` checks every routed request's signature and policy; None serves everyone (--no-auth)."""
        # A view of the app with no binary types: the app itself keeps them
        # for API Gateway (chalice package, Lambda, tests in this process).
        self.app = copy.copy(app)
        self.app.api = copy.copy(app.api)
        self.app.api.binary_types = []
        self.matcher = RouteMatcher(list(app.routes))
        self.guard = guard

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ["REQUEST_METHOD"]
        try:
            match = self._route(path, method)
            body = environ[READ_BODY] if READ_BODY in environ else request_body(environ)
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
            match = self.matcher.match_route(_UNSAFE_IN_URL.sub(_percent_encoded, path))
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
        if route == EC2_ROUTE:  # the EC2 Query protocol's refusals are its own XML shape
            status, code, message = ec2_errors.ec2_error(exc)
            headers = {"Content-Type": ec2_query.CONTENT_TYPE}
            body = ec2_query.error_body(code, message, request_id)
        else:
            status, headers, body = error_response(exc)
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
    if declared and environ.get("HTTP_TRANSFER_ENCODING"):
        # Two framings of one body are how requests are smuggled past a proxy (RFC 9112 §6.1).
        raise SerializationError("A request must not carry both Content-Length and Transfer-Encoding")
    if declared:
        if not re.fullmatch(r"[0-9]+", declared):
            raise SerializationError(f"Content-Length {declared!r} is not a number")
        if len(declared.lstrip("0")) > len(str(MAX_BODY)) or int(declared) > MAX_BODY:
            raise RequestTooLarge(f"The request body of {declared} bytes is larger than {MAX_BODY} bytes")
        length = int(declared)
        return _read_within(stream, length, BODY_SECONDS) if length > 0 else b""
    if not environ.get("wsgi.input_terminated") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""  # HTTP/1.1: no Content-Length and no chunked encoding is no body (every GET)
    body = _read_within(stream, MAX_BODY + 1, BODY_SECONDS)
    if len(body) > MAX_BODY:
        raise RequestTooLarge(f"The request body is larger than {MAX_BODY} bytes")
    return body


def _read_within(stream, size: int, seconds: float) -> bytes:
    """``stream.read(size)``, or BodyTimeout once ``seconds`` have passed.

    granian's ``read`` cannot be interrupted or given a timeout, so it runs
    on a thread of its own: the caller's thread is free again at the
    deadline, the reading thread ends when the client sends or hangs up.
    """
    result: list = []

    def read() -> None:
        try:
            result.append(stream.read(size))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    reader = threading.Thread(target=read, name="blocksnap-body-read", daemon=True)
    reader.start()
    reader.join(seconds)
    if not result:
        raise BodyTimeout(f"The request body did not arrive within {seconds:g} seconds")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _params(route: str) -> list[str]:
    return [part[1:-1] for part in route.split("/") if part.startswith("{") and part.endswith("}")]
