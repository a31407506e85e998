"""``blocksnap serve``: the API on granian, the projector in the background,
the encryption function in a process of its own.

granian is a production HTTP server written in Rust: its worker processes
parse requests and move bodies outside the GIL and call the WSGI app in a
pool of threads: against waitress it took 20–25% off the server CPU per
GetSnapshotBlock and a few percent per PutSnapshotBlock (README,
Performance). Each worker is a fresh process that builds its own runtime
(:mod:`.http_worker`). This process only supervises:
it follows the event log with the projector, starts the encryption worker,
and prints the ready line once a worker answers. SIGINT and SIGTERM let the
workers finish their in-flight requests for up to :data:`STOP_SECONDS`
(then granian kills them: every acknowledged write is already durable, and
a stalled client must not keep ``serve`` alive); then the projector drains
what was appended and stops, and the encryption worker is stopped last. The
encryption worker is a separate process so that no process that parses
client requests ever holds key material. The volume server (NBD) is a third,
and the garbage collector runs here on a timer.

The module is a little over the usual size because it is the one place that
starts, supervises and stops every process ``serve`` owns, in one order.

A worker that dies is replaced and the event logged: granian respawns an
HTTP worker (``respawn_failed_workers``), and :class:`Supervised` starts the
encryption worker again.
"""

from __future__ import annotations

import http.client
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

from .. import wiring
from ..adapters.durable_files import remove_temporary_files
from ..core.periodic import Periodic
from ..processes import mark_supervisor
from .credentials import announce_auth
from ..datadir import hold_data_dir
from .preflight import listen_address, url
from .volume_server import start_volume_server, stop_volume_server

log = logging.getLogger(__name__)

ENV_REQUEST_THREADS = "BLOCKSNAP_REQUEST_THREADS"

_READY_TIMEOUT = 60.0
_LOCK_WAIT = 5.0
# How long a stop waits for an HTTP worker's in-flight requests: a block is
# answered in milliseconds, so only a stalled client or a hung worker is cut.
STOP_SECONDS = 3
# Threads of granian's own pool per worker beyond the app's, for requests
# whose body is still arriving (:class:`~chalicelib.cli.http_worker.WholeBodiesFirst`):
# so many clients may stall at once before a normal one waits behind them.
BODY_WAITERS = 256
# Pause before starting a dead encryption worker again, so that one that
# cannot start does not spin.
_RESTART_DELAY = 1.0


def serve(
    host: str,
    port: int,
    data_dir: Path,
    threads: int,
    minute_seconds: float,
    backend: str = "embedded",
    processes: int = 1,
    auth: bool = True,
    nbd: tuple[str, int] = ("127.0.0.1", 10809),
) -> int:
    """Serve until SIGINT/SIGTERM.

    ``processes`` is the number of HTTP worker processes: one Python process
    holds the GIL for part of every request (checksums, SQLite, Chalice), so
    a second process lets a second core serve. ``threads`` is each worker's
    pool for the WSGI app, which blocks on fsyncs and commits. ``auth``
    False (``--no-auth``) serves unsigned requests from anyone.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A server killed a moment ago may leave its encryption worker, which shares
    # the lock, running for up to half a second more: a restart waits for it.
    with hold_data_dir(data_dir, "serve", wait_seconds=_LOCK_WAIT) as lock:
        ip, port = listen_address(host, port)  # fail early; checked again when granian binds
        announce_auth(data_dir, auth)
        mark_supervisor()
        if backend == "embedded" and (removed := remove_temporary_files(data_dir)):
            log.info("removed %d temporary files left by interrupted writes", removed)
        previous = signal.signal(signal.SIGTERM, _leave_on_sigterm)  # until granian installs its own
        try:
            worker = Supervised(lambda: start_worker(data_dir, backend, lock.fileno()))
            volumes = None
            try:
                volumes = start_volume_server(data_dir, backend, lock.fileno(), *nbd)
                _serve_api(host, port, data_dir, threads, minute_seconds, backend, processes)
            finally:
                stop_volume_server(volumes)
                worker.stop()
        finally:
            signal.signal(signal.SIGTERM, previous)
    print("blocksnap stopped", flush=True)
    return 0


def _leave_on_sigterm(signum: int, frame) -> None:
    """A SIGTERM during start-up leaves through the ``finally`` that stops the encryption worker."""
    raise SystemExit(128 + signum)


# How often the collector looks for work: space returns within a minute of a delete on the
# embedded store; listing a bucket costs requests, so the AWS backend looks less often.
# BLOCKSNAP_GC_SECONDS overrides both (tests run it often).
GC_SECONDS = {"embedded": 20.0, "aws": 600.0}


def gc_seconds(backend: str) -> float:
    value = os.environ.get("BLOCKSNAP_GC_SECONDS")
    return float(value) if value else GC_SECONDS[backend]


def _serve_api(
    host: str, port: int, data_dir: Path, threads: int, minute_seconds: float, backend: str, processes: int
) -> None:
    """The projector in this process and the HTTP workers, until granian is told to stop."""
    runtime, where = runtime_for(backend, data_dir, minute_seconds)
    # A DynamoDB stream is polled by GetRecords calls that cost money when idle.
    runtime.projector.start(poll_seconds=0.25 if backend == "aws" else 0.05)
    collector = Periodic(
        "blocksnap-gc", lambda: runtime.usecases.garbage.collect_if_needed(runtime.projector.projected),
        gc_seconds(backend),
    )
    collector.start()
    try:
        # Workers start as fresh interpreters: forking this process, whose projector
        # and relay threads may hold locks at that moment, could hang a worker.
        multiprocessing.set_start_method("spawn", force=True)
        os.environ.update({
            wiring.ENV_BACKEND: backend,
            wiring.ENV_DATA_DIR: str(data_dir),
            wiring.ENV_MINUTE_SECONDS: str(minute_seconds),
            ENV_REQUEST_THREADS: str(threads),
        })
        ip, port = listen_address(host, port)  # starting took seconds: the port may have been taken since
        server = Server(
            "chalicelib.cli.http_worker:create_app",
            address=ip,
            port=port,
            interface=Interfaces.WSGI,
            factory=True,
            workers=processes,
            blocking_threads=threads + BODY_WAITERS,
            respawn_failed_workers=True,
            workers_kill_timeout=STOP_SECONDS,
            log_level=LogLevels.warning,
        )
        logging.getLogger("_granian").addFilter(_without_thread_count_warning)
        line = f"blocksnap serving on {url(host, port)} ({where})"
        threading.Thread(target=_announce, args=(ip, port, line), name="blocksnap-ready", daemon=True).start()
        server.serve()
    finally:
        collector.stop()
        runtime.projector.stop()


def runtime_for(backend: str, data_dir: Path, minute_seconds: float):
    """The process's runtime for ``serve``'s arguments, installed; and where it keeps its data."""
    if backend == "aws":
        runtime, where = wiring.aws(minute_seconds=minute_seconds, worker_dir=data_dir), "AWS backend"
    else:
        runtime, where = wiring.embedded(data_dir, minute_seconds=minute_seconds), f"data dir {data_dir}"
    wiring.install(runtime)
    return runtime, where


def _without_thread_count_warning(record: logging.LogRecord) -> bool:
    """Drop granian's warning that more threads than 2 × cores + 1 is "quite high".

    It is meant for CPU-bound apps; blocksnap's request threads spend most of
    their time waiting on fsyncs, and on a 2-core machine the default of 8
    would print the warning at every start.
    """
    return not record.getMessage().startswith("Configuration allows spawning up to")


def _announce(host: str, port: int, line: str) -> None:
    """Print the ready line once a worker answers an HTTP request (any answer will do)."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, port, timeout=5)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):  # not bound yet, or a worker still starting
            time.sleep(0.05)
            continue
        finally:
            connection.close()
        print(line, flush=True)
        return
    print(f"blocksnap: no HTTP worker answered on {url(host, port)} within {_READY_TIMEOUT:.0f} s", flush=True)


def start_worker(data_dir: Path, backend: str, lock_fd: int, timeout: float = 60.0) -> subprocess.Popen:
    """Start the encryption worker and wait for its ready line (its output is passed through).

    The worker inherits the data dir's lock, so that the data dir stays held
    until it has stopped too, even when this process is killed.
    """
    worker = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.encryption.worker", "--data-dir", str(data_dir), "--backend", backend,
         "--exit-with-parent"],
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=[lock_fd],
        start_new_session=True,  # a terminal's Ctrl-C reaches serve, which stops the worker last, in order
    )
    assert worker.stdout is not None
    try:
        for line in worker.stdout:
            print(line, end="", flush=True)
            if "ready on" in line:
                break
        else:
            raise SystemExit(f"blocksnap: the encryption worker exited with {worker.wait(timeout)}")
        threading.Thread(target=_relay, args=(worker.stdout,), name="blocksnap-worker-output", daemon=True).start()
    except BaseException:  # a signal while starting, too: the worker must not outlive this process
        stop_worker(worker)
        raise
    return worker


class Supervised:
    """The encryption worker, started again (and the event logged) whenever it dies before :meth:`stop`."""

    def __init__(self, start: Callable[[], subprocess.Popen]):
        self._start = start
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.process = start()
        threading.Thread(target=self._watch, name="blocksnap-worker-supervisor", daemon=True).start()

    def _watch(self) -> None:
        while True:
            code = self.process.wait()
            if self._stopping.wait(_RESTART_DELAY):
                return
            log.warning("the encryption worker exited with status %s; starting it again", code)
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self.process = self._start()
                except SystemExit as exc:  # it exited before it was ready: try again after the pause
                    log.error("%s", exc)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            stop_worker(self.process)


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
