"""Request handling for every rest-json route: parse with the model, run the bound use case, serialise.

Routes in ``app.py`` call :func:`handle` with the operation's name, EBS or
extension alike, and get back a Chalice ``Response``; every failure goes
through :func:`chalicelib.http.errors.error_response`, so there is one mapping
for the whole API.
"""

from __future__ import annotations

import uuid
from typing import Callable

from chalice import Response
from chalice.app import Request

from ..usecases import UseCases
from . import bindings, model
from .errors import error_response


def raw_request(request: Request) -> model.RawRequest:
    query = request.query_params or {}
    return model.RawRequest(
        uri_params=request.uri_params or {},
        headers=request.headers,
        query={k: query.getlist(k)[0] for k in query} if query else {},
        body=request.raw_body or b"",
    )


def _respond(status: int, headers: dict[str, str], body: bytes) -> Response:
    headers = dict(headers)
    headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return Response(body=body, status_code=status, headers=headers)


def handle(usecases: Callable[[], UseCases], operation: str, request: Request) -> Response:
    try:
        members = model.parse(operation, raw_request(request))
        wire = model.serialize(operation, bindings.invoke(usecases(), operation, members))
        return _respond(wire.status, wire.headers, wire.body)
    except Exception as exc:  # the one place every failure becomes an AWS error shape
        return _respond(*error_response(exc))
