"""Volumes through real NBD clients (``qemu-img``, ``qemu-io``, ``nbdinfo``, ``nbdcopy``) against ``blocksnap serve``.

The volume is made from a snapshot uploaded with boto3's ``ebs`` client,
used over ``nbd://`` by Debian's clients, and snapshotted through the
volume server's Python API; what the snapshot holds is read back with the
EBS operations. ``.ci/run`` installs the clients; without them every test
here is skipped with a message.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import time

import pytest

from chalicelib.domain.errors import InvalidVolumeSize, SnapshotNotFound, VolumeInUse, VolumeNotFound
from chalicelib.domain.volumes import VOLUME_ID
from chalicelib.volumes.control import VolumeClient
from tests.api.conftest import BLOCK, all_changes, put, start_server, wait_status
from tests.servers import BlocksnapServer

CLIENTS = ("qemu-img", "qemu-io", "nbdinfo", "nbdcopy")
pytestmark = pytest.mark.skipif(
    any(shutil.which(c) is None for c in CLIENTS),
    reason="NBD clients missing: install Debian's qemu-utils and libnbd-bin (.ci/run does)",
)

GIB = 1 << 30
SNAPSHOT_BLOCKS = 128  # 64 MiB of data in a 1 GiB snapshot
UNIT = 4096


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
    return result


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def served(data_dir):
    srv = BlocksnapServer(data_dir).start()
    yield srv
    srv.stop()


def volumes(srv: BlocksnapServer) -> VolumeClient:
    return VolumeClient(srv.data_dir / "volumes.sock")


def source_snapshot(srv: BlocksnapServer) -> tuple[str, dict[int, bytes]]:
    ebs = srv.client()
    rng = random.Random(15)
    blocks = {i: rng.randbytes(BLOCK) for i in range(SNAPSHOT_BLOCKS)}
    blocks[1500] = rng.randbytes(BLOCK)  # and one far out, past a stretch of never-written blocks
    snapshot_id = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    for index, data in blocks.items():
        put(ebs, snapshot_id, index, data)
    ebs.complete_snapshot(SnapshotId=snapshot_id, ChangedBlocksCount=len(blocks))
    assert wait_status(ebs, snapshot_id) == "completed"
    return snapshot_id, blocks


def expected_digest(blocks: dict[int, bytes], writes: dict[int, bytes], size: int = GIB) -> str:
    """SHA-256 of the volume: the snapshot's blocks (zeros where it has none) with ``writes`` laid over."""
    digest = hashlib.sha256()
    for index in range(size // BLOCK):
        block = bytearray(blocks.get(index, bytes(BLOCK)))
        for offset, data in writes.items():
            if offset // BLOCK == index:
                block[offset % BLOCK : offset % BLOCK + len(data)] = data
        digest.update(block)
    return digest.hexdigest()


def image_digest(srv: BlocksnapServer, volume_id: str, out) -> str:
    run("qemu-img", "convert", "-f", "raw", "-O", "raw", f"{srv.nbd_url}/{volume_id}", str(out))
    digest = hashlib.sha256()
    with open(out, "rb") as image:
        while chunk := image.read(1 << 22):
            digest.update(chunk)
    os.unlink(out)
    return digest.hexdigest()


def write_patterns(srv: BlocksnapServer, volume_id: str, offsets: list[int], first_pattern: int) -> dict[int, bytes]:
    """qemu-io writes a 4 KiB pattern at each offset, then flushes; returns offset -> bytes written."""
    commands, writes = [], {}
    for n, offset in enumerate(offsets):
        pattern = (first_pattern + n) % 255 + 1
        commands += ["-c", f"write -P {pattern} {offset} {UNIT}"]
        writes[offset] = bytes([pattern]) * UNIT
    run("qemu-io", "-f", "raw", *commands, "-c", "flush", f"{srv.nbd_url}/{volume_id}")
    return writes


def wait_snapshotted(client: VolumeClient, volume_id: str, snapshot_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while snapshot_id not in client.describe_volumes([volume_id])[0]["Snapshots"]:
        assert time.monotonic() < deadline, f"{snapshot_id} of {volume_id} was not recorded"
        time.sleep(0.1)


def stored(srv: BlocksnapServer, snapshot_id: str) -> dict[str, int]:
    """The objects a snapshot's own writes stored, by key, and their sizes (whole blocks are shared blobs)."""
    from chalicelib.domain.events import block_streams

    store, events = srv.store(), srv.events()
    keys = {r.event.key for stream in block_streams(snapshot_id) for r in events.query(stream)}
    return {key: len(store.get(key)) for key in keys}


def test_a_volume_reads_as_its_snapshot_keeps_flushed_writes_through_a_kill_and_snapshots_only_them(
    data_dir, tmp_path
):
    srv = BlocksnapServer(data_dir).start()
    try:
        snapshot_id, blocks = source_snapshot(srv)
        volume = volumes(srv).create_volume(snapshot_id)
        volume_id = volume["VolumeId"]
        assert (volume["State"], volume["Size"], volume["SubBlockSize"]) == ("available", 1, UNIT)
        assert image_digest(srv, volume_id, tmp_path / "read.img") == expected_digest(blocks, {})

        rng = random.Random(4096)
        offsets = sorted(rng.sample(range(GIB // UNIT), 40))
        offsets = [n * UNIT for n in offsets] + [3 * BLOCK + 5 * UNIT, 3 * BLOCK + 6 * UNIT]  # one run of two
        writes = write_patterns(srv, volume_id, offsets, first_pattern=1)
        srv.kill()  # SIGKILL: the volume server dies with serve, without a clean stop
        srv = BlocksnapServer(data_dir).start()
        assert image_digest(srv, volume_id, tmp_path / "after-kill.img") == expected_digest(blocks, writes)

        new_id = volumes(srv).create_snapshot(volume_id, description="after the writes")
        wait_snapshotted(volumes(srv), volume_id, new_id)
        ebs = srv.client()
        changed = all_changes(ebs, snapshot_id, new_id)
        assert sorted(c["BlockIndex"] for c in changed) == sorted({o // BLOCK for o in offsets})
        # only the sub-blocks written are stored: 4 KiB each, not 512 KiB blocks
        assert sum(stored(srv, new_id).values()) == UNIT * len(offsets)
        index = offsets[0] // BLOCK
        token = next(c["SecondBlockToken"] for c in changed if c["BlockIndex"] == index)
        got = ebs.get_snapshot_block(SnapshotId=new_id, BlockIndex=index, BlockToken=token)["BlockData"].read()
        want = bytearray(blocks.get(index, bytes(BLOCK)))
        for offset, data in writes.items():
            if offset // BLOCK == index:
                want[offset % BLOCK : offset % BLOCK + UNIT] = data
        assert got == bytes(want)
    finally:
        srv.stop()


@pytest.mark.parametrize("backend", ["embedded", "aws"])
def test_the_next_snapshot_is_incremental_to_the_previous_one_and_whole_blocks_go_whole(backend, request, data_dir):
    served = start_server(backend, request, data_dir)
    try:
        check_incremental_snapshots(served)
    finally:
        served.stop()


def check_incremental_snapshots(served: BlocksnapServer) -> None:
    snapshot_id, blocks = source_snapshot(served)
    client = volumes(served)
    volume_id = client.create_volume(snapshot_id, size_gib=2)["VolumeId"]
    first_writes = write_patterns(served, volume_id, [10 * BLOCK], first_pattern=7)
    first = client.create_snapshot(volume_id)
    wait_snapshotted(client, volume_id, first)

    url = f"{served.nbd_url}/{volume_id}"
    run("qemu-io", "-f", "raw", "-c", f"write -P 90 {20 * BLOCK} {BLOCK}", "-c", "flush", url)
    beyond = write_patterns(served, volume_id, [GIB + 7 * UNIT], first_pattern=9)  # past the snapshot's 1 GiB
    second = client.create_snapshot(volume_id)
    wait_snapshotted(client, volume_id, second)

    ebs = served.client()
    assert [c["BlockIndex"] for c in all_changes(ebs, first, second)] == [20, (GIB + 7 * UNIT) // BLOCK]
    objects = stored(served, second)
    assert sum(objects.values()) == BLOCK + UNIT
    sub = f"blocks/{second}/{(GIB + 7 * UNIT) // BLOCK:09d}-sub-{7 * UNIT:06d}-{UNIT}-"
    whole = [key for key in objects if key.startswith("blobs/")]
    assert len(whole) == 1 and objects[whole[0]] == BLOCK  # block 20 changed whole: one full (shared) write
    assert [key for key in objects if key.startswith(sub)] and len(objects) == 2
    assert ebs.list_snapshot_blocks(SnapshotId=second)["VolumeSize"] == 2
    reads = [f"read -P {data[0]} {offset} {UNIT}" for offset, data in {**first_writes, **beyond}.items()]
    reads += [f"read -P 90 {20 * BLOCK} {BLOCK}", f"read -P 0 {GIB + 8 * UNIT} {UNIT}"]  # the last: never written
    result = run("qemu-io", "-f", "raw", *[a for r in reads for a in ("-c", r)], url)
    assert "verification failed" not in result.stdout + result.stderr
    assert result.stdout.count("read ") == len(reads)


def test_exports_are_listed_and_a_volume_in_use_is_not_deleted(served):
    snapshot_id, _ = source_snapshot(served)
    client = volumes(served)
    volume_id = client.create_volume(snapshot_id)["VolumeId"]
    listing = run("nbdinfo", "--list", served.nbd_url).stdout
    assert f'export="{volume_id}"' in listing
    assert "block_size_preferred: 4096" in listing and "block_size_maximum: 33554432" in listing
    missing = run("qemu-io", "-f", "raw", "-c", "read 0 512", f"{served.nbd_url}/vol-00000000000000000", check=False)
    assert missing.returncode != 0

    attached = subprocess.Popen(["qemu-io", "-f", "raw", f"{served.nbd_url}/{volume_id}"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while client.describe_volumes([volume_id])[0]["Clients"] == 0:
            assert time.monotonic() < deadline and attached.poll() is None
            time.sleep(0.05)
        with pytest.raises(VolumeInUse):
            client.delete_volume(volume_id)
    finally:
        attached.communicate("quit\n", timeout=30)
    deadline = time.monotonic() + 30
    while client.describe_volumes([volume_id])[0]["Clients"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.delete_volume(volume_id)
    with pytest.raises(VolumeNotFound):
        client.describe_volumes([volume_id])
    assert volume_id not in run("nbdinfo", "--list", served.nbd_url).stdout
    assert not (served.data_dir / "volumes" / volume_id).exists()


def test_creation_refuses_a_smaller_size_and_an_unknown_snapshot(served):
    snapshot_id, _ = source_snapshot(served)
    client = volumes(served)
    with pytest.raises(InvalidVolumeSize):
        client.create_volume(snapshot_id, size_gib=0)
    for unknown in ("snap-00000000000000000", "snap-../../store"):
        with pytest.raises(SnapshotNotFound):
            client.create_volume(unknown)
    for unknown in ("vol-00000000000000000", "vol-../x"):
        with pytest.raises(VolumeNotFound):
            client.describe_volumes([unknown])
        with pytest.raises(VolumeNotFound):
            client.create_snapshot(unknown)


def test_the_command_line_of_restore_in_seconds(served):
    snapshot_id, _ = source_snapshot(served)
    control = [sys.executable, "-m", "chalicelib.volumes.control", "--data-dir", str(served.data_dir)]
    volume_id = run(*control, "create", snapshot_id).stdout.strip()
    assert VOLUME_ID.fullmatch(volume_id)
    assert "virtual size: 1 GiB" in run("qemu-img", "info", f"{served.nbd_url}/{volume_id}").stdout
    refused = run(*control, "create", "snap-00000000000000000", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "blocksnap volumes: The snapshot 'snap-00000000000000000' does not exist.\n"
    )


def test_nbdcopy_writes_and_reads_a_whole_image_over_several_connections(served, tmp_path):
    snapshot_id, _ = source_snapshot(served)
    volume_id = volumes(served).create_volume(snapshot_id)["VolumeId"]
    url = f"{served.nbd_url}/{volume_id}"
    image = tmp_path / "in.img"
    image.write_bytes(random.Random(3).randbytes(32 << 20) * 8)  # 256 MiB
    run("nbdcopy", "--connections=4", str(image), url)
    run("qemu-img", "dd", "-f", "raw", "-O", "raw", f"if={url}", f"of={tmp_path / 'out.img'}", "bs=1M", "count=256")
    assert run("cmp", str(image), str(tmp_path / "out.img"), check=False).returncode == 0
