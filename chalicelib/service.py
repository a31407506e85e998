"""Use cases: one method per operation, stateless between calls.

A write loads the snapshot aggregate from its lifecycle stream (strongly
consistent), decides, and appends events; it never waits for projections. A
read uses the projected record and the sealed manifest, so a snapshot is
readable exactly when its manifest is complete — the same lag AWS shows
between EC2 ``completed`` and the direct-API read plane.

Member names in and out are the botocore model's (``SnapshotId``,
``BlockIndex``, ...): ``chalicelib/http`` maps them to and from the wire.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from typing import Callable

from .core.blockio import ZERO_BLOCK, BlockIO
from .domain import keys
from .domain.checksums import sha256_b64
from .domain.errors import (
    ChecksumMismatch,
    DuplicateEvent,
    IdempotencyConflict,
    InvalidBlock,
    InvalidBlockToken,
    InvalidPageToken,
    InvalidSnapshotId,
    InvalidTag,
    InvalidVolumeSize,
    SnapshotNotFound,
    UnrelatedSnapshots,
    ValidationError,
)
from .domain.events import (
    COMPLETION_KEY,
    COPY_KEY,
    CopyRequested,
    STARTED_KEY,
    BlockWritten,
    ClientTokenClaimed,
    CompletionRequested,
    EventRecord,
    SnapshotStarted,
    SubBlockWritten,
    block_key,
    block_key_prefix,
    block_stream,
    lifecycle_stream,
    token_stream,
)
from .domain.ids import new_snapshot_id
from .domain.manifest import diff
from .domain.snapshot import (
    BLOCK_SIZE,
    BLOCKS_PER_GIB,
    COMPLETED,
    ERROR,
    MAX_TAGS,
    MAX_VOLUME_SIZE_GIB,
    PENDING,
    Snapshot,
    SnapshotRecord,
)
from .domain.writes import fold_writes
from .domain.tokens import (
    BLOCK_TOKEN_LIFETIME,
    EMPTY_LIST_EXPIRY,
    PAGE_TOKEN_LIFETIME,
    PageCursor,
    TokenInvalid,
    TokenMinter,
)
from .core.cache import BoundedCache
from .core.manifest_store import ManifestStore
from .ports import EventStore, ReadModelStore

DEFAULT_TIMEOUT_MINUTES = 60
# A copy is written by the encryption function, not by a client; it gets the
# longest timeout AWS allows so that only a stalled function fails it.
COPY_TIMEOUT_MINUTES = 4320
DEFAULT_MAX_RESULTS = 10000
DEFAULT_OWNER_ID = "000000000000"
# Completed snapshot records kept in memory by the read operations (a few hundred bytes each).
COMPLETED_RECORDS_CACHED = 4096
DEFAULT_REGION = "us-east-1"
_APPEND_RETRIES = 20


@dataclass
class Settings:
    owner_id: str = DEFAULT_OWNER_ID
    region: str = DEFAULT_REGION
    default_kms_key_arn: str | None = None


class SnapshotService:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        manifests: ManifestStore,
        blockio: BlockIO,
        tokens: TokenMinter,
        clock: Callable[[], float] = time.time,
        settings: Settings | None = None,
    ):
        self.events = events
        self.records = records
        self.manifests = manifests
        self.blockio = blockio
        self.tokens = tokens
        self.clock = clock
        self.settings = settings or Settings()
        self._completed: BoundedCache[SnapshotRecord] = BoundedCache(COMPLETED_RECORDS_CACHED)

    # ---- loading -------------------------------------------------------

    def load(self, snapshot_id: str) -> Snapshot | None:
        return self.events.snapshot(snapshot_id)

    def _readable(self, snapshot_id: str) -> SnapshotRecord:
        """A snapshot the read operations may serve: completed and sealed.

        A completed record never changes again, so it is kept in memory: a
        GetSnapshotBlock then costs no read-model query (SQLite, or a DynamoDB
        read) on top of its block.
        """
        record = self._completed.get(snapshot_id)
        if record is None:
            record = self.records.get_snapshot(snapshot_id)
            if record is None or record.status != COMPLETED:
                raise SnapshotNotFound(snapshot_id)
            self._completed.put(snapshot_id, record)
        return record

    def _writable(self, snapshot_id: str) -> Snapshot:
        snapshot = self.load(snapshot_id)
        if snapshot is None or snapshot.status == ERROR:
            raise SnapshotNotFound(snapshot_id)
        if snapshot.status == COMPLETED or snapshot.completion is not None:
            raise InvalidSnapshotId("Snapshot is already completed")
        return snapshot

    # ---- StartSnapshot -------------------------------------------------

    def start_snapshot(self, req: dict) -> dict:
        volume_size = req["VolumeSize"]
        if volume_size > MAX_VOLUME_SIZE_GIB:
            raise InvalidVolumeSize(
                f"Volume size {volume_size} GiB exceeds the maximum of {MAX_VOLUME_SIZE_GIB} GiB"
            )
        tags = _tags(req)
        parent_id = req.get("ParentSnapshotId")
        encrypted, kms_key_arn = self._encryption_outcome(req, parent_id)
        digest = _request_digest("StartSnapshot", req)
        replay = self._replay(req.get("ClientToken"), digest)
        if replay is not None:
            return _start_response(replay)

        lineage_id = None
        if parent_id is not None:
            parent = self._parent(parent_id)
            if volume_size < parent.volume_size:
                raise InvalidVolumeSize(
                    f"Volume size {volume_size} GiB is smaller than the parent snapshot's "
                    f"{parent.volume_size} GiB"
                )
            lineage_id = parent.lineage_id
            if parent.encrypted:
                encrypted, kms_key_arn = True, parent.kms_key_arn

        snapshot_id = new_snapshot_id()
        if encrypted and lineage_id is None:
            self.blockio.create_lineage_key(snapshot_id, kms_key_arn)
        started = SnapshotStarted(
            snapshot_id=snapshot_id,
            volume_size=volume_size,
            lineage_id=lineage_id or snapshot_id,
            start_time=round(self.clock(), 3),
            timeout_minutes=req.get("Timeout") or DEFAULT_TIMEOUT_MINUTES,
            owner_id=self.settings.owner_id,
            parent_snapshot_id=parent_id,
            description=req.get("Description"),
            tags=tags,
            encrypted=encrypted,
            kms_key_arn=kms_key_arn,
            client_token=req.get("ClientToken"),
            request_digest=digest,
            sub_block_size=req.get("SubBlockSize"),
        )
        return _start_response(self._append_start(started, []))

    def _append_start(self, started: SnapshotStarted, more: list[EventRecord]) -> SnapshotStarted:
        """Append a snapshot's first events and its ClientToken claim atomically.

        If the claim collides, a concurrent request with the same token won:
        answer with its snapshot (or a conflict if its parameters differ).
        """
        stream = lifecycle_stream(started.snapshot_id)
        records = [EventRecord(stream, STARTED_KEY, started), *more]
        token = started.client_token
        if token is not None:
            claim = ClientTokenClaimed(token, started.request_digest or "", started.snapshot_id)
            records.append(EventRecord(token_stream(token), "0", claim))
        try:
            self.events.append(records)
        except DuplicateEvent:
            if token is None and self._already_appended(started):
                return started
            replay = self._replay(token, started.request_digest or "")
            if replay is None:
                raise
            return replay
        return started

    def _already_appended(self, started: SnapshotStarted) -> bool:
        """True when the collision is with this very event: a retried write whose first attempt landed.

        Snapshot ids are random, so without a ClientToken that is the only way
        a start can collide (DynamoDB's PutItem retried after a lost response).
        """
        stored = self.events.query(lifecycle_stream(started.snapshot_id), STARTED_KEY)
        return [record.event for record in stored] == [started]

    def _replay(self, client_token: str | None, digest: str) -> SnapshotStarted | None:
        if client_token is None:
            return None
        claims = self.events.query(token_stream(client_token))
        if not claims:
            return None
        claim = claims[0].event
        assert isinstance(claim, ClientTokenClaimed)
        if claim.request_digest != digest:
            raise IdempotencyConflict()
        snapshot = self.load(claim.snapshot_id)
        assert snapshot is not None
        return snapshot.started

    # ---- blocksnap extension: encrypted copy ----------------------------

    def copy_snapshot(self, source_id: str, req: dict) -> dict:
        """Record an encrypted copy; the encryption function does the work when it sees the event.

        The copy starts a new lineage with its own data key, so later
        incremental snapshots of the copy inherit that key, and the source's
        lineage is untouched.
        """
        if req.get("Encrypted") is not True:
            raise ValidationError(
                "Encrypted must be true: blocksnap copies a snapshot in order to encrypt it"
            )
        tags = _tags(req)
        kms_key_arn = req.get("KmsKeyArn") or self.default_kms_key_arn()
        digest = _request_digest("CopySnapshot", {**req, "SourceSnapshotId": source_id})
        replay = self._replay(req.get("ClientToken"), digest)
        if replay is not None:
            return {"SnapshotId": replay.snapshot_id, "Status": PENDING}
        source = self._parent(source_id)
        snapshot_id = new_snapshot_id()
        now = round(self.clock(), 3)
        started = SnapshotStarted(
            snapshot_id=snapshot_id,
            volume_size=source.volume_size,
            lineage_id=snapshot_id,
            start_time=now,
            timeout_minutes=COPY_TIMEOUT_MINUTES,
            owner_id=self.settings.owner_id,
            description=req.get("Description"),
            tags=tags,
            encrypted=True,
            kms_key_arn=kms_key_arn,
            client_token=req.get("ClientToken"),
            request_digest=digest,
            source_snapshot_id=source_id,
        )
        request = CopyRequested(snapshot_id, source_id, kms_key_arn, now)
        started = self._append_start(started, [EventRecord(lifecycle_stream(snapshot_id), COPY_KEY, request)])
        return {"SnapshotId": started.snapshot_id, "Status": PENDING}

    def _parent(self, parent_id: str) -> SnapshotRecord:
        snapshot = self.load(parent_id)
        if snapshot is None or snapshot.status == ERROR:
            raise SnapshotNotFound(parent_id)
        record = self.records.get_snapshot(parent_id)
        if record is None or record.status != COMPLETED:
            raise InvalidSnapshotId(f"Source snapshot ({parent_id}) is not complete.")
        return record

    def _encryption_outcome(self, req: dict, parent_id: str | None) -> tuple[bool, str | None]:
        """The AWS outcome matrix for Encrypted / KmsKeyArn / ParentSnapshotId.

        Encryption by default is off (as in a fresh AWS account). With a
        parent, the child inherits the parent's encryption, and any explicit
        Encrypted or KmsKeyArn is refused, as the model documents.
        """
        encrypted = req.get("Encrypted")
        kms_key_arn = req.get("KmsKeyArn")
        if encrypted is False and kms_key_arn:
            raise ValidationError("Encrypt cannot be false when KmsKeyArn is specified")
        if parent_id is not None:
            if encrypted is not None or kms_key_arn:
                raise ValidationError(
                    "You can't specify ParentSnapshotId and Encrypted or KmsKeyArn in the same "
                    "request; an incremental snapshot inherits its parent's encryption"
                )
            return False, None
        if kms_key_arn:
            return True, kms_key_arn
        if encrypted:
            return True, self.default_kms_key_arn()
        return False, None

    def default_kms_key_arn(self) -> str:
        """The key used for ``Encrypted=true`` without a KmsKeyArn (AWS: the aws/ebs managed key)."""
        return self.settings.default_kms_key_arn or (
            f"arn:aws:kms:{self.settings.region}:{self.settings.owner_id}:key/aws-ebs-default"
        )

    # ---- PutSnapshotBlock ----------------------------------------------

    def _check_block_write(self, req: dict, check_length) -> tuple[Snapshot, bytes, str]:
        """Checks shared by full and sub-block writes, in AWS's order; returns the body's digest."""
        snapshot_id, index = req["SnapshotId"], req["BlockIndex"]
        algorithm = req["ChecksumAlgorithm"]
        if algorithm != "SHA256":
            raise ValidationError(
                f"Unsupported Checksum Algorithm '{algorithm}', supported algorithms are SHA256"
            )
        snapshot = self._writable(snapshot_id)
        check_length(snapshot)
        data: bytes = req.get("BlockData") or b""
        if len(data) != req["DataLength"]:
            raise ValidationError("Failed to read block data")
        if index >= snapshot.block_count_limit:
            raise InvalidBlock(f"Block index {index} is beyond the volume size extent")
        digest = sha256_b64(data)
        if digest != req["Checksum"]:
            raise ChecksumMismatch(digest, req["Checksum"])
        return snapshot, data, digest

    def put_snapshot_block(self, req: dict) -> dict:
        def check_length(snapshot: Snapshot) -> None:
            if req["DataLength"] != BLOCK_SIZE:
                raise InvalidBlock(f"Block data length {req['DataLength']} is not valid, expected {BLOCK_SIZE}")

        snapshot, data, digest = self._check_block_write(req, check_length)
        snapshot_id, index = snapshot.snapshot_id, req["BlockIndex"]
        key = keys.block_key(snapshot_id, index, digest)
        self.blockio.write(key, data, _lineage(snapshot))
        self.record_full_write(snapshot_id, index, digest, key)
        return {"Checksum": digest, "ChecksumAlgorithm": "SHA256"}

    def record_full_write(self, snapshot_id: str, index: int, digest: str, key: str) -> None:
        """Append a BlockWritten for durable bytes at ``key``; a repeat of the latest write is a no-op."""

        def decide(history: list, seq: int) -> BlockWritten | None:
            if history and isinstance(history[-1], BlockWritten) and history[-1].digest == digest:
                return None
            return BlockWritten(snapshot_id, index, seq, digest, key, round(self.clock(), 3))

        self._append_write(snapshot_id, index, decide, full_history=False)

    def put_sub_block(self, req: dict) -> dict:
        """Write part of a block; only these bytes are stored, the rest is inherited.

        The merged block's digest is computed against the write history seen at
        append time; a concurrent write to the same block makes the append
        collide on its sequence number, and the merge is simply redone.
        """
        offset, length = req["Offset"], req["DataLength"]

        def check_length(snapshot: Snapshot) -> None:
            unit = snapshot.started.sub_block_size
            if unit is None:
                raise ValidationError(
                    f"Snapshot {snapshot.snapshot_id} was not started with x-blocksnap-sub-block-size; "
                    "sub-block writes are not enabled for it"
                )
            if length <= 0 or length % unit or offset % unit or offset + length > BLOCK_SIZE:
                raise InvalidBlock(
                    f"Sub-block at offset {offset} with length {length} is not valid: both must be "
                    f"multiples of {unit} and the range must end within {BLOCK_SIZE} bytes"
                )

        snapshot, data, digest = self._check_block_write(req, check_length)
        snapshot_id, index = snapshot.snapshot_id, req["BlockIndex"]
        key = keys.sub_block_key(snapshot_id, index, offset, length, digest)
        lineage = _lineage(snapshot)
        self.blockio.write(key, data, lineage)
        parent_id = snapshot.started.parent_snapshot_id

        def decide(history: list, seq: int) -> SubBlockWritten | None:
            last = history[-1] if history else None
            if isinstance(last, SubBlockWritten) and last.key == key:
                return None
            inherited = self.manifests.open(parent_id).lookup(index) if parent_id else None
            current = fold_writes(history, lambda i: inherited).get(index, inherited)
            merged = bytearray(self.blockio.read(current, lineage) if current else ZERO_BLOCK)
            merged[offset : offset + length] = data
            return SubBlockWritten(
                snapshot_id, index, seq, offset, length, digest, key,
                sha256_b64(bytes(merged)), round(self.clock(), 3),
            )

        event = self._append_write(snapshot_id, index, decide, full_history=True)
        return {"Checksum": event.merged_digest, "ChecksumAlgorithm": "SHA256"}

    def _append_write(self, snapshot_id: str, index: int, decide, *, full_history: bool):
        """Append the next write of ``index`` (optimistic concurrency on its seq).

        ``decide(history, seq)`` returns the event to append, or None when the
        request is a retry of the latest write, so a retried request never
        appends a duplicate event.

        Without ``full_history`` the first attempt assumes the index has no
        writes yet (seq 0), as for every block of a fresh snapshot, and skips
        the read; if it has, seq 0 collides and the attempts that follow read
        the latest write as usual. That saves a query per PutSnapshotBlock
        (a strongly consistent Query on DynamoDB).
        """
        stream = block_stream(snapshot_id, index)
        prefix = block_key_prefix(index)
        for attempt in range(_APPEND_RETRIES):
            if full_history:
                history = [r.event for r in self.events.query(stream, prefix)]
            elif attempt == 0:
                history = []
            else:
                history = [r.event for r in self.events.query(stream, prefix, reverse=True, limit=1)]
            seq = history[-1].seq + 1 if history else 0
            event = decide(history, seq)
            if event is None:
                return history[-1]
            try:
                self.events.append([EventRecord(stream, block_key(index, seq), event)])
                return event
            except DuplicateEvent:
                continue
        raise ValidationError(
            f"Too many concurrent writes to block {index}; retry the request",
            reason="CONFLICTING_BLOCK_UPDATE",
        )

    # ---- CompleteSnapshot ----------------------------------------------

    def complete_snapshot(self, req: dict) -> dict:
        snapshot_id = req["SnapshotId"]
        checksum = req.get("Checksum")
        algorithm = req.get("ChecksumAlgorithm")
        aggregation = req.get("ChecksumAggregationMethod")
        if checksum is not None and algorithm is None:
            raise ValidationError("Invalid parameter combination. Checksum algorithm is missing.")
        if checksum is None and (algorithm is not None or aggregation is not None):
            raise ValidationError("Invalid parameter combination. Snapshot checksum is missing.")
        if checksum is not None and aggregation is None:
            raise ValidationError(
                "Invalid parameter combination. Checksum aggregation method is missing."
            )
        snapshot = self.load(snapshot_id)
        if snapshot is None:
            raise SnapshotNotFound(snapshot_id)
        if snapshot.completion is None and snapshot.status == PENDING:
            event = CompletionRequested(
                snapshot_id, req["ChangedBlocksCount"], checksum, round(self.clock(), 3)
            )
            try:
                self.events.append([EventRecord(lifecycle_stream(snapshot_id), COMPLETION_KEY, event)])
                return {"Status": PENDING}
            except DuplicateEvent:
                snapshot = self.load(snapshot_id)
        return {"Status": self._visible_status(snapshot)}

    def _visible_status(self, snapshot: Snapshot) -> str:
        if snapshot.status == ERROR:
            return ERROR
        record = self.records.get_snapshot(snapshot.snapshot_id)
        return record.status if record is not None else PENDING

    # ---- GetSnapshotBlock ----------------------------------------------

    def get_snapshot_block(self, req: dict) -> dict:
        snapshot_id, index, token = req["SnapshotId"], req["BlockIndex"], req["BlockToken"]
        record = self._readable(snapshot_id)
        try:
            self.tokens.check_block_token(token, snapshot_id, index, self.clock())
        except TokenInvalid:
            raise InvalidBlockToken(token) from None
        entry = None
        if index < record.volume_size * BLOCKS_PER_GIB:
            entry = self.manifests.open(snapshot_id).lookup(index)
        if entry is None:
            raise InvalidBlockToken(token)
        data = self.blockio.read(entry, record.lineage_id if record.encrypted else None)
        return {
            "DataLength": len(data),
            "BlockData": data,
            "Checksum": entry.digest,
            "ChecksumAlgorithm": "SHA256",
        }

    # ---- ListSnapshotBlocks / ListChangedBlocks --------------------------

    def _start_index(self, req: dict, operation: str, subject: str) -> int:
        token = req.get("NextToken")
        if token is None:
            return req.get("StartingBlockIndex") or 0
        try:
            return self.tokens.open_page_token(token, operation, subject, self.clock())
        except TokenInvalid:
            raise InvalidPageToken(token) from None

    def _page(self, items, limit: int, operation: str, subject: str, now: float):
        page = []
        next_token = None
        for item in items:
            if len(page) == limit:
                cursor = PageCursor(operation, subject, item[0])
                next_token = self.tokens.page_token(cursor, now + PAGE_TOKEN_LIFETIME)
                break
            page.append(item)
        return page, next_token

    def list_snapshot_blocks(self, req: dict) -> dict:
        snapshot_id = req["SnapshotId"]
        record = self._readable(snapshot_id)
        start = self._start_index(req, "ListSnapshotBlocks", snapshot_id)
        now = self.clock()
        limit = req.get("MaxResults") or DEFAULT_MAX_RESULTS
        extent = record.volume_size * BLOCKS_PER_GIB
        entries = (
            (e.index, e)
            for e in self.manifests.open(snapshot_id).entries(start)
            if e.index < extent
        )
        page, next_token = self._page(entries, limit, "ListSnapshotBlocks", snapshot_id, now)
        expiry = now + (BLOCK_TOKEN_LIFETIME if page else EMPTY_LIST_EXPIRY)
        return {
            "Blocks": [
                {"BlockIndex": i, "BlockToken": self.tokens.block_token(snapshot_id, i, expiry)}
                for i, _ in page
            ],
            "ExpiryTime": round(expiry, 3),
            "VolumeSize": record.volume_size,
            "BlockSize": BLOCK_SIZE,
            "NextToken": next_token,
        }

    def list_changed_blocks(self, req: dict) -> dict:
        second_id = req["SecondSnapshotId"]
        first_id = req.get("FirstSnapshotId")
        if not first_id:
            raise InvalidSnapshotId("First snapshot should not be empty or null")
        first = self._readable(first_id)
        second = self._readable(second_id)
        if first.lineage_id != second.lineage_id:
            raise UnrelatedSnapshots(
                f"The snapshots {first_id} and {second_id} are not from the same lineage"
            )
        subject = f"{first_id}:{second_id}"
        start = self._start_index(req, "ListChangedBlocks", subject)
        now = self.clock()
        limit = req.get("MaxResults") or DEFAULT_MAX_RESULTS
        changes = (
            (index, a, b)
            for index, a, b in diff(self.manifests.open(first_id), self.manifests.open(second_id), start)
        )
        page, next_token = self._page(changes, limit, "ListChangedBlocks", subject, now)
        expiry = now + (BLOCK_TOKEN_LIFETIME if page else EMPTY_LIST_EXPIRY)
        changed = []
        for index, a, b in page:
            item: dict = {"BlockIndex": index}
            if a is not None:
                item["FirstBlockToken"] = self.tokens.block_token(first_id, index, expiry)
            if b is not None:
                item["SecondBlockToken"] = self.tokens.block_token(second_id, index, expiry)
            changed.append(item)
        return {
            "ChangedBlocks": changed,
            "ExpiryTime": round(expiry, 3),
            "VolumeSize": second.volume_size,
            "BlockSize": BLOCK_SIZE,
            "NextToken": next_token,
        }

    # ---- blocksnap extension -------------------------------------------

    def describe_snapshot(self, snapshot_id: str) -> SnapshotRecord:
        """The snapshot in any state.

        The record may lag the events (the projection is asynchronous, more so
        behind a DynamoDB stream), so a failure already decided in the events
        is reported at once, consistently with CompleteSnapshot's answer.
        """
        snapshot = self.load(snapshot_id)
        if snapshot is None:
            raise SnapshotNotFound(snapshot_id)
        record = self.records.get_snapshot(snapshot_id) or SnapshotRecord.from_started(snapshot.started)
        if snapshot.failed is not None and record.status != ERROR:
            record = replace(record, status=ERROR, state_message=snapshot.failed.message)
        return record


def _lineage(snapshot: Snapshot) -> str | None:
    """The lineage whose data key encrypts this snapshot's blocks, or None if it is plaintext."""
    return snapshot.started.lineage_id if snapshot.started.encrypted else None


def _tags(req: dict) -> tuple[tuple[str, str], ...]:
    given = req.get("Tags") or ()
    if any("Key" not in tag for tag in given):
        raise InvalidTag("Every tag needs a Key; a tag without one was given")
    tags = tuple((tag["Key"], tag.get("Value", "")) for tag in given)
    if len(tags) > MAX_TAGS:
        raise InvalidTag(f"A snapshot can have at most {MAX_TAGS} tags; {len(tags)} were given")
    return tags


def _request_digest(operation: str, req: dict) -> str:
    """What makes two requests with one ClientToken 'the same' (idempotency)."""
    fields = {k: v for k, v in req.items() if k != "ClientToken"}
    fields["Operation"] = operation
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _start_response(e: SnapshotStarted) -> dict:
    return {
        "Description": e.description,
        "SnapshotId": e.snapshot_id,
        "OwnerId": e.owner_id,
        "Status": PENDING,
        "StartTime": e.start_time,
        "VolumeSize": e.volume_size,
        "BlockSize": BLOCK_SIZE,
        "Tags": [{"Key": k, "Value": v} for k, v in e.tags] if e.tags else None,
        "ParentSnapshotId": e.parent_snapshot_id,
        "KmsKeyArn": e.kms_key_arn,
        "SseType": None,
    }
