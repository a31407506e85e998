"""The one table from the error tree to EC2 Query error responses.

The EC2 API reports every error as ``<Response><Errors><Error>`` with a
dotted code, 400 for client errors; DryRun's "would have succeeded" is an
error too (412), and throttling is 503 so that botocore's ``ec2`` retry
policy backs off. Anything unexpected is logged and answered as
``InternalError`` 500, never a stack trace. (The EBS direct APIs' rest-json
table is :mod:`.errors`; both map the same tree.)
"""

from __future__ import annotations

import logging

from ..domain import errors as e
from . import errors as w

log = logging.getLogger(__name__)

# (class, status, code); the first match wins, so subclasses come before their bases.
_TABLE: list[tuple[type[Exception], int, str]] = [
    (e.DryRunSucceeded, 412, "DryRunOperation"),
    (e.MissingAuthentication, 403, "MissingAuthenticationToken"),
    (e.IncompleteSignature, 400, "IncompleteSignature"),
    (e.UnknownAccessKey, 401, "AuthFailure"),
    (e.RequestExpired, 400, "RequestExpired"),
    (e.SignatureMismatch, 401, "AuthFailure"),
    (e.MalformedSnapshotId, 400, "InvalidSnapshotID.Malformed"),
    (e.SnapshotNotFound, 400, "InvalidSnapshot.NotFound"),
    (e.InvalidResourceId, 400, "InvalidID"),
    (e.InvalidOwner, 400, "InvalidUserID.Malformed"),
    (w.MissingParameter, 400, "MissingParameter"),
    (w.UnknownParameter, 400, "UnknownParameter"),
    (e.InvalidParameterCombination, 400, "InvalidParameterCombination"),
    (e.TagLimitExceeded, 400, "TagLimitExceeded"),
    (e.InvalidPageToken, 400, "InvalidNextToken"),
    (e.InvalidSnapshotId, 400, "IncorrectState"),
    (w.InvalidAction, 400, "InvalidAction"),
    (e.UnsupportedOperation, 400, "UnsupportedOperation"),
    (e.IdempotencyConflict, 400, "IdempotentParameterMismatch"),
    (w.SerializationError, 400, "InvalidParameterValue"),
    (e.ValidationError, 400, "InvalidParameterValue"),
    (e.AccessDenied, 403, "UnauthorizedOperation"),
    (e.DependencyThrottled, 503, "RequestLimitExceeded"),
    (e.StorageFull, 503, "Unavailable"),
    (w.BodyTimeout, 503, "Unavailable"),
    (e.CorruptData, 500, "InternalError"),
]


def ec2_error(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, EC2 error code, message) for any exception."""
    for cls, status, code in _TABLE:
        if isinstance(exc, cls):
            if isinstance(exc, e.CorruptData):
                log.error("corrupt data: %s", exc)
            return status, code, getattr(exc, "message", str(exc))
    log.exception("unexpected error", exc_info=exc)
    return 500, "InternalError", "An internal error occurred; it has been logged."
