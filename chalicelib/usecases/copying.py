"""CopySnapshot within this server's region, on the service's two ways to make a snapshot from another.

* An **encrypted** copy (the source is encrypted, or ``encrypted`` is asked
  for) is :meth:`Starts.copy`: the encryption function
  re-encrypts every block under a new lineage key; AWS keeps an encrypted
  source's key unless another is named, and so does this.
* A **plain** copy of a plaintext snapshot is an incremental snapshot of the
  source that writes nothing: StartSnapshot with the source as parent, then
  CompleteSnapshot with no blocks. It reads byte for byte as the source, is
  sealed by the ordinary projection, and stays in the source's lineage (so
  ListChangedBlocks between the two works and reports nothing).

A copy to or from another region would need a second server; it is refused
with UnsupportedOperation rather than performed half-way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..domain import lifecycle
from ..domain.errors import (
    DryRunSucceeded,
    InvalidParameterCombination,
    InvalidSnapshotId,
    SnapshotNotFound,
    UnsupportedOperation,
    ValidationError,
)
from ..domain.events import lifecycle_stream
from ..domain.ids import check_snapshot_id
from ..domain.snapshot import COMPLETED
from ..domain.tags import Tags, with_tags
from ..ports import EventStore, ReadModelStore
from ..domain.commands import CompleteSnapshot, CopyRequest, StartRequest
from .completion import Completion
from .starts import Starts

_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+")


@dataclass(frozen=True)
class CopyCommand:
    source_snapshot_id: str
    source_region: str
    encrypted: bool | None = None
    kms_key_id: str | None = None
    description: str | None = None
    tags: Tags = ()


class Copying:
    def __init__(
        self, starts: Starts, completion: Completion, events: EventStore, records: ReadModelStore,
        region: str, owner_id: str,
    ):
        self.starts = starts
        self.completion = completion
        self.events = events
        self.records = records
        self.region = region
        self.owner_id = owner_id

    def copy_snapshot(self, command: CopyCommand, dry_run: bool = False) -> tuple[str, Tags]:
        """The copy's id and tags; every check comes before DryRun answers."""
        source_id = check_snapshot_id(command.source_snapshot_id, "sourceSnapshotId")
        if command.source_region != self.region:
            raise UnsupportedOperation(
                f"blocksnap serves one region ({self.region}); a copy from {command.source_region} "
                "would need a cross-region copy"
            )
        if command.kms_key_id and command.encrypted is not True:
            raise InvalidParameterCombination("The parameter KmsKeyId requires the parameter Encrypted to be set.")
        tags = with_tags((), command.tags) if command.tags else ()
        life = lifecycle.fold(r.event for r in self.events.query(lifecycle_stream(source_id)))
        if life is None or life.deleted:
            raise SnapshotNotFound(source_id)
        source = self.records.get_snapshot(source_id)
        if source is None or source.status != COMPLETED:
            raise InvalidSnapshotId(f"Source snapshot ({source_id}) is not complete.")
        if source.encrypted and command.encrypted is False:
            raise ValidationError("A copy of an encrypted snapshot is encrypted: Encrypted cannot be false")
        kms_key_arn = self._key_arn(command.kms_key_id) if command.kms_key_id else None
        if dry_run:
            raise DryRunSucceeded()
        if source.encrypted or command.encrypted:
            request = CopyRequest(source_id, True, kms_key_arn or source.kms_key_arn, command.description, tags)
            copy_id = self.starts.copy(request).snapshot_id
        else:
            start = StartRequest(source.volume_size, source_id, command.description, tags)
            copy_id = self.starts.start(start).snapshot_id
            self.completion.complete(CompleteSnapshot(copy_id, 0))
        return copy_id, tags

    def _key_arn(self, key: str) -> str:
        """A key id, alias or ARN (what EC2 takes) as the key ARN the service records."""
        if _ARN.fullmatch(key):
            return key
        if key.startswith("alias/"):
            return f"arn:aws:kms:{self.region}:{self.owner_id}:{key}"
        if re.fullmatch(r"[0-9a-zA-Z-]{1,128}", key):
            return f"arn:aws:kms:{self.region}:{self.owner_id}:key/{key}"
        raise ValidationError(f"Invalid KmsKeyId: {key}")

