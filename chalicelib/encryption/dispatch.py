"""One request to the encryption function, answered: the dispatch both wires share.

The socket wire (:mod:`.socket_server`) carries a request's bytes raw, the
Lambda wire (:mod:`.lambda_entry`) as base64; both decode their framing and
hand the request's fields and bytes here. Errors come back as data
(:func:`~chalicelib.adapters.encryption_wire.error_body`), so a caller sees
its own error classes and never a traceback; an unexpected failure is logged
here, once, and answered as ``InternalError`` without its message.
"""

from __future__ import annotations

import logging

from ..adapters.encryption_wire import CREATE_LINEAGE_KEY, DECRYPT, ENCRYPT, INTERNAL_ERROR, error_body
from ..domain.errors import ValidationError
from ..ports import EncryptionFunction

log = logging.getLogger(__name__)


def answer(function: EncryptionFunction, request: dict, data: bytes) -> tuple[dict, bytes]:
    """``({}, bytes)`` for a request that succeeded, ``({"error": ...}, b"")`` for one that did not."""
    try:
        return {}, _call(function, request, data)
    except Exception as exc:
        body = error_body(exc)
        if body["type"] == INTERNAL_ERROR:
            log.exception("encryption request %r failed", request.get("op"))
        return {"error": body}, b""


def _call(function: EncryptionFunction, request: dict, data: bytes) -> bytes:
    op = request.get("op")
    lineage_id = _field(request, "lineage_id")
    if op == CREATE_LINEAGE_KEY:
        function.create_lineage_key(lineage_id, _field(request, "kms_key_arn"))
        return b""
    if op == ENCRYPT:
        return function.encrypt(lineage_id, _field(request, "object_key"), data)
    if op == DECRYPT:
        return function.decrypt(lineage_id, _field(request, "object_key"), data)
    raise ValidationError(f"unknown encryption operation {op!r}")


def _field(request: dict, name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str):
        raise ValidationError(f"the request lacks {name}")
    return value
