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
from xml.sax.saxutils import escape

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
    (e.CorruptData, 500, "InternalServerException", _SERVICE_NS, False),
]


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
    message = getattr(exc, "message", str(exc))
    body: dict = {"message": message} if lower else {"Message": message}
    reason = getattr(exc, "reason", None)
    if not lower and reason is not None:
        body["Reason"] = reason
    headers = {
        "x-amzn-ErrorType": f"{code}:{namespace}",
        "Content-Type": "application/json",
    }
    return status, headers, json.dumps(body).encode()


# The EC2 Query/XML wire's codes for the same tree: (status, <Code>), looked up
# along the class's MRO. The statuses are EC2's common-error statuses.
ec2_error_code: dict[type[Exception], tuple[int, str]] = {
    e.MissingAuthentication: (403, "MissingAuthenticationToken"),
    e.IncompleteSignature: (400, "IncompleteSignature"),
    e.UnknownAccessKey: (401, "AuthFailure"),
    e.SignatureMismatch: (401, "AuthFailure"),
    e.RequestExpired: (400, "RequestExpired"),
    e.OperationDenied: (403, "UnauthorizedOperation"),
}


def ec2_error_response(exc: Exception, request_id: str) -> tuple[int, dict[str, str], bytes] | None:
    """The EC2 XML error for ``exc``, or None when :data:`ec2_error_code` has no code for it."""
    for cls in type(exc).__mro__:
        if cls in ec2_error_code:
            status, code = ec2_error_code[cls]
            break
    else:
        return None
    message = escape(getattr(exc, "message", str(exc)))
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
    return status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
