"""Encryption-function copy throughput against raw AES-GCM of the same bytes.

``python benchmarks/encryption.py [--quick] [--no-progress]``

An encrypted copy reads every block of the source through its manifest,
verifies its SHA-256, encrypts it under the copy's data key (AES-256-GCM,
the block's store key as associated data), writes it durably, and records it
as an event; then the copy is completed and sealed. The baseline is the one
step the copy cannot avoid: AES-256-GCM over the same bytes, in the same run,
on one thread. The copy itself runs the copier's ``COPY_WORKERS`` (8) threads,
which overlap its fsyncs and commits; a crash still resumes from a per-block
"already recorded?" check. The ratio says what the rest of the copy (reads,
hashing, fsync'd writes, events, sealing) costs on top of the cipher.

The copy runs in-process, through the same :class:`Copier` and
:class:`EncryptionService` the worker process runs, with the local key
service, so that the figure is the function's own and not the socket's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import MiB, block_payloads, print_table, result_line  # noqa: E402

from chalicelib.http.bindings import Calls
from chalicelib import wiring  # noqa: E402
from chalicelib.domain import keys  # noqa: E402
from chalicelib.domain.events import CopyRequested, EventRecord, lifecycle_stream  # noqa: E402
from chalicelib.domain.snapshot import BLOCK_SIZE  # noqa: E402
from chalicelib.encryption.copier import COPY_WORKERS, Copier  # noqa: E402
from chalicelib.encryption.service import EncryptionService  # noqa: E402
from chalicelib.encryption.local_kms import LocalKeyService  # noqa: E402
from chalicelib.usecases.write_sink import WriteSink  # noqa: E402


def build_source(runtime, blocks: int, progress: bool) -> str:
    payloads, checksums = block_payloads()
    service = Calls(runtime.usecases)
    sid = service.start_snapshot({"VolumeSize": max(1, blocks // 2048 + 1)})["SnapshotId"]
    for i in tqdm(range(blocks), desc="source", unit="blk", disable=not progress):
        n = i % len(payloads)
        service.put_snapshot_block({
            "SnapshotId": sid, "BlockIndex": i, "BlockData": payloads[n], "DataLength": BLOCK_SIZE,
            "Checksum": checksums[n], "ChecksumAlgorithm": "SHA256",
        })
    service.complete_snapshot({"SnapshotId": sid, "ChangedBlocksCount": blocks})
    runtime.projector.catch_up()
    assert runtime.records.get_snapshot(sid).status == "completed"
    return sid


def time_copy(runtime, data_dir: Path, source: str) -> tuple[float, str]:
    encryption = EncryptionService(LocalKeyService(data_dir / "kms"), runtime.blocks)
    copier = Copier(runtime.events, runtime.manifests, runtime.blocks, encryption, WriteSink(runtime.events))
    copy = Calls(runtime.usecases).copy_snapshot({"SourceSnapshotId": source, "Encrypted": True})["SnapshotId"]
    [request] = [r for r in runtime.events.query(lifecycle_stream(copy)) if isinstance(r.event, CopyRequested)]
    start = time.perf_counter()
    copier.handle(EventRecord(request.stream, request.key, request.event))
    runtime.projector.catch_up()
    elapsed = time.perf_counter() - start
    assert runtime.records.get_snapshot(copy).status == "completed"
    return elapsed, copy


def time_aesgcm(blocks: int, source: str) -> float:
    payloads, checksums = block_payloads()
    cipher = AESGCM(AESGCM.generate_key(bit_length=256))
    start = time.perf_counter()
    for i in range(blocks):
        n = i % len(payloads)
        cipher.encrypt(os.urandom(12), payloads[n], keys.block_key(source, i, checksums[n]).encode())
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB instead of 512 MiB")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    blocks = 128 if args.quick else 1024
    workdir = Path(tempfile.mkdtemp(prefix="blocksnap-enc-bench-"))
    try:
        runtime = wiring.embedded(workdir / "data")
        source = build_source(runtime, blocks, not args.no_progress)
        copy_seconds, copy = time_copy(runtime, workdir / "data", source)
        aes_seconds = min(time_aesgcm(blocks, source) for _ in range(3))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    mib = blocks * BLOCK_SIZE / MiB
    copy_rate, aes_rate = mib / copy_seconds, mib / aes_seconds
    print(f"encrypted copy of {blocks} blocks ({mib:.0f} MiB), {COPY_WORKERS} copier threads (cipher baseline: 1), embedded backend")
    print_table(
        ["path", "seconds", "MiB/s"],
        [["encryption-function copy", round(copy_seconds, 2), copy_rate], ["raw AES-256-GCM", round(aes_seconds, 2), aes_rate]],
    )
    print(result_line({"copy_MiBps": copy_rate, "aesgcm_MiBps": aes_rate, "ratio": copy_rate / aes_rate}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
