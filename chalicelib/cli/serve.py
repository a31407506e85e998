"""``blocksnap serve``: the API on waitress, the projector in the background,
the encryption function in a process of its own.

waitress is a production WSGI server (threaded, HTTP/1.1 keep-alive, request
size limits); the projector follows the event log in a daemon thread of the
same process. SIGINT and SIGTERM leave waitress's loop the way it expects
(SystemExit), which lets in-flight requests finish even while idle keep-alive
connections are open; then the projector drains what was appended and stops,
and the encryption worker is stopped last. The worker is a separate process
so that this one, which parses every client request, never holds key material.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import waitress

from .. import wiring
from ..http.wsgi import ChaliceWSGI
from .heap import reuse_freed_buffers

# A PutSnapshotBlock body is 512 KiB; waitress spools bodies above its
# inbuf_overflow to a temp file, which would cost a disk round trip per block,
# and reads 8 KiB per recv by default, which costs GIL time on its main thread.
_INBUF_OVERFLOW = 4 * 1024 * 1024
_RECV_BYTES = 1024 * 1024


def serve(
    host: str,
    port: int,
    data_dir: Path,
    threads: int,
    minute_seconds: float,
    backend: str = "embedded",
    processes: int = 1,
) -> int:
    """Serve until SIGINT/SIGTERM.

    With ``processes`` > 1, that many more server processes accept on the same
    listening socket: one Python process holds the GIL for several
    milliseconds per 512 KiB request (HTTP parsing, checksums, SQLite), so a
    second process lets a second core serve. Only this process runs the
    projector and starts the encryption worker; the others only answer
    requests, sharing the data dir (SQLite serialises their commits).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    reuse_freed_buffers()
    data_dir.mkdir(parents=True, exist_ok=True)
    worker = start_worker(data_dir, backend)
    runtime, where = _runtime(backend, data_dir, minute_seconds)
    # A DynamoDB stream is polled by GetRecords calls that cost money when idle.
    runtime.projector.start(poll_seconds=0.25 if backend == "aws" else 0.05)
    listener = socket.create_server((host, port))
    helpers = [
        subprocess.Popen(
            [sys.executable, "-m", "chalicelib.cli.serve", str(listener.fileno()), str(data_dir),
             str(threads), str(minute_seconds), backend],
            pass_fds=[listener.fileno()],
        )
        for _ in range(processes - 1)
    ]
    server = _server(listener, threads)
    _exit_on_signals()
    print(f"blocksnap serving on http://{host}:{server.effective_port} ({where})", flush=True)
    try:
        server.run()
    finally:
        server.close()
        for helper in helpers:
            helper.terminate()
        for helper in helpers:
            helper.wait(timeout=30)
        runtime.projector.stop()
        stop_worker(worker)
        print("blocksnap stopped", flush=True)
    return 0


def _runtime(backend: str, data_dir: Path, minute_seconds: float):
    if backend == "aws":
        runtime, where = wiring.aws(minute_seconds=minute_seconds, worker_dir=data_dir), "AWS backend"
    else:
        runtime, where = wiring.embedded(data_dir, minute_seconds=minute_seconds), f"data dir {data_dir}"
    wiring.install(runtime)
    return runtime, where


def _server(listener: socket.socket, threads: int):
    from app import app  # the Chalice app reads the installed runtime

    return waitress.create_server(
        ChaliceWSGI(app),
        sockets=[listener],
        threads=threads,
        inbuf_overflow=_INBUF_OVERFLOW,
        recv_bytes=_RECV_BYTES,
        channel_timeout=300,
        connection_limit=1000,
        ident="blocksnap",
    )


def _exit_on_signals() -> None:
    """Leave waitress's loop the way it expects (SystemExit): in-flight requests finish."""

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _serve_helper(fd: int, data_dir: Path, threads: int, minute_seconds: float, backend: str) -> None:
    """A further server process on the parent's listening socket (no projector, no worker)."""
    reuse_freed_buffers()
    _runtime(backend, data_dir, minute_seconds)
    server = _server(socket.socket(fileno=fd), threads)
    _exit_on_signals()
    try:
        server.run()
    finally:
        server.close()


def start_worker(data_dir: Path, backend: str, timeout: float = 60.0) -> subprocess.Popen:
    """Start the encryption worker and wait for its ready line (its output is passed through)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.encryption.worker", "--data-dir", str(data_dir), "--backend", backend,
         "--exit-with-parent"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    for line in worker.stdout:
        print(line, end="", flush=True)
        if "ready on" in line:
            break
    else:
        raise SystemExit(f"blocksnap: the encryption worker exited with {worker.wait(timeout)}")
    threading.Thread(target=_relay, args=(worker.stdout,), name="blocksnap-worker-output", daemon=True).start()
    return worker


def _relay(stream) -> None:
    """Keep passing the worker's output on, so that it never blocks on a full pipe."""
    for line in stream:
        print(line, end="", flush=True)


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=40)
    except subprocess.TimeoutExpired:
        worker.kill()


if __name__ == "__main__":
    _fd, _dir, _threads, _minute, _backend = sys.argv[1:6]
    _serve_helper(int(_fd), Path(_dir), int(_threads), float(_minute), _backend)
