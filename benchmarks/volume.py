"""A volume through blocksnap's NBD export against nbdkit's ``file`` plugin on the same data.

``python benchmarks/volume.py [--quick]``

A snapshot of ``--data-mib`` of data (in a 1 GiB volume) is uploaded to
``blocksnap serve`` and a volume made from it; the same bytes go into a raw
file that ``nbdkit file`` serves. fio's ``nbd`` engine (libnbd, in C) then
runs, against each export over loopback TCP: a sequential read of the data
(on the volume a first read: every block comes from the snapshot, verified),
a sequential write of it in 1 MiB requests, and 4 KiB random reads and
writes for a fixed time at queue depth 16. nbdkit's C server over the same
transport is the limit; the ratios are blocksnap's share of it (issue 15's
targets: 0.5 sequentially, 0.3 for 4 KiB random I/O). Needs ``fio`` and
``nbdkit`` (Debian packages); exits with a message without them.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _harness import MiB, print_table, result_line  # noqa: E402

from chalicelib.volumes.control import VolumeClient  # noqa: E402
from tests.api.conftest import BLOCK, put, wait_status  # noqa: E402
from tests.servers import BlocksnapServer  # noqa: E402

GIB = 1 << 30
TESTS = [  # name, fio rw, block size, MiB/s or IOPS
    ("seq read", "read", "1M", "MiB/s"),
    ("seq write", "write", "1M", "MiB/s"),
    ("4k rand read", "randread", "4k", "IOPS"),
    ("4k rand write", "randwrite", "4k", "IOPS"),
]


def fio(uri: str, rw: str, bs: str, size_mib: int, seconds: float) -> tuple[float, float]:
    """(MiB/s, IOPS) of one fio job over NBD."""
    timed = ["--time_based", f"--runtime={seconds}"] if rw.startswith("rand") else []
    out = subprocess.run(
        ["fio", "--name=bench", "--ioengine=nbd", f"--uri={uri}", f"--rw={rw}", f"--bs={bs}",
         f"--size={size_mib}M", "--iodepth=16", "--output-format=json", *timed],
        capture_output=True, text=True, check=True,
    ).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return side["bw_bytes"] / MiB, side["iops"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tests(uri: str, size_mib: int, seconds: float) -> dict[str, float]:
    results = {}
    for name, rw, bs, unit in TESTS:
        mib_s, iops = fio(uri, rw, bs, size_mib, seconds)
        results[name] = mib_s if unit == "MiB/s" else iops
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64 MiB and 3 s per random test")
    parser.add_argument("--data-mib", type=int, default=256)
    args = parser.parse_args()
    missing = [tool for tool in ("fio", "nbdkit") if shutil.which(tool) is None]
    if missing:
        print(f"benchmarks/volume.py needs {', '.join(missing)} (apt-get install fio nbdkit)", file=sys.stderr)
        return 1
    size_mib, seconds = (64, 3.0) if args.quick else (args.data_mib, 10.0)
    work = Path(tempfile.mkdtemp(prefix="blocksnap-volume-bench-"))
    rng = random.Random(15)
    blocks = [rng.randbytes(BLOCK) for _ in range(size_mib * MiB // BLOCK)]
    raw = work / "baseline.img"
    with open(raw, "wb") as f:
        f.write(b"".join(blocks))
        f.truncate(GIB)
    server = BlocksnapServer(work / "data").start()
    port = free_port()
    nbdkit = subprocess.Popen(["nbdkit", "--exit-with-parent", "-f", "-i", "127.0.0.1", "-p", str(port),
                               "file", str(raw)])
    try:
        ebs = server.client()
        snapshot_id = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
        for index, data in enumerate(blocks):
            put(ebs, snapshot_id, index, data)
        ebs.complete_snapshot(SnapshotId=snapshot_id, ChangedBlocksCount=len(blocks))
        assert wait_status(ebs, snapshot_id, timeout=120) == "completed"
        volume_id = VolumeClient(server.data_dir / "volumes.sock").create_volume(snapshot_id)["VolumeId"]
        time.sleep(0.5)  # nbdkit listening
        ours = run_tests(f"{server.nbd_url}/{volume_id}", size_mib, seconds)
        theirs = run_tests(f"nbd://127.0.0.1:{port}/", size_mib, seconds)
    finally:
        nbdkit.terminate()
        nbdkit.wait()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    rows = [[name, unit, f"{ours[name]:,.1f}", f"{theirs[name]:,.1f}", f"{ours[name] / theirs[name]:.2f}"]
            for name, _, _, unit in TESTS]
    print_table(["test", "unit", "blocksnap NBD", "nbdkit file", "ratio"], rows)
    metrics = {}
    for name, _, _, unit in TESTS:
        key = name.replace(" ", "_")
        metrics[f"{key}_{'mib_s' if unit == 'MiB/s' else 'iops'}"] = ours[name]
        metrics[f"{key}_ratio"] = ours[name] / theirs[name]
    print(result_line(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
