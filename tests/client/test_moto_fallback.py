"""The same commands against moto's EBS and EC2, where none of blocksnap's extensions exist.

Moto ignores ParentSnapshotId (an incremental snapshot there holds only its
own blocks), so chains are tested against blocksnap; here the point is that
every path works through plain EBS and EC2 calls, with the digest cache and
CompleteSnapshot's status standing in for the extensions.
"""

from __future__ import annotations

import pytest

from .conftest import Cli, make_image, pattern, same_volume

DATA = {i: pattern(f"moto-{i}") for i in range(20, 2048, 97)}


@pytest.fixture
def moto_cli(moto_server, tmp_path) -> Cli:
    return Cli(tmp_path / "cache", moto_server.endpoint_url)


def test_upload_download_round_trip_through_the_fallbacks(moto_cli, tmp_path):
    image = make_image(tmp_path / "disk.img", DATA)
    result = moto_cli.ok("upload", image, "--json").json()
    assert result["ParentDigests"] == "none" and result["BlocksSent"] >= len(DATA)
    out = tmp_path / "out.img"
    moto_cli.ok("download", result["SnapshotId"], out)
    assert same_volume(image, out)
    assert moto_cli.ok("verify", result["SnapshotId"], "--json").json()["BlocksVerified"] == result["BlocksSent"]


def test_ls_show_copy_rm_through_ec2(moto_cli, tmp_path):
    image = make_image(tmp_path / "tagged.img", {5: pattern("tagged")})
    snapshot_id = moto_cli.ok("upload", image, "--tag", "backup=nightly", "--description", "nightly").last_line

    listed = moto_cli.ok("ls", "--tag", "backup=nightly", "--json").json()["Snapshots"]
    assert [s["SnapshotId"] for s in listed] == [snapshot_id]
    shown = moto_cli.ok("show", snapshot_id, "--json").json()
    assert shown["SnapshotId"] == snapshot_id and shown["Description"] == "nightly" and shown["VolumeSize"] == 1

    copy = moto_cli.ok("copy", snapshot_id, "--encrypted", "--description", "offsite").last_line
    assert copy != snapshot_id and copy.startswith("snap-")
    assert moto_cli.ok("show", copy, "--json").json()["Description"] == "offsite"  # moto ignores Encrypted

    assert moto_cli.ok("rm", snapshot_id, copy).stdout.split() == [snapshot_id, copy]
    gone = moto_cli("show", snapshot_id)
    assert gone.code == 1 and "InvalidSnapshot.NotFound" in gone.stderr and "Traceback" not in gone.stderr
