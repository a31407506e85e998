"""A full disk: a retryable 503 naming what ran out, nothing acknowledged lost, writes resuming with space.

The data dir is a small filesystem of its own: tmpfs, else a loop-mounted
ext4 image; where neither can be mounted (no root, no CAP_SYS_ADMIN) the
test is skipped and says why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.servers import BlocksnapServer

from .conftest import block, put, read_all, wait_status

SIZE = "8m"


def _mount(target: Path, image: Path) -> list[str] | None:
    """Mount a small filesystem on ``target``; the command that unmounts it, or None if none can be mounted."""
    tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(target)], capture_output=True)
    if tmpfs.returncode == 0:
        return ["umount", str(target)]
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image), SIZE], capture_output=True)
    if made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(target)],
                                               capture_output=True).returncode == 0:
        return ["umount", "-d", str(target)]
    return None


@pytest.fixture
def small_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    unmount = _mount(data_dir, tmp_path / "fs.img")
    if unmount is None:
        pytest.skip("neither a tmpfs nor a loop-mounted ext4 image can be mounted here (needs root)")
    try:
        yield data_dir
    finally:
        subprocess.run(unmount, check=False)


def _fill(path: Path, leave: int) -> None:
    """Write ``path`` until the filesystem has at most ``leave`` bytes free (for root: ext4 keeps some for it)."""
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            stats = os.statvfs(path)
            free = stats.f_bfree * stats.f_frsize
            if free <= leave:
                break
            f.write(b"\0" * min(free - leave, 1 << 20))
            f.flush()


def _temporary_files(data_dir: Path) -> list[str]:
    return [str(p) for p in data_dir.rglob(".*tmp-*")]


def test_a_full_disk_is_a_retryable_503_and_writes_resume_when_space_returns(small_data_dir):
    srv = BlocksnapServer(small_data_dir).start()
    try:
        ebs = srv.client()
        sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
        ballast = small_data_dir / "ballast"
        _fill(ballast, leave=3 * 524288)
        acknowledged = {}
        with pytest.raises(ClientError) as full:
            for index in range(100):
                put(ebs, sid, index, block(f"b{index}"))
                acknowledged[index] = block(f"b{index}")
        error = full.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert error["Error"] == {"Code": "ServiceUnavailableException", "Message": "The block store is out of space"}
        assert _temporary_files(small_data_dir) == []

        retrying = boto3.client("ebs", endpoint_url=srv.url, region_name="us-east-1", **srv.credentials,
                                config=Config(retries={"max_attempts": 3, "mode": "standard"}))
        with pytest.raises(ClientError) as retried:
            put(retrying, sid, 99, block("b99"))
        assert retried.value.response["ResponseMetadata"]["RetryAttempts"] >= 1, "boto3 retries the 503"

        _fill(small_data_dir / "ballast-2", leave=0)
        with pytest.raises(ClientError) as no_events:
            for _ in range(500):  # until the event table's WAL needs a page the disk does not have
                ebs.start_snapshot(VolumeSize=1)
        assert no_events.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert no_events.value.response["Error"]["Message"] == "The event table is out of space"

        ballast.unlink()
        (small_data_dir / "ballast-2").unlink()
        for index in range(len(acknowledged), len(acknowledged) + 2):
            put(ebs, sid, index, block(f"b{index}"))
            acknowledged[index] = block(f"b{index}")
        ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=len(acknowledged))
        wait_status(ebs, sid)
        assert read_all(ebs, sid) == acknowledged
        assert _temporary_files(small_data_dir) == []
        assert [line for line in srv.output if "Traceback" in line or "unexpected error" in line] == []
    finally:
        srv.stop()


def test_temporary_files_left_by_a_crash_are_removed_at_start(tmp_path):
    data_dir = tmp_path / "data"
    left = [data_dir / "store" / "blocks" / "snap-0123456789abcdef0" / ".tmp-0123abcd",
            data_dir / ".token-secret.tmp-123-abcd"]
    kept = data_dir / "store" / "blocks" / "snap-0123456789abcdef0" / ("000000001-" + "0" * 64)
    for path in [*left, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    srv = BlocksnapServer(data_dir).start()
    try:
        assert [path for path in left if path.exists()] == []
        assert kept.exists()
        assert any("removed 2 temporary files left by interrupted writes" in line for line in srv.output)
    finally:
        srv.stop()
