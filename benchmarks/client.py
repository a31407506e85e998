"""The backup client's upload and download rates, against a plain boto3 loop doing coldsnap's algorithm.

    python benchmarks/client.py [--quick]

A sparse image of 4 GiB (1 GiB with ``--quick``), a quarter of its blocks
data (distinct per index, generated before the clock starts), is uploaded
to and downloaded from ``blocksnap serve`` (embedded, one process per core)
twice in the same run:

1. by ``blocksnap_client`` (``upload``/``download`` with their defaults:
   32 workers, digests and journal, verified sparse writes, temp file renamed);
2. by a plain boto3 loop doing what coldsnap does: read every block, skip
   the all-zero ones, PutSnapshotBlock on 64 threads, CompleteSnapshot with
   the LINEAR checksum, poll until completed; download with ListSnapshotBlocks
   and GetSnapshotBlock on 64 threads, checksum checked, zero blocks left as holes.

Then 5 % of the data blocks change and the changed image is uploaded twice
by the client: with ``--parent`` (the digest cache from the first upload
decides what to send) and in full. Rates are the image's data MiB over wall
time, completion and waiting included. The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _harness  # first: it puts the repository root on sys.path
from _harness import MiB

import boto3
from botocore.config import Config

from blocksnap_client.api import Connection, Settings
from blocksnap_client.digests import DigestCache
from blocksnap_client.download import download
from blocksnap_client.upload import UploadRequest, upload
from chalicelib.domain.checksums import linear_aggregate, sha256_b64
from tests.servers import ROOT_KEY_ID, ROOT_SECRET

BLOCK = 512 * 1024
GIB = 1024**3
DATA_FRACTION = 4  # one block in four holds data
CHANGED_FRACTION = 20  # 5 % of the data blocks change for the incremental run
LOOP_WORKERS = 64  # coldsnap's default


def make_image(path: Path, gib: int) -> list[int]:
    """A sparse image with every DATA_FRACTION-th block filled; returns the data block indexes."""
    indexes = list(range(0, gib * GIB // BLOCK, DATA_FRACTION))
    with open(path, "wb") as f:
        f.truncate(gib * GIB)
    fd = os.open(path, os.O_WRONLY)
    try:
        for i in indexes:
            os.pwrite(fd, hashlib.sha256(f"block-{i}".encode()).digest() * (BLOCK // 32), i * BLOCK)
    finally:
        os.close(fd)
    return indexes


def loop_upload(ebs, path: Path, gib: int) -> str:
    zero = bytes(BLOCK)
    snapshot_id = ebs.start_snapshot(VolumeSize=gib)["SnapshotId"]
    digests: dict[int, str] = {}
    lock = threading.Lock()

    def put(index: int, data: bytes) -> None:
        digest = sha256_b64(data)
        ebs.put_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockData=data, DataLength=BLOCK,
                               Checksum=digest, ChecksumAlgorithm="SHA256")
        with lock:
            digests[index] = digest

    with open(path, "rb") as f, ThreadPoolExecutor(LOOP_WORKERS) as pool:
        futures = []
        index = 0
        while data := f.read(BLOCK):
            if data != zero:
                futures.append(pool.submit(put, index, data))
            index += 1
        for future in futures:
            future.result()
    complete = dict(ChangedBlocksCount=len(digests), Checksum=linear_aggregate(digests[i] for i in sorted(digests)),
                    ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
    while ebs.complete_snapshot(SnapshotId=snapshot_id, **complete)["Status"] == "pending":
        time.sleep(0.1)
    return snapshot_id


def loop_download(ebs, snapshot_id: str, out: Path) -> None:
    blocks, kwargs = [], {"SnapshotId": snapshot_id, "MaxResults": 10000}
    while True:
        page = ebs.list_snapshot_blocks(**kwargs)
        blocks += page["Blocks"]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, page["VolumeSize"] * GIB)

    def get(block: dict) -> None:
        answer = ebs.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=block["BlockIndex"],
                                        BlockToken=block["BlockToken"])
        data = answer["BlockData"].read()
        assert sha256_b64(data) == answer["Checksum"]
        os.pwrite(fd, data, block["BlockIndex"] * BLOCK)

    with ThreadPoolExecutor(LOOP_WORKERS) as pool:
        list(pool.map(get, blocks))
    os.close(fd)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 1 GiB image instead of 4 GiB")
    args = parser.parse_args(argv)
    gib = 1 if args.quick else 4
    os.environ.update(_harness.FAKE_ENV)  # moto's fake credentials for the client's session, never real ones
    # ... signed with the test root key that blocksnap serve is started with here.
    os.environ.update(AWS_ACCESS_KEY_ID=ROOT_KEY_ID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="blocksnap-client-bench-") as tmp:
        work = Path(tmp)
        image = work / "disk.img"
        data_blocks = make_image(image, gib)
        data_mib = len(data_blocks) * BLOCK / MiB
        print(f"{gib} GiB image, {len(data_blocks)} data blocks ({data_mib:.0f} MiB), {os.cpu_count()} cores",
              flush=True)
        with _harness.embedded_blocksnap(work) as server:
            conn = Connection(Settings(endpoint_url=server.url, region="us-east-1"))
            cache = DigestCache(work / "cache")
            ebs = boto3.client("ebs", endpoint_url=server.url, region_name="us-east-1",
                               aws_access_key_id=ROOT_KEY_ID, aws_secret_access_key=ROOT_SECRET,
                               config=Config(max_pool_connections=LOOP_WORKERS, retries={"mode": "standard"}))
            quiet = dict(quiet=True)
            result: dict = {}
            t_client_up = timed(lambda: result.update(up=upload(conn, UploadRequest(image, **quiet), cache)))
            parent = result["up"].snapshot_id
            t_client_down = timed(lambda: download(conn, cache, parent, work / "client.out", force=False,
                                                   workers=32, quiet=True))
            t_loop_up = timed(lambda: result.update(loop=loop_upload(ebs, image, gib)))
            t_loop_down = timed(lambda: loop_download(ebs, result["loop"], work / "loop.out"))

            changed = data_blocks[::CHANGED_FRACTION]
            fd = os.open(image, os.O_WRONLY)
            for i in changed:
                os.pwrite(fd, hashlib.sha256(f"changed-{i}".encode()).digest() * (BLOCK // 32), i * BLOCK)
            os.close(fd)
            t_incremental = timed(lambda: result.update(inc=upload(
                conn, UploadRequest(image, parent=parent, **quiet), cache)))
            t_full = timed(lambda: upload(conn, UploadRequest(image, **quiet), cache))
        assert result["inc"].blocks_sent == len(changed), (result["inc"].blocks_sent, len(changed))

    metrics = {
        "image_gib": gib,
        "data_mib": data_mib,
        "client_upload_mibs": data_mib / t_client_up,
        "loop_upload_mibs": data_mib / t_loop_up,
        "client_download_mibs": data_mib / t_client_down,
        "loop_download_mibs": data_mib / t_loop_down,
        "incremental_blocks": len(changed),
        "incremental_upload_s": t_incremental,
        "full_upload_s": t_full,
        "incremental_speedup": t_full / t_incremental,
        "load_before": load_before,
    }
    print(f"upload   client {metrics['client_upload_mibs']:.1f} MiB/s, coldsnap loop {metrics['loop_upload_mibs']:.1f}")
    print(f"download client {metrics['client_download_mibs']:.1f} MiB/s, "
          f"coldsnap loop {metrics['loop_download_mibs']:.1f}")
    print(f"changed image: --parent {t_incremental:.2f} s ({len(changed)} blocks), full {t_full:.2f} s")
    print(_harness.result_line(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
