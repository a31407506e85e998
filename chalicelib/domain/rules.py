"""The pure rules of the snapshot operations: what a request may ask, decided before anything is stored.

Each function takes a command (or its parts) and the state it depends on,
and either returns the decision or raises the domain error AWS would answer
with. No storage, no wire names: the use cases load state, call these, and
append what they return, so the rules can be tested on their own and read in
one place — the encryption outcome matrix, tags and sizes, checksum
combinations, write shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .commands import CopyRequest, StartRequest, Tags
from .errors import InvalidBlock, InvalidTag, InvalidVolumeSize, ValidationError
from .events import SnapshotStarted
from .snapshot import BLOCK_SIZE, MAX_TAGS, MAX_VOLUME_SIZE_GIB, SnapshotRecord

DEFAULT_TIMEOUT_MINUTES = 60
# A copy is written by the encryption function, not by a client; it gets the
# longest timeout AWS allows so that only a stalled function fails it.
COPY_TIMEOUT_MINUTES = 4320
DEFAULT_OWNER_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
# Sub-block sizes a snapshot may opt in to: powers of two that divide a block.
SUB_BLOCK_SIZES = tuple(4096 << k for k in range(7))

@dataclass(frozen=True)
class Settings:
    """What the deployment decides for every snapshot: the account, the region, the default key."""

    owner_id: str = DEFAULT_OWNER_ID
    region: str = DEFAULT_REGION
    default_kms_key_arn: str | None = None

    def default_key(self) -> str:
        """The key for ``Encrypted=true`` without a key ARN (on AWS, the aws/ebs managed key)."""
        return self.default_kms_key_arn or f"arn:aws:kms:{self.region}:{self.owner_id}:key/aws-ebs-default"


def check_tags(tags: Tags) -> Tags:
    if any(not key for key, _ in tags):
        raise InvalidTag("Every tag needs a Key; a tag without one was given")
    if len(tags) > MAX_TAGS:
        raise InvalidTag(f"A snapshot can have at most {MAX_TAGS} tags; {len(tags)} were given")
    return tags


def encryption_outcome(request: StartRequest, settings: Settings) -> tuple[bool, str | None]:
    """AWS's matrix for Encrypted / KmsKeyArn / ParentSnapshotId, before the parent is known.

    Encryption by default is off (as in a fresh AWS account). A child inherits
    its parent's encryption, so an explicit Encrypted or KmsKeyArn beside a
    parent is refused, as the model documents.
    """
    if request.encrypted is False and request.kms_key_arn:
        raise ValidationError("Encrypt cannot be false when KmsKeyArn is specified")
    if request.parent_snapshot_id is not None:
        if request.encrypted is not None or request.kms_key_arn:
            raise ValidationError(
                "You can't specify ParentSnapshotId and Encrypted or KmsKeyArn in the same "
                "request; an incremental snapshot inherits its parent's encryption"
            )
        return False, None
    if request.kms_key_arn:
        return True, request.kms_key_arn
    if request.encrypted:
        return True, settings.default_key()
    return False, None


def check_start(request: StartRequest, settings: Settings) -> None:
    """Everything StartSnapshot refuses without reading any state, in AWS's order."""
    if request.volume_size > MAX_VOLUME_SIZE_GIB:
        raise InvalidVolumeSize(
            f"Volume size {request.volume_size} GiB exceeds the maximum of {MAX_VOLUME_SIZE_GIB} GiB"
        )
    if request.sub_block_size is not None and request.sub_block_size not in SUB_BLOCK_SIZES:
        raise ValidationError(
            f"The sub-block size must be a power of two from {SUB_BLOCK_SIZES[0]} to "
            f"{SUB_BLOCK_SIZES[-1]}, not {request.sub_block_size}"
        )
    check_tags(request.tags)
    encryption_outcome(request, settings)


def decide_start(
    request: StartRequest,
    parent: SnapshotRecord | None,
    settings: Settings,
    snapshot_id: str,
    now: float,
    request_digest: str | None,
) -> SnapshotStarted:
    """The StartSnapshot event for ``request``; ``parent`` is the completed parent's record, if any."""
    check_start(request, settings)
    encrypted, kms_key_arn = encryption_outcome(request, settings)
    lineage_id = snapshot_id
    if parent is not None:
        if request.volume_size < parent.volume_size:
            raise InvalidVolumeSize(
                f"Volume size {request.volume_size} GiB is smaller than the parent snapshot's "
                f"{parent.volume_size} GiB"
            )
        lineage_id = parent.lineage_id
        encrypted, kms_key_arn = parent.encrypted, parent.kms_key_arn
    return SnapshotStarted(
        snapshot_id=snapshot_id,
        volume_size=request.volume_size,
        lineage_id=lineage_id,
        start_time=round(now, 3),
        timeout_minutes=request.timeout_minutes or DEFAULT_TIMEOUT_MINUTES,
        owner_id=settings.owner_id,
        parent_snapshot_id=request.parent_snapshot_id,
        description=request.description,
        tags=request.tags,
        encrypted=encrypted,
        kms_key_arn=kms_key_arn,
        client_token=request.client_token,
        request_digest=request_digest,
        sub_block_size=request.sub_block_size,
    )


def copy_key(request: CopyRequest, settings: Settings) -> str:
    """The copy's KMS key; blocksnap copies in order to encrypt, so Encrypted must be true."""
    if request.encrypted is not True:
        raise ValidationError("Encrypted must be true: blocksnap copies a snapshot in order to encrypt it")
    check_tags(request.tags)
    return request.kms_key_arn or settings.default_key()


def decide_copy(
    request: CopyRequest,
    source: SnapshotRecord,
    settings: Settings,
    snapshot_id: str,
    now: float,
    request_digest: str | None,
) -> SnapshotStarted:
    """The copy's start: a full snapshot of its own lineage (so its own data key)."""
    return SnapshotStarted(
        snapshot_id=snapshot_id,
        volume_size=source.volume_size,
        lineage_id=snapshot_id,
        start_time=round(now, 3),
        timeout_minutes=COPY_TIMEOUT_MINUTES,
        owner_id=settings.owner_id,
        description=request.description,
        tags=request.tags,
        encrypted=True,
        kms_key_arn=copy_key(request, settings),
        client_token=request.client_token,
        request_digest=request_digest,
        source_snapshot_id=request.source_snapshot_id,
    )


def check_checksum_algorithm(algorithm: str) -> None:
    if algorithm != "SHA256":
        raise ValidationError(f"Unsupported Checksum Algorithm '{algorithm}', supported algorithms are SHA256")


def check_full_block_length(length: int) -> None:
    if length != BLOCK_SIZE:
        raise InvalidBlock(f"Block data length {length} is not valid, expected {BLOCK_SIZE}")


def check_sub_block_range(snapshot_id: str, unit: int | None, offset: int, length: int) -> None:
    """A sub-block write must cover whole sub-blocks of the size the snapshot opted in to."""
    if unit is None:
        raise ValidationError(
            f"Snapshot {snapshot_id} was not started with a sub-block size; "
            "sub-block writes are not enabled for it"
        )
    if length <= 0 or length % unit or offset % unit or offset + length > BLOCK_SIZE:
        raise InvalidBlock(
            f"Sub-block at offset {offset} with length {length} is not valid: both must be "
            f"multiples of {unit} and the range must end within {BLOCK_SIZE} bytes"
        )


def check_completion_checksum(checksum: str | None, algorithm: str | None, aggregation: str | None) -> None:
    """CompleteSnapshot's three checksum members come all together or not at all, with AWS's messages."""
    if checksum is not None and algorithm is None:
        raise ValidationError("Invalid parameter combination. Checksum algorithm is missing.")
    if checksum is None and (algorithm is not None or aggregation is not None):
        raise ValidationError("Invalid parameter combination. Snapshot checksum is missing.")
    if checksum is not None and aggregation is None:
        raise ValidationError("Invalid parameter combination. Checksum aggregation method is missing.")
