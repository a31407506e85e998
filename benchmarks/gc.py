"""Garbage collection against the size of the store: time and peak memory per run, and what it frees.

Each size runs in a fresh interpreter over the in-memory adapters (so the
figure is the collector's own work, not the disk's): one completed snapshot
whose manifest holds N blocks, a child that rewrote 1 % of them, and N/10
unreferenced old objects. Object bodies are a few bytes ("simulated": the
collector never reads block bytes, only keys, ages and sizes), so a million
blocks fit in memory and seal in seconds. The run checks that exactly the
garbage was freed and every live block is still there.

Baseline measured in the same run: the smallest size. ``growth`` is the
time per stored object at the largest size over that at the smallest (1.0 is
linear; below is better); ``peak_MiB`` is the collector's peak RSS growth;
``live_lost`` must be 0 and ``freed_fraction`` near 1 (a Bloom filter false
positive keeps an object for a later run, by design).
A real-store figure comes with it: two full uploads of one image through the
use cases on the embedded store, for the dedup ratio and the space a
collection returns after a failed snapshot.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import print_table, result_line  # noqa: E402

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 30_000, 100_000)


def one_size(n: int) -> dict:
    import base64
    import hashlib

    from chalicelib import wiring
    from chalicelib.core.manifest_store import ManifestStore
    from chalicelib.domain import keys
    from chalicelib.domain.events import SnapshotStarted
    from chalicelib.domain.manifest import Entry
    from chalicelib.domain.snapshot import COMPLETED, SnapshotRecord
    from chalicelib.usecases.garbage import GarbageCollector

    clock = [time.time()]
    runtime = wiring.memory(clock=lambda: clock[0])
    store = runtime.blocks

    def digest(i: int) -> str:
        return base64.b64encode(hashlib.sha256(i.to_bytes(8, "big")).digest()).decode()

    def completed(sid: str, parent: str | None, changes: dict[int, Entry]) -> None:
        runtime.manifests.seal(sid, parent, changes)
        started = SnapshotStarted(sid, 65536, "snap-00000000000000001", clock[0], 60, "000000000000", parent)
        runtime.records.put_snapshot(SnapshotRecord(started, COMPLETED, clock[0]))

    root, child = "snap-00000000000000001", "snap-00000000000000002"
    entries = {}
    for i in range(n):
        d = digest(i)
        key = keys.blob_key(d)
        store.put(key, b"x")
        entries[i * 7] = Entry(i * 7, root, d, key)
    completed(root, None, entries)
    rewrites = {}
    for i in range(0, n, 100):
        d = digest(n + i)
        store.put(keys.blob_key(d), b"x")
        rewrites[i * 7] = Entry(i * 7, child, d, keys.blob_key(d))
    completed(child, root, rewrites)
    garbage = n // 10
    for i in range(garbage):
        store.put(keys.blob_key(digest(10 * n + i)), b"x")
    stored = sum(1 for _ in store.list("blobs/"))
    clock[0] += 3600  # everything is older than the grace period
    # As wiring builds it: a manifest store of its own with a small page cache.
    gc = GarbageCollector(
        runtime.events, runtime.records, ManifestStore(store, cache_pages=64), store, lambda: clock[0], capacity=n
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    result = gc.collect()
    cpu = time.process_time() - cpu
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    left = sum(1 for _ in store.list("blobs/"))
    live = [e.key for e in runtime.manifests.open(root).entries()] + [e.key for e in rewrites.values()]
    missing = sum(1 for key in live if store.modified(key) is None)
    return {
        "missing": missing,
        "blocks": stored, "seconds": result.seconds, "cpu": round(cpu, 3), "freed": result.freed,
        "expected_freed": garbage, "left": left, "expected_left": stored - garbage,
        "pages": result.marked_pages, "filter_KiB": result.filter_bytes // 1024,
        "peak_MiB": round(max(0, rss_after - rss_before) / 1024, 1),
    }


def real_store(workdir: Path) -> dict:
    """Dedup ratio and reclaimed space on the embedded store, through the use cases."""
    import base64
    import hashlib
    import os

    from chalicelib import wiring
    from chalicelib.http.bindings import Calls

    os.environ["BLOCKSNAP_GC_GRACE_SECONDS"] = "0"
    runtime = wiring.embedded(workdir)
    calls = Calls(runtime.usecases)
    image = [os.urandom(524288) for _ in range(32)]

    def upload(count: int | None = None) -> str:
        sid = calls.start_snapshot({"VolumeSize": 1})["SnapshotId"]
        for i, data in enumerate(image):
            calls.put_snapshot_block({
                "SnapshotId": sid, "BlockIndex": i, "BlockData": data, "DataLength": len(data),
                "Checksum": base64.b64encode(hashlib.sha256(data).digest()).decode(), "ChecksumAlgorithm": "SHA256",
            })
        calls.complete_snapshot({"SnapshotId": sid, "ChangedBlocksCount": count or len(image)})
        runtime.projector.catch_up()
        return sid

    upload()
    upload()
    usage = runtime.usecases.garbage.collect(free=False)
    logical = 2 * len(image) * 524288
    # A third upload of new data that fails (wrong count): its bytes are reclaimable.
    image = [os.urandom(524288) for _ in range(32)]
    upload(count=1)
    time.sleep(0.01)
    before = runtime.usecases.garbage.collect(free=False)
    freed = runtime.usecases.garbage.collect()
    after = runtime.usecases.garbage.collect(free=False)
    return {
        "dedup_ratio": round(logical / usage.stored_bytes, 2),
        "reclaimed_MiB": round((before.stored_bytes - after.stored_bytes) / 2**20, 1),
        "freed_objects": freed.freed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} instead of {FULL_SIZES}")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--real", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one)))
        return
    if args.real:
        print(json.dumps(real_store(args.real)))
        return
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, __file__, "--real", tmp], capture_output=True, text=True, check=True)
        real = json.loads(out.stdout.strip().splitlines()[-1])
    print_table(
        ["blocks stored", "GC s", "CPU s", "freed", "pages", "filter KiB", "peak MiB"],
        [[r["blocks"], r["seconds"], r["cpu"], r["freed"], r["pages"], r["filter_KiB"], r["peak_MiB"]] for r in rows],
    )
    # Nothing live may go; a Bloom filter false positive may keep a little garbage (target 1e-4 of it).
    safe = all(r["missing"] == 0 and r["left"] == r["blocks"] - r["freed"] for r in rows)
    freed_fraction = min(r["freed"] / r["expected_freed"] for r in rows)
    small, large = rows[0], rows[-1]
    growth = (large["cpu"] / large["blocks"]) / (small["cpu"] / small["blocks"])
    print(result_line({
        f"gc_cpu_s_{small['blocks']}": small["cpu"],
        f"gc_cpu_s_{large['blocks']}": large["cpu"],
        "growth": round(growth, 3),
        "peak_MiB": large["peak_MiB"],
        "live_lost": 0 if safe else 1,
        "freed_fraction": round(freed_fraction, 4),
        "dedup_ratio": real["dedup_ratio"],
        "reclaimed_MiB": real["reclaimed_MiB"],
    }))


if __name__ == "__main__":
    main()
