"""Download a snapshot to a sparse file or a device, and verify a snapshot by reading it.

Every block read is checked before it is used: algorithm SHA256, 512 KiB,
and the SHA-256 of the bytes equal to the checksum the server sent with them
(and to the one the checksums extension or the digest cache knows, where
either does). A download goes to a temporary file beside OUT, renamed when
complete; a failure removes it, an interruption keeps it with a journal, and
the same command continues it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from chalicelib.domain.checksums import sha256_b64

from .api import Connection
from .digests import DigestCache
from .errors import CommandError, Interrupted
from .image import BLOCK_SIZE, GIB, Target
from .progress import Progress
from .workers import run_bounded

Sink = Callable[[int, bytes, str], None]


class CorruptBlock(CommandError):
    pass


@dataclass
class ReadResult:
    snapshot_id: str
    volume_size: int
    blocks: int
    blocks_read: int
    digests: dict[int, str]


def _read_block(conn: Connection, snapshot_id: str, index: int, token: str, expected: str | None) -> tuple[bytes, str]:
    answer = conn.ebs.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockToken=token)
    data = answer["BlockData"].read()
    where = f"block {index} of {snapshot_id}"
    if answer.get("ChecksumAlgorithm") != "SHA256":
        raise CorruptBlock(f"{where}: checksum algorithm {answer.get('ChecksumAlgorithm')!r}, not SHA256")
    if len(data) != BLOCK_SIZE or int(answer.get("DataLength", BLOCK_SIZE)) != BLOCK_SIZE:
        raise CorruptBlock(f"{where}: {len(data)} bytes, not {BLOCK_SIZE}")
    digest = sha256_b64(data)
    if digest != answer["Checksum"]:
        raise CorruptBlock(f"{where}: the data's SHA-256 is not the checksum sent with it")
    if expected is not None and digest != expected:
        raise CorruptBlock(f"{where}: the data's SHA-256 is not the snapshot's recorded checksum")
    return data, digest


def read_snapshot(
    conn: Connection, cache: DigestCache, snapshot_id: str, listing: tuple[dict[int, str], int], sink: Sink,
    workers: int, quiet: bool, phase: str, skip: dict[int, str] | None = None,
) -> ReadResult:
    """Every block of ``listing`` (tokens, volume size), verified, handed to ``sink`` on a worker; ``skip`` is done."""
    tokens, volume_size = listing
    known = conn.checksums(snapshot_id) or cache.load(snapshot_id) or {}
    done = dict(skip or {})
    digests = dict(done)
    todo = [i for i in sorted(tokens) if i not in done]
    progress = Progress(phase, len(tokens), quiet=quiet)
    progress.update(len(tokens) - len(todo))
    lock = threading.Lock()

    def one(index: int) -> None:
        data, digest = _read_block(conn, snapshot_id, index, tokens[index], known.get(index))
        sink(index, data, digest)
        with lock:
            digests[index] = digest
        progress.update()

    try:
        run_bounded(workers, todo, one, phase)
    finally:
        progress.close()
    return ReadResult(snapshot_id, volume_size, len(tokens), len(todo), digests)


def download(conn: Connection, cache: DigestCache, snapshot_id: str, out: Path, *, force: bool,
             workers: int, quiet: bool) -> ReadResult:
    listing = conn.list_blocks(snapshot_id)  # fails before OUT is touched if the snapshot is not readable
    target = Target(out, snapshot_id, listing[1] * GIB, force)
    try:
        target.clear_absent(set(listing[0]), listing[1] * GIB // BLOCK_SIZE)
        result = read_snapshot(conn, cache, snapshot_id, listing, target.write, workers, quiet, "download", target.done)
    except KeyboardInterrupt:
        target.keep()
        raise Interrupted(f"interrupted; run the same command again to continue the download into {out}") from None
    except BaseException:
        target.discard()
        raise
    target.finish()
    cache.store(snapshot_id, result.digests)
    return result


def verify(conn: Connection, cache: DigestCache, snapshot_id: str, *, workers: int, quiet: bool) -> ReadResult:
    listing = conn.list_blocks(snapshot_id)
    result = read_snapshot(conn, cache, snapshot_id, listing, lambda *_: None, workers, quiet, "verify")
    cache.store(snapshot_id, result.digests)
    return result
