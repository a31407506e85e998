"""The one table from the error tree to AWS error responses.

Clients derive the error code from ``x-amzn-ErrorType`` (truncated at the
first ``:``), so it is always sent, with the Coral namespace AWS uses for
that family. Modelled service errors carry ``Message`` and ``Reason``; Coral
framework errors (constraint violations, the checksum signature check) carry a
lower-case ``message`` only. Anything unexpected is logged with its stack and
answered as a JSON ``InternalServerException`` — never an HTML page, never a
stack trace on the wire.
"""

from __future__ import annotations

import json
import logging

from ..domain import errors as e

log = logging.getLogger(__name__)

_SERVICE_NS = "http://internal.amazon.com/coral/com.amazon.zeppelindataservice/"
_VALIDATE_NS = "http://internal.amazon.com/coral/com.amazon.coral.validate/"
_CORAL_SERVICE_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"

# (class, status, error type, namespace, lower-case message only?)
_TABLE: list[tuple[type[Exception], int, str, str, bool]] = [
    (e.ConstraintViolation, 400, "ValidationException", _VALIDATE_NS, True),
    (e.SerializationError, 400, "SerializationException", _CORAL_SERVICE_NS, True),
    (e.MethodNotAllowed, 405, "UnknownOperationException", _CORAL_SERVICE_NS, True),
    (e.UnknownOperation, 404, "UnknownOperationException", _CORAL_SERVICE_NS, True),
    (e.RequestTooLarge, 413, "SerializationException", _CORAL_SERVICE_NS, True),
    # botocore retries RequestTimeoutException as a transient error.
    (e.BodyTimeout, 408, "RequestTimeoutException", _CORAL_SERVICE_NS, True),
    (e.ValidationError, 400, "ValidationException", _SERVICE_NS, False),
    (e.SnapshotNotFound, 404, "ResourceNotFoundException", _SERVICE_NS, False),
    (e.ChecksumMismatch, 403, "InvalidSignatureException", _CORAL_SERVICE_NS, True),
    (e.IdempotencyConflict, 409, "ConflictException", _SERVICE_NS, False),
    (e.AccessDenied, 403, "AccessDeniedException", _SERVICE_NS, False),
    (e.DependencyThrottled, 400, "RequestThrottledException", _SERVICE_NS, False),
    # A 503 is retried by every AWS SDK; the message says what ran out.
    (e.StorageFull, 503, "ServiceUnavailableException", _CORAL_SERVICE_NS, True),
    (e.CorruptData, 500, "InternalServerException", _SERVICE_NS, False),
]


# The model's ErrorMessage is at most 256 characters; a message that echoes a
# long client value is cut to that, marked with an ellipsis.
MESSAGE_MAX = 256


def _cut(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 3] + "..."


def error_response(exc: Exception) -> tuple[int, dict[str, str], bytes]:
    for cls, status, code, namespace, lower in _TABLE:
        if isinstance(exc, cls):
            break
    else:
        log.exception("unexpected error", exc_info=exc)
        status, code, namespace, lower = 500, "InternalServerException", _SERVICE_NS, False
        exc = e.BlocksnapError("An internal error occurred; it has been logged.")
    if isinstance(exc, e.CorruptData):
        log.error("corrupt data: %s", exc)
    message = _cut(getattr(exc, "message", str(exc)))
    body: dict = {"message": message} if lower else {"Message": message}
    reason = getattr(exc, "reason", None)
    if not lower and reason is not None:
        body["Reason"] = reason
    headers = {
        "x-amzn-ErrorType": f"{code}:{namespace}",
        "Content-Type": "application/json",
    }
    return status, headers, json.dumps(body).encode()
