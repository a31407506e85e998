"""``/blocksnap/v1/keys``: access keys created, listed and revoked while the server runs.

Thin over :class:`~chalicelib.usecases.keys.AccessKeys`. The secret is in
the one answer that creates a key and in no other answer, ever. Only full
keys get here (:mod:`chalicelib.domain.access`). Outside ``blocksnap serve``
(on AWS, where API Gateway's IAM authorization stands in front) there are no
blocksnap keys to manage, and these routes say so.
"""

from __future__ import annotations

import json
from typing import Callable

from chalice import Response
from chalice.app import Request

from ..domain.access import AccessKey
from ..domain.errors import SerializationError, UnknownOperation
from ..usecases.keys import AccessKeys
from .operations import _guarded, json_response


def _listed(key: AccessKey) -> dict:
    return {"AccessKeyId": key.access_key_id, "Policy": key.policy.value, "Description": key.description,
            "CreateDate": key.created}


def _keys(access: Callable[[], AccessKeys | None]) -> AccessKeys:
    keys = access()
    if keys is None:
        raise UnknownOperation("Access keys are managed by blocksnap serve; here IAM authenticates requests.")
    return keys


def create_access_key(access: Callable[[], AccessKeys | None], request: Request) -> Response:
    def work():
        try:
            document = json.loads(request.raw_body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise SerializationError("The request body is not valid JSON") from None
        if not isinstance(document, dict):
            raise SerializationError("The request body must be a JSON object")
        key = _keys(access).create(document.get("Policy"), document.get("Description"))
        return json_response(201, {**_listed(key), "SecretAccessKey": key.secret_access_key})

    return _guarded(work)


def list_access_keys(access: Callable[[], AccessKeys | None]) -> Response:
    return _guarded(lambda: json_response(200, {"AccessKeys": [_listed(k) for k in _keys(access).list()]}))


def delete_access_key(access: Callable[[], AccessKeys | None], access_key_id: str) -> Response:
    def work():
        _keys(access).revoke(access_key_id)
        return 204, {}, b""

    return _guarded(work)
