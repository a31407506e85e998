"""The wire's own errors, and the one table from the error tree to AWS error responses.

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
from ..domain.errors import BlocksnapError, ValidationError

log = logging.getLogger(__name__)


class ConstraintViolation(ValidationError):
    """A model constraint failed (min, max, pattern, enum, required, type).

    AWS reports these from its Coral framework validator, before the service
    runs, with a lower-case ``message`` and no ``Reason``.
    """

    reason = None

    def __init__(self, member: str, value: object, constraint: str):
        super().__init__("1 validation error detected: " + _violation(member, value, constraint))

    @classmethod
    def many(cls, items: list[tuple[str, object, str]]) -> ConstraintViolation:
        error = cls(*items[0])
        if len(items) > 1:
            error.message = f"{len(items)} validation errors detected: " + "; ".join(
                _violation(*item) for item in items
            )
            error.args = (error.message,)
        return error


_SHOWN_MAX = 100


def _violation(member: str, value: object, constraint: str) -> str:
    if value is None:
        shown = "null"
    elif isinstance(value, bool):
        shown = str(value).lower()
    else:
        shown = str(value)
    if len(shown) > _SHOWN_MAX:  # so that the constraint still fits in a message of 256 characters
        shown = shown[:_SHOWN_MAX] + "..."
    return f"Value '{shown}' at '{member}' failed to satisfy constraint: {constraint}"


class SerializationError(BlocksnapError):
    """The request body could not be read as the operation's document."""


class UnknownOperation(BlocksnapError):
    """No operation is served at this path."""


class MethodNotAllowed(UnknownOperation):
    """Operations are served at this path, but not with this method."""

    def __init__(self, message: str, allowed: tuple[str, ...]):
        super().__init__(message)
        self.allowed = allowed


class RequestTooLarge(BlocksnapError):
    """The body is longer than any operation accepts; it is refused before it is read."""


class BodyTimeout(BlocksnapError):
    """The body did not arrive in time (a stalled or trickling client); safe to send again."""


class MissingParameter(ValidationError):
    def __init__(self, name: str):
        super().__init__(f"The request must contain the parameter {name}")


class UnknownParameter(ValidationError):
    def __init__(self, name: str):
        super().__init__(f"The parameter {name} is not recognized")


class InvalidAction(UnknownOperation):
    """The action is not one the EC2 API has."""


_SERVICE_NS = "http://internal.amazon.com/coral/com.amazon.zeppelindataservice/"
_VALIDATE_NS = "http://internal.amazon.com/coral/com.amazon.coral.validate/"
_CORAL_SERVICE_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"

# (class, status, error type, namespace, lower-case message only?)
_TABLE: list[tuple[type[Exception], int, str, str, bool]] = [
    (ConstraintViolation, 400, "ValidationException", _VALIDATE_NS, True),
    (SerializationError, 400, "SerializationException", _CORAL_SERVICE_NS, True),
    (MethodNotAllowed, 405, "UnknownOperationException", _CORAL_SERVICE_NS, True),
    (UnknownOperation, 404, "UnknownOperationException", _CORAL_SERVICE_NS, True),
    (RequestTooLarge, 413, "SerializationException", _CORAL_SERVICE_NS, True),
    # botocore retries RequestTimeoutException as a transient error.
    (BodyTimeout, 408, "RequestTimeoutException", _CORAL_SERVICE_NS, True),
    (e.ValidationError, 400, "ValidationException", _SERVICE_NS, False),
    (e.SnapshotNotFound, 404, "ResourceNotFoundException", _SERVICE_NS, False),
    (e.ChecksumMismatch, 403, "InvalidSignatureException", _CORAL_SERVICE_NS, True),
    (e.IdempotencyConflict, 409, "ConflictException", _SERVICE_NS, False),
    (e.AccessDenied, 403, "AccessDeniedException", _SERVICE_NS, False),
    (e.AccessKeyNotFound, 404, "ResourceNotFoundException", _SERVICE_NS, False),
    (e.MissingAuthentication, 403, "MissingAuthenticationTokenException", _CORAL_SERVICE_NS, True),
    (e.IncompleteSignature, 400, "IncompleteSignatureException", _CORAL_SERVICE_NS, True),
    (e.UnknownAccessKey, 403, "UnrecognizedClientException", _CORAL_SERVICE_NS, True),
    (e.SignatureMismatch, 403, "InvalidSignatureException", _CORAL_SERVICE_NS, True),
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
