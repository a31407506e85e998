"""API fixtures: the real boto3 ``ebs`` client against a running ``blocksnap serve``."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid

import pytest

from chalicelib.cli.aws_setup import ensure_tables_and_bucket
from chalicelib.wiring import AwsNames
from tests.servers import BlocksnapServer

BLOCK = 524288
BACKENDS = ["embedded", "aws"]


def start_server(backend: str, request, data_dir, env: dict | None = None) -> BlocksnapServer:
    """A started server on ``backend``; the AWS backend gets fresh tables and bucket on the moto server."""
    if backend == "embedded":
        return BlocksnapServer(data_dir, env=env).start()
    moto = request.getfixturevalue("moto_server")
    suffix = uuid.uuid4().hex[:12]
    names = AwsNames(f"blocksnap-events-{suffix}", f"blocksnap-snapshots-{suffix}", f"blocksnap-blocks-{suffix}")
    ensure_tables_and_bucket(names, region=moto.region, endpoint_url=moto.endpoint_url)
    key_arn = moto.client("kms").create_key(Description="blocksnap default")["KeyMetadata"]["Arn"]
    env = {**(env or {}), "BLOCKSNAP_DEFAULT_KMS_KEY_ARN": key_arn}
    return BlocksnapServer(data_dir, env=env, moto=moto, names=names).start()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory):
    """One server per backend: every API test runs against the embedded and the AWS backend."""
    srv = start_server(request.param, request, tmp_path_factory.mktemp("blocksnap-data"))
    yield srv
    srv.stop()


@pytest.fixture
def ebs(server):
    return server.client()


def block(tag: str) -> bytes:
    return (f"block-{tag}\n".encode() * (BLOCK // 8))[:BLOCK]


def checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def put(ebs, snapshot_id: str, index: int, data: bytes, **extra):
    return ebs.put_snapshot_block(
        SnapshotId=snapshot_id,
        BlockIndex=index,
        BlockData=data,
        DataLength=len(data),
        Checksum=checksum(data),
        ChecksumAlgorithm="SHA256",
        **extra,
    )


def wait_status(ebs, snapshot_id: str, want: str = "completed", timeout: float = 20.0) -> str:
    """Poll CompleteSnapshot (as AWS clients may) until the snapshot leaves 'pending'."""
    deadline = time.monotonic() + timeout
    status = "pending"
    while time.monotonic() < deadline:
        status = ebs.complete_snapshot(SnapshotId=snapshot_id, ChangedBlocksCount=0)["Status"]
        if status != "pending":
            break
        time.sleep(0.05)
    assert status == want
    return status


def snapshot(ebs, blocks: dict[int, bytes], volume_size: int = 1, parent: str | None = None, **kw) -> str:
    """Start, write and complete a snapshot; wait until it is readable."""
    args = dict(VolumeSize=volume_size, **kw)
    if parent:
        args["ParentSnapshotId"] = parent
    sid = ebs.start_snapshot(**args)["SnapshotId"]
    for index, data in blocks.items():
        put(ebs, sid, index, data)
    assert ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=len(blocks))["Status"] == "pending"
    wait_status(ebs, sid)
    return sid


def paginate(call, items: str, **args) -> list[dict]:
    """Every item of a list operation, following NextToken."""
    out, token = [], None
    while True:
        page = call(**args, **({"NextToken": token} if token else {}))
        out.extend(page[items])
        token = page.get("NextToken")
        if not token:
            return out


def all_blocks(ebs, snapshot_id: str, **kw) -> list[dict]:
    return paginate(ebs.list_snapshot_blocks, "Blocks", SnapshotId=snapshot_id, **kw)


def read_all(ebs, snapshot_id: str) -> dict[int, bytes]:
    """Every block of a snapshot, read back through GetSnapshotBlock."""
    return {
        b["BlockIndex"]: ebs.get_snapshot_block(
            SnapshotId=snapshot_id, BlockIndex=b["BlockIndex"], BlockToken=b["BlockToken"]
        )["BlockData"].read()
        for b in all_blocks(ebs, snapshot_id)
    }


def all_changes(ebs, first: str, second: str, **kw) -> list[dict]:
    return paginate(ebs.list_changed_blocks, "ChangedBlocks", FirstSnapshotId=first, SecondSnapshotId=second, **kw)
