"""One error tree for the whole service.

Every class names a situation and carries the AWS ``Reason`` a client sees;
none knows its HTTP status. ``chalicelib/http/errors.py`` is the one table
from class to status, ``x-amzn-ErrorType`` and body, so the domain stays free
of wire concerns and every adapter (HTTP, CLI, encryption worker) reports the
same failure the same way. Failures of the wire itself (an unreadable body, a
path no operation serves, a model constraint) are the wire's, and live in
``chalicelib/http/errors.py`` as subclasses of these.
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


class StorageFull(BlocksnapError):
    """The disk under the store has no space (or quota) left; nothing was acknowledged, so the client may retry."""


class CorruptData(BlocksnapError):
    """Stored bytes failed verification (checksum or authenticated decryption).

    Never shown as data: the caller gets a clean error, not garbage.
    """


class DuplicateEvent(BlocksnapError):
    """An append collided with an existing (stream, key): the concurrency control."""


class ObjectNotFound(BlocksnapError):
    """A block-store key does not exist."""


# ---- situations the EC2 snapshot operations add (mapped in http/ec2_errors.py) ----


class MalformedSnapshotId(ValidationError):
    """Not a snapshot id at all (AWS ``InvalidSnapshotID.Malformed``); clients cut the id out of the quotes."""

    reason = "INVALID_SNAPSHOT_ID"

    def __init__(self, value: str):
        super().__init__(f'Invalid id: "{value}"')


class InvalidResourceId(ValidationError):
    """A tagging call named something that is not the id of a resource blocksnap keeps."""

    def __init__(self, value: str):
        super().__init__(f"The ID '{value}' is not valid")


class InvalidOwner(ValidationError):
    """An owner or restorable-by value that is neither an account id nor a keyword."""

    def __init__(self, value: str):
        super().__init__(f"Invalid user id: '{value}'")


class InvalidParameterCombination(ValidationError):
    pass


class TagLimitExceeded(InvalidTag):
    pass


class UnsupportedOperation(BlocksnapError):
    """A request AWS would serve that blocksnap does not (another EC2 action, a cross-region copy)."""


class DryRunSucceeded(BlocksnapError):
    """Every check passed and nothing was done, as ``DryRun`` asks (AWS answers it as an error)."""

    def __init__(self) -> None:
        super().__init__("Request would have succeeded, but DryRun flag is set.")


# ---- authentication (mapped in http/errors.py and http/ec2_errors.py) ----


class AuthenticationError(BlocksnapError):
    """A request whose signature does not prove a known key (AWS's SigV4 refusals).

    Messages are AWS's own, and none names or hints at a secret.
    """


class MissingAuthentication(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("Missing Authentication Token")


class IncompleteSignature(AuthenticationError):
    """The Authorization header or its companions are malformed."""


class UnknownAccessKey(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("The security token included in the request is invalid.")


class SignatureMismatch(AuthenticationError):
    def __init__(self, message: str = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )) -> None:
        super().__init__(message)


class RequestExpired(SignatureMismatch):
    """X-Amz-Date is more than the allowed skew away from the server's clock."""


class OperationDenied(AccessDenied):
    """The key is valid but its policy does not allow the operation."""

    def __init__(self, access_key_id: str, operation: str):
        super().__init__(f"The access key {access_key_id} is not authorized to perform: {operation}")


class AccessKeyNotFound(BlocksnapError):
    reason = "KEY_NOT_FOUND"

    def __init__(self, access_key_id: str):
        super().__init__(f"The access key '{access_key_id}' does not exist.")


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
