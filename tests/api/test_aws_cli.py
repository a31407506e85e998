"""The real AWS CLI (v1, ``aws ebs …``) against a running ``blocksnap serve``.

Each call is a subprocess with ``--endpoint-url <server.url> --output json``, the server's root key as
credentials and config/credential files pointing nowhere, so nothing on the machine
(profiles, ``AWS_ENDPOINT_URL``, SSO caches, IMDS) can interfere. Retries are disabled so
a server error surfaces as-is instead of being masked by botocore's retry handler.

CLI specifics exercised here (see ../shared/spec/ebs-direct-api.md §f):
* ``put-snapshot-block --block-data <path>`` — a streaming blob takes a plain file path;
* ``get-snapshot-block … <outfile>`` — the body is written to the positional outfile and
  the remaining members are printed as JSON;
* service errors exit with 255 and name the error code on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import ROOT_KEY_ID, ROOT_SECRET

from .conftest import BLOCK, block, checksum


def _aws_command() -> list[str]:
    """Prefer the awscli package of this interpreter; fall back to ``aws`` on PATH."""
    try:
        import awscli  # noqa: F401
    except ImportError:
        exe = shutil.which("aws")
        if exe is None:
            pytest.skip("AWS CLI not available: neither the awscli package nor `aws` on PATH "
                        "(pip install 'blocksnap[test]')")
        return [exe]
    return [sys.executable, "-m", "awscli"]


class AwsCli:
    def __init__(self, url: str, home: Path, service: str = "ebs"):
        self.url = url
        self.service = service
        self.cmd = _aws_command()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=ROOT_KEY_ID,
            AWS_SECRET_ACCESS_KEY=ROOT_SECRET,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(home / "does-not-exist" / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "does-not-exist" / "credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_RETRY_MODE="standard",
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
            PYTHONIOENCODING="utf-8",
        )
        self.env = env

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = [*self.cmd, "--endpoint-url", self.url, "--output", "json", self.service, *args]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout)

    def __call__(self, *args: str) -> dict:
        """Run ``aws <service> <args>``; it must succeed; return its JSON output."""
        proc = self.run(*args)
        assert proc.returncode == 0, (
            f"aws {self.service} {' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    # ---- compound helpers -------------------------------------------------

    def put_block(self, tmp: Path, snapshot_id: str, index: int, data: bytes) -> dict:
        path = tmp / f"{snapshot_id}-{index}.bin"
        path.write_bytes(data)
        return self(
            "put-snapshot-block", "--snapshot-id", snapshot_id, "--block-index", str(index),
            "--block-data", str(path), "--data-length", str(len(data)),
            "--checksum", checksum(data), "--checksum-algorithm", "SHA256",
        )

    def complete(self, snapshot_id: str, count: int) -> str:
        return self("complete-snapshot", "--snapshot-id", snapshot_id,
                    "--changed-blocks-count", str(count))["Status"]

    def wait_completed(self, snapshot_id: str, count: int, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        status = "pending"
        while time.monotonic() < deadline:
            status = self.complete(snapshot_id, count)
            if status != "pending":
                break
            time.sleep(0.1)
        assert status == "completed"
        return status

    def snapshot(self, tmp: Path, blocks: dict[int, bytes], parent: str | None = None) -> str:
        args = ["start-snapshot", "--volume-size", "1"]
        if parent:
            args += ["--parent-snapshot-id", parent]
        sid = self(*args)["SnapshotId"]
        for index, data in blocks.items():
            self.put_block(tmp, sid, index, data)
        assert self.complete(sid, len(blocks)) in ("pending", "completed")
        self.wait_completed(sid, len(blocks))
        return sid


@pytest.fixture(scope="module")
def aws(server, tmp_path_factory):
    return AwsCli(server.url, tmp_path_factory.mktemp("aws-cli-home"))


@pytest.fixture(scope="module")
def lineage(aws, tmp_path_factory):
    """parent {0: p0, 1: p1} → child(parent) {1: c1, 5: c5}, both completed via the CLI."""
    tmp = tmp_path_factory.mktemp("aws-cli-lineage")
    data = {"p0": block("cli-p0"), "p1": block("cli-p1"), "c1": block("cli-c1"), "c5": block("cli-c5")}
    parent = aws.snapshot(tmp, {0: data["p0"], 1: data["p1"]})
    child = aws.snapshot(tmp, {1: data["c1"], 5: data["c5"]}, parent=parent)
    return parent, child, data


def test_start_snapshot_with_tags_and_description(aws):
    out = aws("start-snapshot", "--volume-size", "1", "--description", "made by aws cli",
              "--tags", "Key=team,Value=storage", "Key=env,Value=test")
    assert out["SnapshotId"].startswith("snap-")
    assert out["Status"] == "pending"
    assert out["VolumeSize"] == 1
    assert out["BlockSize"] == BLOCK
    assert out["Description"] == "made by aws cli"
    assert out["Tags"] == [{"Key": "team", "Value": "storage"}, {"Key": "env", "Value": "test"}]
    assert isinstance(out["StartTime"], (int, float))  # epoch number on the wire, printed as-is


def test_write_complete_list_and_read_back(aws, tmp_path):
    data = {0: block("cli-0"), 7: block("cli-7")}
    sid = aws("start-snapshot", "--volume-size", "1")["SnapshotId"]

    for index, payload in data.items():
        out = aws.put_block(tmp_path, sid, index, payload)
        assert out == {"Checksum": checksum(payload), "ChecksumAlgorithm": "SHA256"}

    assert aws.complete(sid, len(data)) == "pending"
    aws.wait_completed(sid, len(data))

    listing = aws("list-snapshot-blocks", "--snapshot-id", sid)
    assert [b["BlockIndex"] for b in listing["Blocks"]] == [0, 7]
    assert listing["VolumeSize"] == 1
    assert listing["BlockSize"] == BLOCK
    assert "NextToken" not in listing

    for entry in listing["Blocks"]:
        outfile = tmp_path / f"out-{entry['BlockIndex']}.bin"
        meta = aws("get-snapshot-block", "--snapshot-id", sid,
                   "--block-index", str(entry["BlockIndex"]),
                   "--block-token", entry["BlockToken"], str(outfile))
        payload = data[entry["BlockIndex"]]
        assert meta == {"DataLength": BLOCK, "Checksum": checksum(payload), "ChecksumAlgorithm": "SHA256"}
        assert outfile.read_bytes() == payload


def test_list_changed_blocks_between_parent_and_child(aws, lineage, tmp_path):
    parent, child, data = lineage

    # the child inherits index 0 from its parent
    listing = aws("list-snapshot-blocks", "--snapshot-id", child)
    assert [b["BlockIndex"] for b in listing["Blocks"]] == [0, 1, 5]

    changed = aws("list-changed-blocks", "--first-snapshot-id", parent,
                  "--second-snapshot-id", child)
    assert changed["VolumeSize"] == 1
    assert changed["BlockSize"] == BLOCK
    assert "NextToken" not in changed
    entries = {c["BlockIndex"]: c for c in changed["ChangedBlocks"]}
    assert sorted(entries) == [1, 5]
    assert set(entries[1]) == {"BlockIndex", "FirstBlockToken", "SecondBlockToken"}
    assert set(entries[5]) == {"BlockIndex", "SecondBlockToken"}  # absent in the parent

    # the tokens read the respective versions of block 1
    for snap, token, want in ((parent, entries[1]["FirstBlockToken"], data["p1"]),
                              (child, entries[1]["SecondBlockToken"], data["c1"])):
        outfile = tmp_path / f"{snap}-1.bin"
        aws("get-snapshot-block", "--snapshot-id", snap, "--block-index", "1",
            "--block-token", token, str(outfile))
        assert outfile.read_bytes() == want


def test_unknown_snapshot_is_resource_not_found(aws):
    proc = aws.run("list-snapshot-blocks", "--snapshot-id", "snap-0123456789abcdef0")
    assert proc.returncode != 0
    assert "(ResourceNotFoundException)" in proc.stderr, proc.stderr
    assert "ListSnapshotBlocks" in proc.stderr
    assert "snap-0123456789abcdef0" in proc.stderr  # the message names the snapshot


def test_max_results_above_model_max_is_validation_error(aws, lineage):
    # botocore (hence the CLI) does not enforce the model's max, so this reaches the server
    _, child, _ = lineage
    proc = aws.run("list-snapshot-blocks", "--snapshot-id", child, "--max-results", "10001")
    assert proc.returncode != 0
    assert "(ValidationException)" in proc.stderr, proc.stderr
    assert "maxResults" in proc.stderr
