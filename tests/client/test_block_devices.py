"""Block devices as the source of an upload and the target of a download (loop devices; skipped where unavailable)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import GIB, make_image, pattern, write_blocks

DATA = {i: pattern(f"device-{i}") for i in range(30, 2048, 101)}


@pytest.fixture
def loop_device():
    """Attaches files as loop devices; every device attached here is detached afterwards."""
    attached: list[str] = []

    def attach(path) -> str:
        if shutil.which("losetup") is None:
            pytest.skip("losetup is not installed")
        done = subprocess.run(["losetup", "-f", "--show", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"no loop device here: {done.stderr.strip()}")
        attached.append(done.stdout.strip())
        return attached[-1]

    yield attach
    for device in attached:
        subprocess.run(["losetup", "-d", device], check=False)


def test_upload_from_a_device_and_download_onto_one(cli, loop_device, tmp_path):
    image = make_image(tmp_path / "disk.img", DATA)
    source = loop_device(image)
    snapshot_id = cli.ok("upload", source).last_line

    garbage = tmp_path / "target.img"
    with open(garbage, "wb") as f:
        f.truncate(GIB)
    write_blocks(garbage, {i: pattern(f"old-{i}") for i in range(0, 2048, 7)})  # must not show through
    target = loop_device(garbage)
    refused = cli("download", snapshot_id, target)
    assert refused.code == 1 and "--force" in refused.stderr
    cli.ok("download", snapshot_id, target, "--force")
    assert _device_equals(target, image)


def _device_equals(device: str, image) -> bool:
    with open(device, "rb") as d, open(image, "rb") as i:
        while chunk := i.read(1024 * 1024):
            if d.read(len(chunk)) != chunk:
                return False
    return True
