"""A WSGI front for the Chalice app: what API Gateway does, for ``blocksnap serve``.

Chalice's own ``chalice local`` server is a single-threaded development
server; blocksnap serves with granian instead and needs only this thin
translation from a WSGI request to an API Gateway proxy event and back. Bodies
are handed over as raw bytes (no base64 round trip on the way in), and unknown
paths get an AWS-shaped JSON 404 rather than API Gateway's 403
"Missing Authentication Token". Responses come back as raw bytes too
(:data:`~chalicelib.http.gateway.RAW_BODY_MARK`).
"""

from __future__ import annotations

import base64
import json
import uuid
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from chalice.local import RouteMatcher

from .gateway import RAW_BODY_MARK

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class _Context:
    """The attributes of a Lambda context that Chalice reads."""

    function_name = "blocksnap"
    memory_limit_in_mb = 0

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


class ChaliceWSGI:
    def __init__(self, app: Any):
        self.app = app
        self.matcher = RouteMatcher(list(app.routes))

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        try:
            match = self.matcher.match_route(path)
        except ValueError:
            return self._not_found(path, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        event = {
            "requestContext": {
                "httpMethod": environ["REQUEST_METHOD"],
                "resourcePath": match.route,
                "identity": {"sourceIp": environ.get("REMOTE_ADDR", "")},
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
        response = self.app(event, _Context())
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

    @staticmethod
    def _not_found(path: str, start_response: Callable) -> Iterable[bytes]:
        body = json.dumps({"message": f"No operation is served at {path}"}).encode()
        start_response(
            "404 Not Found",
            [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "UnknownOperationException"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]


def _params(route: str) -> list[str]:
    return [part[1:-1] for part in route.split("/") if part.startswith("{") and part.endswith("}")]
