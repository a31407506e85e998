"""Does blocksnap stay flat as snapshot chains get deeper and volumes get bigger?

``python benchmarks/scale.py [--quick] [--no-progress] [--workdir DIR]``

For chain depths 1, 10, 100 and 1,000, on a 1 GiB volume (2,048 block slots,
written densely) and on a 64 TiB volume (134,217,728 slots, written sparsely
across the whole index space, last index included), it measures:

* **seal** — the Sealer's wall time for a snapshot of 1,000 changed blocks
  (reading its write events, building the copy-on-write manifest, writing and
  fsyncing its pages, appending the outcome); shown with the part spent in
  ``ManifestStore.seal`` and the Sealer's CPU time;
* **manifest bytes** — what that seal wrote (the return value of
  ``ManifestStore.seal``, checked against the files under
  ``store/manifests/<snapshot-id>/``), and how many pages;
* **ListChangedBlocks** — the time to list the 1,000 changes between the
  snapshot and its parent over every page (``MaxResults=100``), starting with
  an empty manifest page cache, and how many pages that read;
* **GetSnapshotBlock** — the median latency of one read of a random written
  block (changed by the snapshot or inherited from the chain), *cold* (after
  ``ManifestStore.drop_cache()``; the page files are still in the OS cache) and
  *warm* (the same request again).

It ends with ``RESULT depth_flatness=… size_flatness=…``: for each curve
(seal time, manifest bytes, ListChangedBlocks time, cold GetSnapshotBlock
latency), the largest figure over the smallest, across the four depths of a
volume size and across the two sizes at a depth; each flatness is the worst
of its ratios, and the per-curve ratios follow (``depth_seal=…``). Seal CPU
time and warm GetSnapshotBlock are shown, not counted. Target: both ≤ 2.0.

Workload. Each volume gets a base snapshot that writes ``N`` blocks at ``N``
evenly spread positions (``round(r * (slots - 1) / (N - 1))`` for rank ``r``:
stride 1–2 on 1 GiB, ~65,536 on 64 TiB, index 0 and the last index
included). A chain of 999 incremental snapshots grows on top of it, each
overwriting a few of those positions, so the number of live blocks stays
``N`` at every depth: a deeper chain changes nothing but the depth. At depth
``d`` a *probe* snapshot is started with the depth-``d`` chain snapshot as its
parent (so it has ``d`` ancestors) and overwrites 1,000 of the ``N`` positions
(the same ranks on both sizes); the chain itself goes on from the depth-``d``
snapshot. All probes are sealed after the chains are built, interleaved over
the points, and their reads are measured in interleaved rounds, so that a
burst of load from other processes does not land on one point only.

``--quick`` (< 2 min): ``N`` = 1,024, one probe per point, the 1,000-deep chain
on the 64 TiB volume only (1 GiB at depth 1, for the size curve). Full mode:
``N`` = 2,048, both volumes at every depth, three probes per point. Disk: the
temporary directory (``--workdir``) peaks at about 4 GB in quick mode and
16 GB in full mode (every probe writes 500 MB of blocks), removed at the end.

Everything runs in-process through the use cases (``chalicelib.usecases``) and the projections of
the embedded backend (``chalicelib.wiring.embedded``) in a temporary
directory: real SHA-256, files, fsyncs and SQLite commits (``synchronous=FULL``),
no HTTP (the throughput benchmark covers that). Only to make 1,000-deep
chains affordable, the block *files* written while setting up (base and chain
snapshots, the probes' 1,000 blocks) skip their fsyncs and are flushed with
``os.sync()`` before a probe's seal; every page a measured seal writes is
fsync'd as in production.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tqdm import tqdm  # noqa: E402

from chalicelib.http.bindings import Calls
from chalicelib import wiring  # noqa: E402
from chalicelib.domain import keys  # noqa: E402
from chalicelib.domain.checksums import sha256_b64  # noqa: E402
from chalicelib.domain.events import CompletionRequested  # noqa: E402
from chalicelib.domain.snapshot import BLOCK_SIZE, BLOCKS_PER_GIB, COMPLETED  # noqa: E402

DEPTHS = (1, 10, 100, 1000)
SIZES = (("1 GiB", 1), ("64 TiB", 65536))  # (label, VolumeSize in GiB)
CHANGES = 1000
DIFF_PAGE = 100  # MaxResults of each ListChangedBlocks call (the AWS minimum)
WRITERS = 4  # threads writing a probe's blocks: fsync and SHA-256 release the GIL
PAYLOADS = 8
SEED = 20240611

# Curves that make up the flatness figures, and the ones shown but not counted.
FLATNESS_METRICS = ("seal_ms", "manifest_bytes", "diff_ms", "get_cold_ms")
EXTRA_METRICS = ("seal_cpu_ms", "get_warm_ms")


@dataclass(frozen=True)
class Mode:
    name: str
    base_blocks: int  # N, written by each volume's base snapshot (<= 2,048)
    chain_writes: int  # blocks written by each chain snapshot
    probes: int  # probe snapshots per (size, depth); the median seal is reported
    gets: int  # GetSnapshotBlock samples per probe, each cold then warm
    diffs: int  # ListChangedBlocks runs per probe (cold), one per round
    chained: tuple[str, ...]  # volumes measured at every depth; the others at depth 1 only


QUICK = Mode("quick", base_blocks=1024, chain_writes=1, probes=1, gets=30, diffs=3,
             chained=("64 TiB",))
FULL = Mode("full", base_blocks=2048, chain_writes=2, probes=3, gets=200, diffs=5,
            chained=("1 GiB", "64 TiB"))


@dataclass(frozen=True)
class Volume:
    label: str
    gib: int
    positions: list[int]  # the N written indexes, evenly spread, 0 and the last one included

    @classmethod
    def spread(cls, label: str, gib: int, blocks: int) -> "Volume":
        slots = gib * BLOCKS_PER_GIB
        positions = sorted({round(r * (slots - 1) / (blocks - 1)) for r in range(blocks)})
        assert len(positions) == blocks and positions[0] == 0 and positions[-1] == slots - 1
        return cls(label, gib, positions)


@dataclass
class ProbeRun:
    """One probe snapshot: its seal figures, then its read samples."""

    snapshot_id: str
    parent: str
    seal_ms: float
    seal_pages_ms: float
    seal_cpu_ms: float
    manifest_bytes: int
    manifest_pages: int
    diff_ms: list[float] = field(default_factory=list)
    diff_page_reads: list[int] = field(default_factory=list)
    get_cold_ms: list[float] = field(default_factory=list)
    get_cold_page_reads: list[int] = field(default_factory=list)
    get_warm_ms: list[float] = field(default_factory=list)


@dataclass
class Point:
    """One (volume size, chain depth): the median over its probes' figures."""

    volume: Volume
    depth: int
    runs: list[ProbeRun] = field(default_factory=list)

    def median(self, metric: str) -> float:
        values = [getattr(run, metric) for run in self.runs]
        if isinstance(values[0], list):  # read samples: pooled over the probes
            values = [v for samples in values for v in samples]
        return statistics.median(values)

    def spread(self, metric: str) -> str:
        values = [getattr(run, metric) for run in self.runs]
        return f"{min(values):.0f}-{max(values):.0f}" if len(values) > 1 else ""


class SealTimer:
    """Times the runtime's Sealer and records what ``ManifestStore.seal`` wrote, per snapshot.

    It wraps the two bound methods on their instances, so the projector's
    ordinary path (``Projector.apply`` → ``Sealer.handle`` → ``ManifestStore.seal``)
    is what gets measured.
    """

    def __init__(self, runtime: wiring.Runtime):
        assert runtime.projector is not None
        self.handle_s: dict[str, float] = {}
        self.handle_cpu_s: dict[str, float] = {}
        self.seal_s: dict[str, float] = {}
        self.seal_bytes: dict[str, int] = {}
        sealer, store = runtime.projector.sealer, runtime.manifests
        handle, seal = sealer.handle, store.seal

        def timed_handle(record) -> None:
            if not isinstance(record.event, CompletionRequested):
                return handle(record)
            start, cpu = time.perf_counter(), time.thread_time()
            handle(record)
            self.handle_s[record.event.snapshot_id] = time.perf_counter() - start
            self.handle_cpu_s[record.event.snapshot_id] = time.thread_time() - cpu

        def timed_seal(snapshot_id, parent_id, changes) -> int:
            start = time.perf_counter()
            written = seal(snapshot_id, parent_id, changes)
            self.seal_s[snapshot_id] = time.perf_counter() - start
            self.seal_bytes[snapshot_id] = written
            return written

        sealer.handle = timed_handle  # type: ignore[method-assign]
        store.seal = timed_seal  # type: ignore[method-assign]


class Bench:
    def __init__(self, data_dir: Path, mode: Mode, phases: dict[str, float], progress: bool):
        self.data_dir = data_dir
        self.mode = mode
        self.progress = progress
        self.rt = wiring.embedded(data_dir)
        assert self.rt.projector is not None
        self.projector = self.rt.projector
        self.svc = Calls(self.rt.usecases)
        self.timer = SealTimer(self.rt)
        prng = random.Random(SEED)
        self.payloads = [prng.randbytes(BLOCK_SIZE) for _ in range(PAYLOADS)]
        self.digests = [sha256_b64(p) for p in self.payloads]
        self.pool = ThreadPoolExecutor(WRITERS)
        self.phases = phases  # name -> seconds, for the report

    def close(self) -> None:
        self.pool.shutdown()

    def _bar(self, total: int, desc: str, unit: str, show: bool = True) -> tqdm:
        return tqdm(total=total, desc=desc, unit=unit, leave=False,
                    disable=not (self.progress and show))

    @contextmanager
    def block_fsync(self, on: bool) -> Iterator[None]:
        """Turn the file block store's fsyncs off for unmeasured writes, and back on.

        Only block files written while setting up (base and chain snapshots, the
        probes' 1,000 blocks) skip their fsyncs; every manifest page a measured
        seal writes is fsync'd as in production. SQLite commits stay FULL.
        """
        blocks = self.rt.blocks
        if not hasattr(blocks, "_durable"):  # another block store: leave it alone
            yield
            return
        before = blocks._durable
        blocks._durable = on
        try:
            yield
        finally:
            blocks._durable = before

    # ---- writing ---------------------------------------------------------

    def _put(self, snapshot_id: str, index: int, salt: int = 0) -> None:
        n = (index + salt) % PAYLOADS
        self.svc.put_snapshot_block({
            "SnapshotId": snapshot_id,
            "BlockIndex": index,
            "BlockData": self.payloads[n],
            "DataLength": BLOCK_SIZE,
            "Checksum": self.digests[n],
            "ChecksumAlgorithm": "SHA256",
        })

    def snapshot(
        self,
        volume_gib: int,
        parent: str | None,
        indexes: Sequence[int],
        *,
        salt: int = 0,
        desc: str = "",
        measured_seal: bool = False,
    ) -> str:
        """Start, write ``indexes``, complete and seal a snapshot; return its id."""
        req: dict = {"VolumeSize": volume_gib}
        if parent is not None:
            req["ParentSnapshotId"] = parent
        snapshot_id = self.svc.start_snapshot(req)["SnapshotId"]
        with self.block_fsync(False):
            if len(indexes) <= 4:
                for index in indexes:
                    self._put(snapshot_id, index, salt)
            else:
                with self._bar(len(indexes), desc, "blk") as bar:
                    for _ in self.pool.map(lambda i: self._put(snapshot_id, i, salt), indexes):
                        bar.update()
                self.projector.catch_up()  # project the write events now, not with the seal
        if measured_seal:
            # The blocks skipped their fsyncs; flush them now, or the seal's first
            # fsync would pay for writing them back (ext4 data=ordered commits
            # them with the journal).
            os.sync()
        self.svc.complete_snapshot({"SnapshotId": snapshot_id, "ChangedBlocksCount": len(indexes)})
        with self.block_fsync(measured_seal):
            self.projector.catch_up()
        status = self.rt.usecases.reads.describe(snapshot_id).status
        if status != COMPLETED:
            raise RuntimeError(f"{snapshot_id} did not seal: {status}")
        return snapshot_id

    def build_chain(self, volume: Volume, depths: Sequence[int]) -> dict[int, str]:
        """The base snapshot and its chain of incremental children: depth -> snapshot id."""
        rng = random.Random(f"{SEED}/{volume.label}/chain")
        head = self.snapshot(volume.gib, None, volume.positions,
                             desc=f"{volume.label} base ({len(volume.positions)} blocks)")
        heads = {1: head}
        with self._bar(max(depths), f"{volume.label} chain", "snap", max(depths) > 1) as bar:
            bar.update(1)
            for depth in range(2, max(depths) + 1):
                written = rng.sample(volume.positions, self.mode.chain_writes)
                head = self.snapshot(volume.gib, head, written, salt=depth)
                if depth in depths:
                    heads[depth] = head
                bar.update(1)
        return {d: heads[d] for d in depths}

    # ---- measuring -------------------------------------------------------

    def manifest_files(self, snapshot_id: str) -> tuple[int, int]:
        """(bytes, files) under store/manifests/<id>/."""
        directory = self.data_dir / "store" / keys.manifest_prefix(snapshot_id)
        sizes = [e.stat().st_size for e in os.scandir(directory) if not e.name.startswith(".")]
        return sum(sizes), len(sizes)

    def seal_probe(self, point: Point, parent: str, rng: random.Random, salt: int) -> ProbeRun:
        """A child of ``parent`` overwriting 1,000 base positions; its seal figures."""
        changed = sorted(rng.sample(point.volume.positions, CHANGES))
        desc = f"{point.volume.label} depth {point.depth} probe {len(point.runs) + 1}"
        sid = self.snapshot(point.volume.gib, parent, changed, salt=salt, desc=desc,
                            measured_seal=True)
        written = self.timer.seal_bytes[sid]
        on_disk, pages = self.manifest_files(sid)
        if on_disk != written:
            raise RuntimeError(f"ManifestStore.seal reported {written} bytes, {on_disk} on disk")
        run = ProbeRun(sid, parent, self.timer.handle_s[sid] * 1e3, self.timer.seal_s[sid] * 1e3,
                       self.timer.handle_cpu_s[sid] * 1e3, written, pages)
        point.runs.append(run)
        return run

    def list_changed(self, first: str, second: str) -> int:
        token = None
        count = 0
        while True:
            req = {"FirstSnapshotId": first, "SecondSnapshotId": second, "MaxResults": DIFF_PAGE}
            if token:
                req["NextToken"] = token
            page = self.svc.list_changed_blocks(req)
            count += len(page["ChangedBlocks"])
            token = page.get("NextToken")
            if not token:
                return count

    def measure_diff(self, run: ProbeRun) -> None:
        store = self.rt.manifests
        store.drop_cache()
        reads = store.page_reads
        start = time.perf_counter()
        count = self.list_changed(run.parent, run.snapshot_id)
        run.diff_ms.append((time.perf_counter() - start) * 1e3)
        run.diff_page_reads.append(store.page_reads - reads)
        if count != CHANGES:
            raise RuntimeError(f"ListChangedBlocks found {count} changes, expected {CHANGES}")

    def measure_get(self, run: ProbeRun, index: int) -> None:
        store = self.rt.manifests
        token = self.rt.usecases.reads.tokens.block_token(run.snapshot_id, index, time.time() + 3600)
        req = {"SnapshotId": run.snapshot_id, "BlockIndex": index, "BlockToken": token}
        store.drop_cache()
        reads = store.page_reads
        start = time.perf_counter()
        out = self.svc.get_snapshot_block(req)
        run.get_cold_ms.append((time.perf_counter() - start) * 1e3)
        run.get_cold_page_reads.append(store.page_reads - reads)
        start = time.perf_counter()
        again = self.svc.get_snapshot_block(req)
        run.get_warm_ms.append((time.perf_counter() - start) * 1e3)
        assert out["DataLength"] == again["DataLength"] == BLOCK_SIZE

    def run(self, volumes: Sequence[Volume], depths: Sequence[int]) -> list[Point]:
        mode = self.mode
        # 1. Setup, not measured: a base and a 1,000-deep chain per volume size.
        start = time.perf_counter()
        depths_of = {v.label: depths if v.label in mode.chained else depths[:1] for v in volumes}
        heads = {v.label: self.build_chain(v, depths_of[v.label]) for v in volumes}
        points = [Point(v, d) for v in volumes for d in depths_of[v.label]]
        self.phases["setup"] = time.perf_counter() - start

        # 2. Probes, interleaved across the points so that a burst of load on
        #    this shared machine does not land on one point only.
        rng = random.Random(f"{SEED}/probes")
        start = time.perf_counter()
        with self._bar(mode.probes * len(points), "probes (seal)", "snap") as bar:
            for rep in range(mode.probes):
                for point in points:
                    self.seal_probe(point, heads[point.volume.label][point.depth], rng, rep)
                    bar.update()
        self.phases["probes"] = time.perf_counter() - start

        # 3. Reads, interleaved the same way: one diff and a few gets per run per round.
        start = time.perf_counter()
        runs = [(point, run) for point in points for run in point.runs]
        per_round = max(1, mode.gets // mode.diffs)
        with self._bar(mode.diffs * len(runs), "reads (diff, get)", "round") as bar:
            for _ in range(mode.diffs):
                for point, run in runs:
                    self.measure_diff(run)
                    for index in rng.sample(point.volume.positions, per_round):
                        self.measure_get(run, index)
                    bar.update()
        self.phases["reads"] = time.perf_counter() - start
        return points


# ---- reporting -----------------------------------------------------------


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for n, row in enumerate([header, *rows]):
        print("  ".join(c.ljust(w) if i < left else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def ratio(values: Sequence[float]) -> float:
    low = min(values)
    return max(values) / low if low > 0 else float("inf")


def flatness(points: list[Point]) -> tuple[dict[str, float], dict[str, float]]:
    """Per metric: the worst largest/smallest ratio across depths, and across sizes."""
    by_depth, by_size = {}, {}
    labels = list(dict.fromkeys(p.volume.label for p in points))
    depths = list(dict.fromkeys(p.depth for p in points))
    depth_curves = [[p for p in points if p.volume.label == label] for label in labels]
    size_curves = [[p for p in points if p.depth == depth] for depth in depths]
    for metric in FLATNESS_METRICS + EXTRA_METRICS:
        by_depth[metric] = max(
            ratio([p.median(metric) for p in curve]) for curve in depth_curves if len(curve) > 1
        )
        by_size[metric] = max(
            ratio([p.median(metric) for p in curve]) for curve in size_curves if len(curve) > 1
        )
    return by_depth, by_size


def report(points: list[Point], mode: Mode, seconds: float, phases: dict[str, float]) -> None:
    header = ("volume", "depth", "seal ms", "(range)", "(pages ms)", "(CPU ms)",
              "manifest KiB", "(pages)", "ListChanged ms", "(page reads)",
              "Get cold ms", "(page reads)", "Get warm ms")
    rows = [
        (
            p.volume.label, str(p.depth),
            f"{p.median('seal_ms'):.1f}", p.spread("seal_ms"),
            f"{p.median('seal_pages_ms'):.1f}", f"{p.median('seal_cpu_ms'):.1f}",
            f"{p.median('manifest_bytes') / 1024:.1f}", f"{p.median('manifest_pages'):.0f}",
            f"{p.median('diff_ms'):.1f}", f"{p.median('diff_page_reads'):.0f}",
            f"{p.median('get_cold_ms'):.2f}", f"{p.median('get_cold_page_reads'):.0f}",
            f"{p.median('get_warm_ms'):.2f}",
        )
        for p in points
    ]
    print()
    spent = ", ".join(f"{name} {secs:.0f} s" for name, secs in phases.items())
    print(f"blocksnap scale ({mode.name}, {seconds:.0f} s: {spent}): "
          f"{mode.base_blocks} blocks per base, {mode.chain_writes} per chain snapshot, "
          f"{CHANGES} changes per probe; medians of {mode.probes} probe(s) per point, "
          f"{mode.diffs} cold ListChangedBlocks (MaxResults={DIFF_PAGE}) and "
          f"{mode.gets} GetSnapshotBlock per probe")
    print()
    print_table(header, rows, left=2)

    by_depth, by_size = flatness(points)
    print()
    print_table(
        ("curve", "depth max/min", "size max/min"),
        [(m if m in FLATNESS_METRICS else f"{m} (not counted)", f"{by_depth[m]:.2f}",
          f"{by_size[m]:.2f}") for m in FLATNESS_METRICS + EXTRA_METRICS],
    )
    depth_flatness = max(by_depth[m] for m in FLATNESS_METRICS)
    size_flatness = max(by_size[m] for m in FLATNESS_METRICS)
    short = {"seal_ms": "seal", "manifest_bytes": "bytes", "diff_ms": "diff",
             "get_cold_ms": "get", "seal_cpu_ms": "seal_cpu", "get_warm_ms": "get_warm"}
    extra = " ".join(
        f"{axis}_{short[m]}={table[m]:.2f}"
        for axis, table in (("depth", by_depth), ("size", by_size))
        for m in FLATNESS_METRICS + EXTRA_METRICS
    )
    print()
    print(f"RESULT depth_flatness={depth_flatness:.2f} size_flatness={size_flatness:.2f} {extra}",
          flush=True)


def remove_tree(root: Path) -> None:
    """``shutil.rmtree``, one snapshot directory per thread.

    The data dir holds tens of thousands of files, and an unlink waits for the
    disk (this machine's ext4 is mounted with ``discard``): threads overlap
    those waits.
    """
    subtrees = [
        entry.path
        for area in ("blocks", "manifests")
        if (root / "store" / area).is_dir()
        for entry in os.scandir(root / "store" / area)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda path: shutil.rmtree(path, ignore_errors=True), subtrees))
    shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer probes and samples (< 2 min)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to make the temporary data directory (default: the system's)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL

    started = time.perf_counter()
    volumes = [Volume.spread(label, gib, mode.base_blocks) for label, gib in SIZES]
    data_dir = Path(tempfile.mkdtemp(prefix="blocksnap-scale-", dir=args.workdir))
    phases: dict[str, float] = {}
    try:
        bench = Bench(data_dir, mode, phases, progress=not args.no_progress)
        try:
            points = bench.run(volumes, DEPTHS)
        finally:
            bench.close()
    finally:
        cleanup = time.perf_counter()
        remove_tree(data_dir)
        phases["clean-up"] = time.perf_counter() - cleanup
    report(points, mode, time.perf_counter() - started, phases)

if __name__ == "__main__":
    main()
