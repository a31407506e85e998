"""One error tree for the whole service.

Every class names a situation and carries the AWS ``Reason`` a client sees;
none knows its HTTP status. ``chalicelib/http/errors.py`` is the one table
from class to status, ``x-amzn-ErrorType`` and body, so the domain stays free
of wire concerns and every adapter (HTTP, CLI, encryption worker) reports the
same failure the same way.
"""

from __future__ import annotations


class BlocksnapError(Exception):
    """Base of every error the service raises on purpose."""

    reason: str | None = None

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class ValidationError(BlocksnapError):
    """A request the service understood but refuses (AWS ValidationException)."""

    reason = "INVALID_PARAMETER_VALUE"


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


def _violation(member: str, value: object, constraint: str) -> str:
    if value is None:
        shown = "null"
    elif isinstance(value, bool):
        shown = str(value).lower()
    else:
        shown = str(value)
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


class InvalidBlock(ValidationError):
    reason = "INVALID_BLOCK"


class InvalidSnapshotId(ValidationError):
    reason = "INVALID_SNAPSHOT_ID"


class InvalidBlockToken(ValidationError):
    reason = "INVALID_BLOCK_TOKEN"

    def __init__(self, token: str):
        super().__init__(f"The block token {token} is invalid.")


class InvalidPageToken(ValidationError):
    reason = "INVALID_PAGE_TOKEN"

    def __init__(self, token: str):
        super().__init__(f"The pagination token {token} is invalid.")


class UnrelatedSnapshots(ValidationError):
    reason = "UNRELATED_SNAPSHOTS"


class InvalidTag(ValidationError):
    reason = "INVALID_TAG"


class InvalidVolumeSize(ValidationError):
    reason = "INVALID_VOLUME_SIZE"


class SnapshotNotFound(BlocksnapError):
    reason = "SNAPSHOT_NOT_FOUND"

    def __init__(self, snapshot_id: str):
        super().__init__(f"The snapshot '{snapshot_id}' does not exist.")
        self.snapshot_id = snapshot_id


class ChecksumMismatch(BlocksnapError):
    """The body does not hash to the declared checksum.

    AWS answers 403 ``InvalidSignatureException`` here, not a validation
    error: the checksum is treated as part of the request's integrity.
    """

    def __init__(self, computed: str, expected: str):
        super().__init__(
            "The value passed in as x-amz-Checksum does not match the computed "
            f"checksum. Computed checksum: {computed} expected checksum: {expected}"
        )


class IdempotencyConflict(BlocksnapError):
    """Same ClientToken, different request (AWS ConflictException, no Reason)."""

    def __init__(self) -> None:
        super().__init__("Current request does not match request stored with this token.")


class AccessDenied(BlocksnapError):
    reason = "UNAUTHORIZED_ACCOUNT"


class DependencyAccessDenied(AccessDenied):
    """A dependency (the key service) refused the operation."""

    reason = "DEPENDENCY_ACCESS_DENIED"


class DependencyThrottled(BlocksnapError):
    """A dependency (DynamoDB, S3, KMS) kept throttling after retries; the client should back off."""

    reason = "DEPENDENCY_REQUEST_THROTTLED"


class CorruptData(BlocksnapError):
    """Stored bytes failed verification (checksum or authenticated decryption).

    Never shown as data: the caller gets a clean error, not garbage.
    """


class DuplicateEvent(BlocksnapError):
    """An append collided with an existing (stream, key): the concurrency control."""


class ObjectNotFound(BlocksnapError):
    """A block-store key does not exist."""


class VolumeNotFound(BlocksnapError):
    """EC2 ``InvalidVolume.NotFound``."""

    def __init__(self, volume_id: str):
        super().__init__(f"The volume '{volume_id}' does not exist.")
        self.volume_id = volume_id


class VolumeInUse(BlocksnapError):
    """EC2 ``VolumeInUse``: an NBD client is attached."""

    def __init__(self, volume_id: str, clients: int):
        super().__init__(f"Volume {volume_id} is attached to {clients} NBD client(s)")
        self.volume_id = volume_id


class VolumeUnavailable(BlocksnapError):
    """The volume server (the NBD process of ``blocksnap serve``) cannot be reached."""
