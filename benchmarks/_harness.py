"""Shared pieces of the benchmarks: servers, block payloads, parallel runs, the RESULT line.

Every server a benchmark drives runs in a process of its own, as
``blocksnap serve`` does in production, so that the server and the clients
never share a GIL: an in-process server would slow the clients down and be
slowed down by them, and the comparison would measure the interpreter lock
rather than the server. Moto's ``ThreadedMotoServer`` and the null endpoint
are started by running this file as a script (``python _harness.py moto`` or
``null-endpoint``) and print their URL as their first line, like
``blocksnap serve`` does.

The null endpoint is the client-side baseline: it answers PutSnapshotBlock
and GetSnapshotBlock correctly (the same bytes, headers and checksums blocksnap
would send) but does no work, so the rate the clients reach against it is the
most any server could show them on this machine. It is a thread per
connection on blocking sockets with a hand-written HTTP/1.1 keep-alive
parser, enough for botocore and nothing else; its threads spend their time
in ``recv_into`` and ``sendall`` with the GIL released, so it serves several
hundred MiB/s on one core.

Blocksnap itself is started through :data:`BACKENDS`, a map from a backend
name to a context manager that takes a work directory and yields an
:class:`Endpoint`; adding a backend to every benchmark means adding one entry.

The machine these run on has two cores and is often shared, so besides wall
time :func:`run_parallel` records CPU seconds, of this process and of the
server process when it runs here: CPU per block moves far less than MiB/s
when something else competes for the cores.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Sequence, TypeVar

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
# tests/ is not an installed package; the benchmarks reuse its server launcher.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.domain.checksums import sha256_b64  # noqa: E402
from chalicelib.domain.snapshot import BLOCK_SIZE  # noqa: E402
from tests.servers import BlocksnapServer, ebs_client  # noqa: E402

MiB = 1024 * 1024
PAYLOAD_COUNT = 8
_PAYLOAD_SEED = 1
_URL = re.compile(r"(http://[0-9.]+:[0-9]+)")

Worker = TypeVar("Worker")


# ---- payloads -------------------------------------------------------------


def block_payloads(count: int = PAYLOAD_COUNT) -> tuple[list[bytes], list[str]]:
    """``count`` distinct 512 KiB blocks and their base64 SHA-256, the same in every process.

    Block ``i`` of a benchmark is ``payloads[i % count]``; the null endpoint
    builds the same list, so a client can check every body it reads.
    """
    rng = random.Random(_PAYLOAD_SEED)
    payloads = [rng.randbytes(BLOCK_SIZE) for _ in range(count)]
    return payloads, [sha256_b64(p) for p in payloads]


# ---- servers --------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens and, when it runs on this machine, its process."""

    url: str
    pid: int | None = None

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server process has used so far (from /proc)."""
        if self.pid is None:
            return None
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def embedded_blocksnap(workdir: Path) -> Iterator[Endpoint]:
    """``blocksnap serve`` on a free port with its data dir under ``workdir``."""
    server = BlocksnapServer(workdir / "blocksnap-data").start()
    try:
        assert server.url is not None and server.proc is not None
        yield Endpoint(server.url, server.proc.pid)
    finally:
        server.stop()


def aws_blocksnap(workdir: Path) -> ContextManager[Endpoint]:
    raise SystemExit("benchmarks: the 'aws' backend is not yet available; use --backend embedded")


BACKENDS: dict[str, Callable[[Path], ContextManager[Endpoint]]] = {
    "embedded": embedded_blocksnap,
    "aws": aws_blocksnap,
}


@contextmanager
def _child_server(kind: str, timeout: float = 30.0) -> Iterator[Endpoint]:
    """Run this file as ``python _harness.py <kind>`` and yield the URL it prints first."""
    proc = subprocess.Popen(
        [sys.executable, __file__, kind], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        match = _URL.search(found[0]) if found else None
        if match is None:
            raise RuntimeError(f"{kind} did not start (exit code {proc.poll()})")
        yield Endpoint(match.group(1), proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def moto_server() -> ContextManager[Endpoint]:
    """Moto's ``ThreadedMotoServer`` (werkzeug, one thread per request, blocks in memory)."""
    return _child_server("moto")


def null_endpoint() -> ContextManager[Endpoint]:
    """The do-nothing EBS endpoint of the module docstring."""
    return _child_server("null-endpoint")


def _run_moto() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"moto serving on http://{host}:{port}", flush=True)
    threading.Event().wait()


def _run_null_endpoint() -> None:
    payloads, digests = block_payloads()
    get_responses = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"x-amz-Data-Length: %d\r\nx-amz-Checksum: %s\r\nx-amz-Checksum-Algorithm: SHA256\r\n"
        b"Content-Length: %d\r\n\r\n" % (BLOCK_SIZE, digest.encode(), BLOCK_SIZE) + payload
        for payload, digest in zip(payloads, digests)
    ]
    put_response = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b"x-amz-Checksum: %s\r\nx-amz-Checksum-Algorithm: SHA256\r\nContent-Length: 2\r\n\r\n{}"
    )

    def connection(sock: socket.socket) -> None:
        body = memoryview(bytearray(BLOCK_SIZE))
        with sock, suppress(ConnectionError), sock.makefile("rb", buffering=256 * 1024) as rfile:
            while request_line := rfile.readline():
                headers = {}
                while (line := rfile.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                remaining = int(headers.get(b"content-length", 0))
                while remaining > 0:
                    received = rfile.readinto(body[: min(remaining, BLOCK_SIZE)])
                    if not received:
                        return
                    remaining -= received
                method, target = request_line.split(b" ")[:2]
                if method == b"GET":
                    index = int(target.split(b"?")[0].rsplit(b"/", 1)[1])
                    sock.sendall(get_responses[index % len(get_responses)])
                else:
                    sock.sendall(put_response % headers.get(b"x-amz-checksum", b""))

    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()[:2]
    print(f"null endpoint serving on http://{host}:{port}", flush=True)
    while True:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=connection, args=(sock,), daemon=True).start()


_CHILDREN = {"moto": _run_moto, "null-endpoint": _run_null_endpoint}


# ---- clients and parallel runs -----------------------------------------------


def ebs_clients(url: str, count: int) -> list[Any]:
    """``count`` boto3 ``ebs`` clients, built here because client creation is not thread-safe.

    Each client is used by one thread only, so one pooled connection is enough;
    retries are off (``tests.servers.ebs_client``) so a failure shows at once.
    """
    return [ebs_client(url, max_pool_connections=1) for _ in range(count)]


@dataclass(frozen=True)
class Timing:
    """One parallel run over ``blocks`` blocks: wall seconds and CPU seconds."""

    blocks: int
    seconds: float
    cpu: float
    server_cpu: float | None

    @property
    def mib_per_s(self) -> float:
        return self.blocks * BLOCK_SIZE / MiB / self.seconds

    @property
    def cpu_ms(self) -> float:
        """This process's CPU milliseconds per block."""
        return 1000 * self.cpu / self.blocks

    @property
    def server_cpu_ms(self) -> float | None:
        return None if self.server_cpu is None else 1000 * self.server_cpu / self.blocks


def run_parallel(
    workers: Sequence[Worker],
    items: Sequence[Any],
    work: Callable[[Worker, Any], None],
    *,
    desc: str,
    progress: bool,
    server: Endpoint | None = None,
) -> Timing:
    """``work(worker, item)`` for every item, one thread per worker, timed.

    Threads take items from one queue, so a slow request delays nothing
    else. Each item is one 512 KiB block, which is what the progress bar counts.
    The first exception stops the other threads and is raised here.
    """
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    failed = threading.Event()
    bar = tqdm(
        total=len(items) * BLOCK_SIZE, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
        disable=not progress, leave=False,
    )

    def loop(worker: Worker) -> None:
        while not failed.is_set():
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            try:
                work(worker, item)
            except BaseException:
                failed.set()
                raise
            bar.update(BLOCK_SIZE)

    server_start = server.cpu_seconds() if server else None
    with bar, ThreadPoolExecutor(len(workers)) as pool:
        cpu_start, start = time.process_time(), time.perf_counter()
        futures = [pool.submit(loop, worker) for worker in workers]
        for future in futures:
            future.result()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    server_end = server.cpu_seconds() if server else None
    server_cpu = None if server_start is None or server_end is None else server_end - server_start
    return Timing(len(items), seconds, cpu, server_cpu)


# ---- output ---------------------------------------------------------------


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned first column, right-aligned numbers; short rows are left blank at the end."""
    cells = [list(header)] + [[_cell(v) for v in row] + [""] * (len(header) - len(row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return "-" if value is None else str(value)


def result_line(metrics: dict[str, float]) -> str:
    """The one machine-readable line a benchmark ends with: ``RESULT key=value ...``."""
    return "RESULT " + " ".join(f"{key}={value:.3f}" for key, value in metrics.items())


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in _CHILDREN:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(_CHILDREN)}}}")
    _CHILDREN[sys.argv[1]]()
