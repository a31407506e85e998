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
import subprocess
import sys
import threading
from pathlib import Path

import waitress

from .. import wiring
from ..http.wsgi import ChaliceWSGI

# A PutSnapshotBlock body is 512 KiB; waitress spools bodies above its
# inbuf_overflow to a temp file, which would cost a disk round trip per block,
# and reads 8 KiB per recv by default, which costs GIL time on its main thread.
_INBUF_OVERFLOW = 4 * 1024 * 1024
_RECV_BYTES = 1024 * 1024


def serve(host: str, port: int, data_dir: Path, threads: int, minute_seconds: float, backend: str = "embedded") -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir.mkdir(parents=True, exist_ok=True)
    worker = start_worker(data_dir, backend)
    if backend == "aws":
        runtime = wiring.aws(minute_seconds=minute_seconds, worker_dir=data_dir)
        where = "AWS backend"
    else:
        runtime = wiring.embedded(data_dir, minute_seconds=minute_seconds)
        where = f"data dir {data_dir}"
    wiring.install(runtime)
    from app import app  # the Chalice app reads the installed runtime

    # A DynamoDB stream is polled by GetRecords calls that cost money when idle.
    runtime.projector.start(poll_seconds=0.25 if backend == "aws" else 0.05)
    server = waitress.create_server(
        ChaliceWSGI(app),
        host=host,
        port=port,
        threads=threads,
        inbuf_overflow=_INBUF_OVERFLOW,
        recv_bytes=_RECV_BYTES,
        channel_timeout=300,
        connection_limit=1000,
        ident="blocksnap",
    )

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    bound_port = server.effective_port
    print(f"blocksnap serving on http://{host}:{bound_port} ({where})", flush=True)
    try:
        server.run()
    finally:
        server.close()
        runtime.projector.stop()
        stop_worker(worker)
        print("blocksnap stopped", flush=True)
    return 0


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

