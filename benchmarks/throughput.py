"""Data-plane throughput: blocksnap against its two ceilings and against moto.

    python benchmarks/throughput.py [--quick | --mib N] [--backend {embedded,aws}] [--no-progress]

Four boto3 ``ebs`` clients, one per thread, write 2 GiB (256 MiB with
``--quick``, N MiB with ``--mib``) of 512 KiB blocks to one snapshot with
PutSnapshotBlock, complete it, wait until it is readable, list it and read
every block back with GetSnapshotBlock. Every body read is compared with
what was written. The payloads are a few distinct blocks hashed before the
clock starts, so client-side hashing is not what is measured.

The figures only mean something next to what the same machine can do at all,
so the run also measures, with the same blocks and the same four threads:

* the **storage limit**: what a PutSnapshotBlock cannot avoid doing, SHA-256 of
  the block (the service verifies the client's checksum) and a durable write
  through ``FileBlockStore.put`` (temp file, fsync, rename, directory fsync),
  called in-process with no HTTP; for reads, ``FileBlockStore.get`` and the
  SHA-256 that ``BlockIO`` checks on every read;
* the **client limit**: the same clients making the same calls against the
  null endpoint of ``_harness``, which answers at once and does no work. On
  this 2-core machine botocore's per-request CPU (signing, parsing, copying
  512 KiB through urllib3) caps the clients at a few hundred MiB/s whatever
  the server does.

``limit`` is the smaller of the two, separately for put and get, and the ratio
is blocksnap's rate over it. Each limit is measured without the other side
competing for the cores, whereas in the real run the clients and the server
share the two, so a ratio of 1 is out of reach; the targets (put 0.6, get 0.8)
allow for that. Finally moto's EBS endpoint, the emulator most people use, is
driven with the same workload: it keeps blocks in a dict and checks nothing,
so ``vs_moto_put`` shows what durability and verification cost, or gain,
against it.

Besides MiB/s the table gives CPU milliseconds per block, of the server
process and of this one (the clients, or the storage work): when other work
shares the machine, MiB/s can halve from one run to the next while CPU per
block moves far less, so that is the figure to compare across runs.

``--backend aws`` measures ``blocksnap serve --backend aws`` on a moto server
of its own (DynamoDB, DynamoDB Streams, S3, KMS), beside blocksnap embedded,
the client limit and moto's own EBS endpoint, all with the same workload; the
storage limit, which is the embedded file store's, is left out. Moto spends
milliseconds of CPU on every DynamoDB or S3 request, so the MiB/s of this run
say little about real AWS; what it is for is the count of AWS requests, which
is what the serverless deployment is billed for. The moto server counts every
request by service, operation and what it touches (``_harness.CountingApp``),
and the run reports them per phase: StartSnapshot, per PutSnapshotBlock,
CompleteSnapshot until ``completed`` (with the seal the projector does
meanwhile), ListSnapshotBlocks, per GetSnapshotBlock, and per second while
idle (before the workload), with the DynamoDB request units each phase would
be billed. Each request is also marked with whether the serverless
deployment pays for it per block (:func:`billing`); the per-block totals and
the ``RESULT`` line count only those.

The last line printed is ``RESULT key=value ...`` for scripts to parse.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Sequence

import _harness  # first: it puts the repository root on sys.path
from _harness import Endpoint, MiB, Timing, run_parallel

from chalicelib.adapters.file_blocks import FileBlockStore
from chalicelib.domain import keys
from chalicelib.domain.checksums import linear_aggregate, sha256_b64
from chalicelib.domain.snapshot import BLOCK_SIZE

THREADS = 4
FULL_BYTES = 2 * 1024 * MiB
QUICK_BYTES = 256 * MiB
SEAL_TIMEOUT = 600.0
# The null endpoint and the storage limit need a well-formed id but no snapshot.
PLACEHOLDER_SNAPSHOT_ID = "snap-00000000000000000"
PHASES = ("start", "put", "seal", "list", "get")
# --backend aws: how long the idle server is watched for its background requests.
IDLE_SECONDS = 5.0


@dataclass(frozen=True)
class Workload:
    blocks: int
    payloads: list[bytes]
    digests: list[str]

    def payload(self, index: int) -> bytes:
        return self.payloads[index % len(self.payloads)]

    def digest(self, index: int) -> str:
        return self.digests[index % len(self.digests)]

    @property
    def volume_size_gib(self) -> int:
        return math.ceil(self.blocks * BLOCK_SIZE / (1024 * MiB))

    @property
    def aggregate(self) -> str:
        return linear_aggregate(self.digest(i) for i in range(self.blocks))


@dataclass(frozen=True)
class Phases:
    """The put phase and the get phase of one measurement."""

    put: Timing
    get: Timing


@dataclass(frozen=True)
class EbsRun(Phases):
    """A full round trip through an EBS endpoint, with the wall seconds between the phases.

    ``counts`` holds, when the endpoint's AWS requests are counted (the
    ``aws`` backend), what each phase made moto answer: ``start``
    (StartSnapshot), ``put``, ``seal`` (CompleteSnapshot until ``completed``),
    ``list`` (ListSnapshotBlocks) and ``get``.
    """

    seal_s: float
    list_s: float
    counts: dict[str, _harness.AwsCounts] | None = None
    backing_cpu: dict[str, float] | None = None
    complete_calls: int = 1

    def backing_cpu_ms(self, phase: str) -> float | None:
        """CPU milliseconds per block of the backing process (moto, for the aws backend) in a phase."""
        if self.backing_cpu is None:
            return None
        return 1000 * self.backing_cpu[phase] / (self.put.blocks if phase == "put" else self.get.blocks)


# ---- the EBS calls --------------------------------------------------------


def put_blocks(
    clients: Sequence[Any], server: Endpoint, snapshot_id: str, w: Workload, *, desc: str, progress: bool
) -> Timing:
    def put(client: Any, index: int) -> None:
        response = client.put_snapshot_block(
            SnapshotId=snapshot_id,
            BlockIndex=index,
            BlockData=w.payload(index),
            DataLength=BLOCK_SIZE,
            Checksum=w.digest(index),
            ChecksumAlgorithm="SHA256",
        )
        if response["Checksum"] != w.digest(index):
            raise RuntimeError(
                f"block {index}: acknowledged with checksum {response['Checksum']}, sent {w.digest(index)}"
            )

    return run_parallel(clients, range(w.blocks), put, desc=desc, progress=progress, server=server)


def get_blocks(
    clients: Sequence[Any],
    server: Endpoint,
    snapshot_id: str,
    tokens: Sequence[tuple[int, str]],
    w: Workload,
    *,
    desc: str,
    progress: bool,
) -> Timing:
    def get(client: Any, item: tuple[int, str]) -> None:
        index, token = item
        response = client.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockToken=token)
        body = response["BlockData"].read()
        if body != w.payload(index):
            raise RuntimeError(
                f"block {index}: read {len(body)} bytes with SHA-256 {sha256_b64(body)} "
                f"(header {response['Checksum']}), wrote {w.digest(index)}"
            )

    return run_parallel(clients, tokens, get, desc=desc, progress=progress, server=server)


def wait_completed(client: Any, snapshot_id: str, w: Workload) -> int:
    """CompleteSnapshot, then again until it answers ``completed`` (it reports the status); returns the calls made."""
    deadline = time.monotonic() + SEAL_TIMEOUT
    calls = 0
    while True:
        calls += 1
        status = client.complete_snapshot(
            SnapshotId=snapshot_id,
            ChangedBlocksCount=w.blocks,
            Checksum=w.aggregate,
            ChecksumAlgorithm="SHA256",
            ChecksumAggregationMethod="LINEAR",
        )["Status"]
        if status == "completed":
            return calls
        if status == "error" or time.monotonic() > deadline:
            raise RuntimeError(f"{snapshot_id} is {status} after CompleteSnapshot")
        time.sleep(0.05)


def list_block_tokens(client: Any, snapshot_id: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    request: dict[str, Any] = {"SnapshotId": snapshot_id, "MaxResults": 10000}
    while True:
        page = client.list_snapshot_blocks(**request)
        # moto sends BlockIndex as a JSON string; botocore passes it through.
        tokens.extend((int(b["BlockIndex"]), b["BlockToken"]) for b in page["Blocks"])
        if not page.get("NextToken"):
            return tokens
        request["NextToken"] = page["NextToken"]


def ebs_round_trip(server: Endpoint, w: Workload, *, name: str, progress: bool) -> EbsRun:
    clients = _harness.ebs_clients(server.url, THREADS)
    marks = [(server.aws_counts(), server.backing_cpu_seconds())]

    def mark() -> None:
        marks.append((server.aws_counts(), server.backing_cpu_seconds()))

    snapshot_id = clients[0].start_snapshot(VolumeSize=w.volume_size_gib, Timeout=60)["SnapshotId"]
    mark()
    put = put_blocks(clients, server, snapshot_id, w, desc=f"{name} put", progress=progress)
    mark()
    start = time.perf_counter()
    complete_calls = wait_completed(clients[0], snapshot_id, w)
    seal_s = time.perf_counter() - start
    mark()
    start = time.perf_counter()
    tokens = list_block_tokens(clients[0], snapshot_id)
    list_s = time.perf_counter() - start
    mark()
    if sorted(i for i, _ in tokens) != list(range(w.blocks)):
        raise RuntimeError(f"{name}: ListSnapshotBlocks returned {len(tokens)} blocks, expected {w.blocks}")
    get = get_blocks(clients, server, snapshot_id, tokens, w, desc=f"{name} get", progress=progress)
    mark()
    counts = backing_cpu = None
    if marks[0][0] is not None:
        counts = {phase: after[0] - before[0] for phase, before, after in zip(PHASES, marks, marks[1:])}
    if marks[0][1] is not None:
        backing_cpu = {phase: after[1] - before[1] for phase, before, after in zip(PHASES, marks, marks[1:])}
    return EbsRun(put, get, seal_s, list_s, counts, backing_cpu, complete_calls)


# ---- the baselines --------------------------------------------------------


def storage_limit(root: Path, w: Workload, *, progress: bool) -> Phases:
    stores = [FileBlockStore(root)] * THREADS

    def key(index: int) -> str:
        return keys.block_key(PLACEHOLDER_SNAPSHOT_ID, index, w.digest(index))

    def put(store: FileBlockStore, index: int) -> None:
        data = w.payload(index)
        if sha256_b64(data) != w.digest(index):
            raise RuntimeError(f"block {index}: checksum mismatch")
        store.put(key(index), data)

    def get(store: FileBlockStore, index: int) -> None:
        if sha256_b64(store.get(key(index))) != w.digest(index):
            raise RuntimeError(f"block {index}: checksum mismatch on read")

    return Phases(
        run_parallel(stores, range(w.blocks), put, desc="storage put", progress=progress),
        run_parallel(stores, range(w.blocks), get, desc="storage get", progress=progress),
    )


def client_limit(w: Workload, *, progress: bool) -> Phases:
    with _harness.null_endpoint() as server:
        clients = _harness.ebs_clients(server.url, THREADS)
        snapshot_id = PLACEHOLDER_SNAPSHOT_ID
        put = put_blocks(clients, server, snapshot_id, w, desc="null put", progress=progress)
        tokens = [(i, "null-endpoint-token") for i in range(w.blocks)]
        get = get_blocks(clients, server, snapshot_id, tokens, w, desc="null get", progress=progress)
    return Phases(put, get)


# ---- the run --------------------------------------------------------------


def _limit(storage: Timing, client: Timing) -> tuple[float, str]:
    if storage.mib_per_s <= client.mib_per_s:
        return storage.mib_per_s, "storage"
    return client.mib_per_s, "client"


def _row(label: str, phases: Phases) -> list:
    return [
        label,
        phases.put.mib_per_s,
        phases.get.mib_per_s,
        phases.put.server_cpu_ms,
        phases.get.server_cpu_ms,
        phases.put.cpu_ms,
        phases.get.cpu_ms,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_BYTES // MiB} MiB instead of {FULL_BYTES // MiB} MiB"
    )
    parser.add_argument("--mib", type=int, metavar="N", help="write and read N MiB instead (two blocks per MiB)")
    parser.add_argument("--backend", choices=sorted(_harness.BACKENDS), default="embedded",
                        help="the blocksnap server to measure (default: embedded)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    progress = not args.no_progress

    payloads, digests = _harness.block_payloads()
    size = args.mib * MiB if args.mib else QUICK_BYTES if args.quick else FULL_BYTES
    w = Workload(size // BLOCK_SIZE, payloads, digests)
    load_before = os.getloadavg()[0]
    print(f"{w.blocks} blocks of {BLOCK_SIZE // 1024} KiB ({w.blocks * BLOCK_SIZE // MiB} MiB), "
          f"{THREADS} threads, backend {args.backend}, {os.cpu_count()} cores", flush=True)
    if args.backend == "aws":
        return main_aws(w, progress, load_before)

    with tempfile.TemporaryDirectory(prefix="blocksnap-throughput-") as tmp:
        workdir = Path(tmp)
        with _harness.BACKENDS[args.backend](workdir) as server:
            blocksnap = ebs_round_trip(server, w, name="blocksnap", progress=progress)
        storage = storage_limit(workdir / "storage", w, progress=progress)
    client = client_limit(w, progress=progress)
    with _harness.moto_server() as server:
        moto = ebs_round_trip(server, w, name="moto", progress=progress)

    put_limit, put_bound = _limit(storage.put, client.put)
    get_limit, get_bound = _limit(storage.get, client.get)
    print()
    _harness.print_table(
        ["", "put MiB/s", "get MiB/s", "server CPU ms/put", "ms/get", "here CPU ms/put", "ms/get"],
        [
            _row(f"blocksnap ({args.backend})", blocksnap),
            _row("storage limit (sha256 + FileBlockStore)", storage),
            _row("client limit (null endpoint)", client),
            [f"limit = min: put {put_bound}, get {get_bound}", put_limit, get_limit],
            _row(f"moto {version('moto')} (in memory)", moto),
        ],
    )
    put_ratio, get_ratio = blocksnap.put.mib_per_s / put_limit, blocksnap.get.mib_per_s / get_limit
    vs_moto_put = blocksnap.put.mib_per_s / moto.put.mib_per_s
    print()
    print(f"blocksnap / limit: put {put_ratio:.2f} (target 0.6), get {get_ratio:.2f} (target 0.8)")
    print(f"blocksnap / moto:  put {vs_moto_put:.2f} (target 1.8), "
          f"get {blocksnap.get.mib_per_s / moto.get.mib_per_s:.2f}")
    print(f"blocksnap CompleteSnapshot until completed {blocksnap.seal_s:.2f} s, "
          f"ListSnapshotBlocks {blocksnap.list_s:.2f} s; moto {moto.seal_s:.2f} s, {moto.list_s:.2f} s")
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          "other work on the machine lowers MiB/s much more than CPU ms per block")
    print(
        _harness.result_line(
            {
                "put_MiBps": blocksnap.put.mib_per_s,
                "get_MiBps": blocksnap.get.mib_per_s,
                "limit_MiBps": put_limit,
                "put_ratio": put_ratio,
                "get_ratio": get_ratio,
                "moto_put_MiBps": moto.put.mib_per_s,
                "vs_moto_put": vs_moto_put,
                "get_limit_MiBps": get_limit,
                "moto_get_MiBps": moto.get.mib_per_s,
            }
        )
    )
    return 0


# ---- --backend aws -----------------------------------------------------------


def billing(key: str) -> str:
    """Who pays for a counted request on the serverless deployment (see the README's table).

    ``billed``: a DynamoDB or S3 request the API or projector functions make
    there too. ``stream``: a DynamoDB Streams read (``blocksnap serve`` has two
    readers: its projector, and its encryption worker's copy follower); on AWS
    Lambda event source mappings read the stream, free of charge. ``serve``:
    the stream positions those two readers keep in the snapshots table, which
    the event source mappings keep themselves on AWS. ``sweep``: the
    timekeeper's scan of pending snapshots, every second under ``blocksnap
    serve``, every minute on AWS, whatever the traffic. ``setup``: anything else
    (KMS, bucket creation).
    """
    service, operation, resource = key.split(" ")[:3]
    if service == "streams":
        return "stream"
    if resource.startswith("snapshots/checkpoint"):
        return "serve"
    if resource == "snapshots/status-index" or operation == "BatchGetItem":
        return "sweep"
    if service in ("dynamodb", "s3"):
        return "billed"
    return "setup"


_WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def billed(counts: _harness.AwsCounts, service: str) -> tuple[float, float, float]:
    """Billed requests of one service in one phase, and for DynamoDB their write and read request units."""
    keys = [k for k in counts.requests if k.startswith(service + " ") and billing(k) == "billed" and " !" not in k]
    writes = [k for k in keys if k.split(" ")[1] in _WRITE_OPERATIONS]
    return (
        sum(counts.requests[k] for k in keys),
        sum(counts.units.get(k, 0.0) for k in writes),
        sum(counts.units.get(k, 0.0) for k in keys if k not in writes),
    )


def idle_counts(server: Endpoint, seconds: float) -> _harness.AwsCounts:
    """What the idle server asks of moto in ``seconds`` (the projector's poller and the sweep)."""
    before = server.aws_counts()
    time.sleep(seconds)
    after = server.aws_counts()
    assert before is not None and after is not None
    return after - before


def print_requests(run: EbsRun, idle: _harness.AwsCounts, blocks: int) -> None:
    assert run.counts is not None
    c = run.counts
    keys = sorted(set().union(*(phase.requests for phase in c.values()), idle.requests))
    print(f"StartSnapshot: 1 call; CompleteSnapshot: {run.complete_calls} calls, 50 ms apart, until it answered "
          f"completed ({run.seal_s:.2f} s); ListSnapshotBlocks: {math.ceil(blocks / 10000)} page(s) of up to 10,000")
    rows = []
    for key in keys:
        rows.append([
            key,
            billing(key),
            c["start"].requests[key],
            f"{c['put'].requests[key] / blocks:.4f}",
            c["seal"].requests[key],
            c["list"].requests[key],
            f"{c['get'].requests[key] / blocks:.4f}",
            f"{idle.requests[key] / IDLE_SECONDS:.1f}",
        ])
    _harness.print_table(
        ["AWS requests (service, operation, what)", "billing", "Start", "per PUT", "Complete+seal",
         "List", "per GET", "idle /s"],
        rows,
    )
    print()
    print("DynamoDB request units (on-demand: WRU for writes, RRU for reads), billed requests only:")
    units = []
    for key in keys:
        if billing(key) != "billed" or not key.startswith("dynamodb ") or " !" in key:
            continue
        units.append([
            key,
            f"{c['start'].units[key]:.1f}",
            f"{c['put'].units[key] / blocks:.4f}",
            f"{c['seal'].units[key]:.1f}",
            f"{c['list'].units[key]:.1f}",
            f"{c['get'].units[key] / blocks:.4f}",
        ])
    _harness.print_table(["", "Start", "per PUT", "Complete+seal", "List", "per GET"], units)


def main_aws(w: Workload, progress: bool, load_before: float) -> int:
    """blocksnap on the AWS backend (on moto) beside blocksnap embedded, the client limit and moto's EBS."""
    with tempfile.TemporaryDirectory(prefix="blocksnap-throughput-") as tmp:
        workdir = Path(tmp)
        with _harness.BACKENDS["aws"](workdir / "aws") as server:
            idle = idle_counts(server, IDLE_SECONDS)
            aws = ebs_round_trip(server, w, name="blocksnap aws", progress=progress)
        with _harness.BACKENDS["embedded"](workdir / "embedded") as server:
            embedded = ebs_round_trip(server, w, name="blocksnap embedded", progress=progress)
    client = client_limit(w, progress=progress)
    with _harness.moto_server() as server:
        moto = ebs_round_trip(server, w, name="moto", progress=progress)

    print()
    _harness.print_table(
        ["", "put MiB/s", "get MiB/s", "server CPU ms/put", "ms/get", "here CPU ms/put", "ms/get"],
        [
            _row("blocksnap (aws backend on moto)", aws),
            _row("blocksnap (embedded)", embedded),
            _row("client limit (null endpoint)", client),
            _row(f"moto {version('moto')} EBS endpoint (in memory)", moto),
        ],
    )
    vs_moto_put, vs_moto_get = aws.put.mib_per_s / moto.put.mib_per_s, aws.get.mib_per_s / moto.get.mib_per_s
    vs_embedded_put = aws.put.mib_per_s / embedded.put.mib_per_s
    vs_embedded_get = aws.get.mib_per_s / embedded.get.mib_per_s
    print()
    print(f"blocksnap aws / moto EBS:           put {vs_moto_put:.2f}, get {vs_moto_get:.2f}")
    print(f"blocksnap aws / blocksnap embedded: put {vs_embedded_put:.2f}, get {vs_embedded_get:.2f}")
    print(f"blocksnap aws / client limit:       put {aws.put.mib_per_s / client.put.mib_per_s:.2f}, "
          f"get {aws.get.mib_per_s / client.get.mib_per_s:.2f}")
    print(f"CompleteSnapshot until completed: aws {aws.seal_s:.2f} s, embedded {embedded.seal_s:.2f} s, "
          f"moto {moto.seal_s:.2f} s; ListSnapshotBlocks: aws {aws.list_s:.2f} s, "
          f"embedded {embedded.list_s:.2f} s, moto {moto.list_s:.2f} s")
    print(f"the aws backend's server CPU is blocksnap serve's (its encryption worker idles); moto behind it "
          f"used {aws.backing_cpu_ms('put'):.1f} ms CPU per put and {aws.backing_cpu_ms('get'):.1f} ms per get. "
          "Moto takes milliseconds per DynamoDB or S3 request, so these MiB/s say little about real AWS")
    print()
    print_requests(aws, idle, w.blocks)
    assert aws.counts is not None
    c = aws.counts
    ddb_put, wru_put, rru_put = billed(c["put"], "dynamodb")
    s3_put = billed(c["put"], "s3")[0]
    ddb_get, _, rru_get = billed(c["get"], "dynamodb")
    s3_get = billed(c["get"], "s3")[0]
    ddb_seal = billed(c["seal"], "dynamodb")[0]
    s3_seal = billed(c["seal"], "s3")[0]
    write = c["start"] + c["put"] + c["seal"]
    ddb_write, wru_write, rru_write = billed(write, "dynamodb")
    s3_write = billed(write, "s3")[0]
    read = c["list"] + c["get"]
    ddb_read, _, rru_read = billed(read, "dynamodb")
    s3_read = billed(read, "s3")[0]
    print()
    print(f"billed per block written (StartSnapshot to completed, {w.blocks} blocks): DynamoDB "
          f"{ddb_write / w.blocks:.3f} requests, {wru_write / w.blocks:.3f} WRU + {rru_write / w.blocks:.3f} RRU; "
          f"S3 {s3_write / w.blocks:.3f} requests")
    print(f"billed per block read (ListSnapshotBlocks and GetSnapshotBlock): DynamoDB "
          f"{ddb_read / w.blocks:.3f} requests, {rru_read / w.blocks:.3f} RRU; S3 {s3_read / w.blocks:.3f} requests")
    print("not billed per block on AWS: 'stream' (Lambda reads the stream free), 'serve' (the event source "
          "mapping keeps its own position), 'sweep' (once a minute); see benchmarks/README.md")
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(
        _harness.result_line(
            {
                "put_MiBps": aws.put.mib_per_s,
                "get_MiBps": aws.get.mib_per_s,
                "moto_put_MiBps": moto.put.mib_per_s,
                "moto_get_MiBps": moto.get.mib_per_s,
                "vs_moto_put": vs_moto_put,
                "vs_moto_get": vs_moto_get,
                "embedded_put_MiBps": embedded.put.mib_per_s,
                "embedded_get_MiBps": embedded.get.mib_per_s,
                "vs_embedded_put": vs_embedded_put,
                "vs_embedded_get": vs_embedded_get,
                "ddb_req_per_put": ddb_put / w.blocks,
                "s3_req_per_put": s3_put / w.blocks,
                "ddb_req_per_get": ddb_get / w.blocks,
                "s3_req_per_get": s3_get / w.blocks,
                "ddb_req_seal": ddb_seal,
                "s3_req_seal": s3_seal,
                "wru_per_put": wru_put / w.blocks,
                "rru_per_put": rru_put / w.blocks,
                "rru_per_get": rru_get / w.blocks,
                "wru_per_block_written": wru_write / w.blocks,
                "rru_per_block_written": rru_write / w.blocks,
                "rru_per_block_read": rru_read / w.blocks,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
