"""Upload an image or a device as a snapshot: full, incremental against a parent, or resumed.

The image is read once, in order, by one thread; hashing, deciding and
sending happen on ``workers`` threads (hashlib and the socket both release
the GIL), with at most twice that many blocks in memory (``workers.py``). A block is sent
when it differs from the parent's (by SHA-256, so the parent is never
downloaded), or, with no parent, when it is not all zeros; an all-zero block
is still sent where the parent has data, or the restore would show the old
data through. Each acknowledged write goes to the local journal, so Ctrl-C,
a kill or a lost connection leaves a state ``--resume`` continues from.

Where the parent's digests come from, best first: blocksnap's checksums
extension, the local digest cache, and otherwise nowhere (every non-zero
block is sent, with ListSnapshotBlocks telling where the parent has data
that zeros must cover).
"""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.domain.checksums import linear_aggregate, sha256_b64

from .api import Connection
from .digests import DigestCache, Journal
from .errors import Interrupted
from .image import BLOCK_SIZE, ZERO_BLOCK, Image, volume_size_gib
from .progress import Progress, say
from .wait import wait_until_readable
from .workers import run_bounded

ZERO_DIGEST = sha256_b64(ZERO_BLOCK)


@dataclass(frozen=True)
class UploadRequest:
    image: Path
    parent: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_arn: str | None = None
    encrypted: bool = False
    resume: str | None = None
    wait: bool = True
    wait_timeout: float = 3600.0
    workers: int = 32
    quiet: bool = False
    # What a resume command must repeat besides the image and the id (the parent, say).
    resume_flags: tuple[str, ...] = ()


@dataclass
class UploadResult:
    snapshot_id: str
    volume_size: int
    blocks_sent: int = 0
    blocks_written: int = 0
    already_acknowledged: int = 0
    parent_digests: str = "none"
    status: str = "pending"

    def as_json(self) -> dict[str, Any]:
        return {
            "SnapshotId": self.snapshot_id, "VolumeSize": self.volume_size, "Status": self.status,
            "BlocksSent": self.blocks_sent, "ChangedBlocksCount": self.blocks_written,
            "AlreadyAcknowledged": self.already_acknowledged, "ParentDigests": self.parent_digests,
        }


class _Parent:
    """What the parent holds: its digests where known, at least the indexes it has data at."""

    def __init__(self, conn: Connection, cache: DigestCache, parent: str | None, quiet: bool):
        self.digests: dict[int, str] | None = {}
        self.present: set[int] = set()
        self.source = "none"
        if parent is None:
            return
        self.digests = conn.checksums(parent)
        self.source = "blocksnap"
        if self.digests is None:
            self.digests = cache.load(parent)
            self.source = "cache"
        if self.digests is None:
            self.source = "none"
            self.present = set(conn.list_blocks(parent)[0])
            say(f"no digests of {parent} here (no checksums extension, not uploaded or downloaded on this machine): "
                "sending every non-zero block", quiet)
        else:
            self.present = set(self.digests)

    def needs(self, index: int, digest: str) -> bool:
        if self.digests is None:
            return digest != ZERO_DIGEST or index in self.present
        if index in self.digests:
            return self.digests[index] != digest
        return digest != ZERO_DIGEST


class _Sender:
    """The worker side: hash, decide, send, journal."""

    def __init__(self, conn: Connection, snapshot_id: str, parent: _Parent, acknowledged: dict[int, str],
                 journal: Journal, progress: Progress):
        self.conn = conn
        self.snapshot_id = snapshot_id
        self.parent = parent
        self.acknowledged = acknowledged
        self.journal = journal
        self.progress = progress
        self.lock = threading.Lock()
        self.written = dict(acknowledged)  # what the snapshot holds of its own: the count and the aggregate
        self.image_digests: dict[int, str] = {}
        self.sent = 0

    def handle(self, block: tuple[int, bytes | None]) -> None:
        index, data = block
        digest = ZERO_DIGEST if data is None or data == ZERO_BLOCK else sha256_b64(data)
        if self.parent.needs(index, digest) and self.acknowledged.get(index) != digest:
            self.conn.ebs.put_snapshot_block(
                SnapshotId=self.snapshot_id, BlockIndex=index, BlockData=data or ZERO_BLOCK,
                DataLength=BLOCK_SIZE, Checksum=digest, ChecksumAlgorithm="SHA256",
            )
            self.journal.append(index, digest)
            with self.lock:
                self.written[index] = digest
                self.sent += 1
        if digest != ZERO_DIGEST:
            with self.lock:
                self.image_digests[index] = digest
        self.progress.update()


def _start(conn: Connection, request: UploadRequest, volume_size: int) -> str:
    kwargs: dict[str, Any] = {"VolumeSize": volume_size}
    if request.parent:
        kwargs["ParentSnapshotId"] = request.parent
    if request.description:
        kwargs["Description"] = request.description
    if request.tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in request.tags.items()]
    if request.encrypted or request.kms_key_arn:
        kwargs["Encrypted"] = True
    if request.kms_key_arn:
        kwargs["KmsKeyArn"] = request.kms_key_arn
    return conn.ebs.start_snapshot(**kwargs)["SnapshotId"]


def resume_command(request: UploadRequest, snapshot_id: str) -> str:
    return shlex.join(["blocksnap", "upload", str(request.image), *request.resume_flags, "--resume", snapshot_id])


def upload(conn: Connection, request: UploadRequest, cache: DigestCache) -> UploadResult:
    image = Image.open(request.image)
    try:
        return _upload(conn, request, cache, image)
    finally:
        image.close()


def _upload(conn: Connection, request: UploadRequest, cache: DigestCache, image: Image) -> UploadResult:
    volume_size = volume_size_gib(image.size)
    parent = _Parent(conn, cache, request.parent, request.quiet)
    if request.resume:
        snapshot_id = request.resume
        journal = cache.journal(snapshot_id)
        acknowledged = conn.writes(snapshot_id)
        if acknowledged is None:
            acknowledged = journal.read()
        say(f"resuming {snapshot_id}: {len(acknowledged)} blocks already acknowledged", request.quiet)
    else:
        snapshot_id = _start(conn, request, volume_size)
        journal = cache.journal(snapshot_id)
        acknowledged = {}
        say(f"started {snapshot_id} ({volume_size} GiB)", request.quiet)
    result = UploadResult(snapshot_id, volume_size, parent_digests=parent.source,
                          already_acknowledged=len(acknowledged))
    progress = Progress("upload", image.block_count, quiet=request.quiet)
    sender = _Sender(conn, snapshot_id, parent, acknowledged, journal, progress)
    try:
        run_bounded(request.workers, image.blocks(), sender.handle, "upload")
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; {snapshot_id} is pending with {len(sender.written)} blocks acknowledged. "
            f"To continue: {resume_command(request, snapshot_id)}"
        ) from None
    except Exception:
        say(f"stopped; {snapshot_id} stays pending. To continue: {resume_command(request, snapshot_id)}",
            request.quiet)
        raise
    finally:
        progress.close()
        journal.close()
    result.blocks_sent = sender.sent
    result.blocks_written = len(sender.written)
    complete = {
        "ChangedBlocksCount": len(sender.written),
        "Checksum": linear_aggregate(sender.written[i] for i in sorted(sender.written)),
        "ChecksumAlgorithm": "SHA256",
        "ChecksumAggregationMethod": "LINEAR",
    }
    result.status = conn.ebs.complete_snapshot(SnapshotId=snapshot_id, **complete)["Status"]
    # The snapshot holds the image: its digests where the image has data, zeros where the snapshot has a block.
    holds = dict(sender.image_digests)
    for index in parent.present | set(sender.written):
        holds.setdefault(index, ZERO_DIGEST)
    cache.store(snapshot_id, holds)
    journal.remove()
    if request.wait:
        try:
            wait_until_readable(conn, snapshot_id, request.wait_timeout, complete)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while waiting; {snapshot_id} is uploaded and completing. "
                              f"To wait for it: blocksnap wait {snapshot_id}") from None
        result.status = "completed"
    say(f"{snapshot_id}: sent {result.blocks_sent} of {image.block_count} blocks "
        f"(parent digests: {parent.source}), {result.status}", request.quiet)
    return result

