"""The embedded encryption function: ``python -m chalicelib.encryption.worker --data-dir D``.

A process of its own, because the issue's rule is that the API's process never
holds a plaintext data key: the API server reaches this one only through a
Unix socket (:class:`~chalicelib.adapters.worker_encryption.WorkerEncryptionFunction`),
as the API Lambda reaches the encryption Lambda only by invoking it.

* **Keys.** :class:`LocalKeyService` keeps the master key in ``D/kms/master.key``
  (mode 0600, directory 0700); this is the only process that opens it.
* **Socket.** ``D/encryption.sock`` by default, mode 0666: it grants the three
  operations (whose inputs :class:`EncryptionService` checks), never key
  material, which no operation returns. The wire is
  :mod:`chalicelib.adapters.encryption_wire`'s framing; each connection is a
  thread and carries any number of requests, so the API keeps one per thread.
* **Copies.** A thread follows the event log for ``CopyRequested`` and runs
  the :class:`Copier`, from its own checkpoint (``copier`` in the read
  models). It moves after each batch; losing it only replays batches, which
  the copier makes harmless. The projector is not run here: ``blocksnap serve`` runs it,
  and it seals the copy once the copier has completed it.

SIGTERM and SIGINT stop the server, remove the socket and give a running
copy :data:`STOP_SECONDS` to finish; a copy cut short resumes on the next start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path

from .. import wiring
from ..adapters.encryption_wire import recv_frame, send_frame
from ..cli.lifeline import supervisor, supervisor_alive
from ..cli.preflight import keep_private, one_line_errors
from ..ports import KeyService
from ..projections.runner import BatchSource, LogSource
from .copier import Copier
from .function import EncryptionService
from .local_kms import LocalKeyService

log = logging.getLogger(__name__)

SOCKET_NAME = wiring.WORKER_SOCKET
KMS_DIR = "kms"
COPIER = "copier"
FOLLOW_POLL_SECONDS = 0.2
FOLLOW_RETRY_SECONDS = 5.0
STOP_SECONDS = 30.0


class _Handler(socketserver.BaseRequestHandler):
    """One client connection: request frames in, answer frames out, until it closes."""

    server: _Server

    def handle(self) -> None:
        try:
            while (frame := recv_frame(self.request)) is not None:
                send_frame(self.request, *self.server.service.answer(*frame))
        except OSError as exc:  # a client gone mid-frame, or a frame this protocol refuses
            log.warning("dropping an encryption connection: %s", exc)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False  # idle persistent connections must not hold up a shutdown

    def __init__(self, path: Path, service: EncryptionService):
        self.service = service
        super().__init__(str(path), _Handler)


def bind(path: Path, service: EncryptionService, wait: float = 0.0) -> _Server:
    """Listen on ``path``, replacing a stale socket left by a crash but never a live worker's.

    ``wait`` gives a live worker that is on its way out (its server was
    killed) that many seconds to go before this one gives up.
    """
    deadline = time.monotonic() + wait
    while path.exists():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink(missing_ok=True)
            break
        finally:
            probe.close()
        if time.monotonic() >= deadline:
            raise SystemExit(f"blocksnap encryption worker: another worker is serving on {path}")
        time.sleep(0.2)
    server = _Server(path, service)
    os.chmod(path, 0o666)
    return server


class CopyFollower:
    """Hands every record of a batch source to the copier, committing after each batch."""

    def __init__(self, source: BatchSource, copier: Copier):
        self.source = source
        self.copier = copier
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Handle one batch; return how many records it held."""
        batch, commit = self.source.next_batch()
        for record in batch:
            self.copier.handle(record)
        commit()
        return len(batch)

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    if self.run_once():
                        continue
                    wait = FOLLOW_POLL_SECONDS
                except Exception:
                    log.exception("copy follower batch failed; retrying in %.0f s", FOLLOW_RETRY_SECONDS)
                    wait = FOLLOW_RETRY_SECONDS
                self._stop.wait(wait)

        self._thread = threading.Thread(target=loop, name="blocksnap-copier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def run(data_dir: Path, socket_path: Path, backend: str = "embedded", exit_with_parent: bool = False) -> int:
    """Serve the encryption function on ``socket_path`` and follow the log for copies.

    Embedded: the local key service, the SQLite log. ``aws`` (what
    ``blocksnap serve --backend aws`` runs in place of the Lambda): KMS, S3 and
    the event table's stream, with the copier's own stream checkpoints.
    """
    if backend == "aws":
        from .kms import KmsKeyService

        runtime = wiring.aws(poll_stream=False)
        keys: KeyService = KmsKeyService(wiring.aws_session().client("kms"))
        source: BatchSource = wiring.stream_source(runtime.records, checkpoint_prefix=COPIER)
    else:
        runtime = wiring.embedded(data_dir)
        keys = LocalKeyService(data_dir / KMS_DIR)
        source = LogSource(runtime.events, runtime.records, name=COPIER)
    service = EncryptionService(keys, runtime.blocks)
    copier = Copier(
        runtime.events,
        runtime.manifests,
        runtime.blocks,
        service,
        runtime.service.record_full_write,
        runtime.service.complete_snapshot,
    )
    follower = CopyFollower(source, copier)
    server = bind(socket_path, service, wait=STOP_SECONDS + 5 if exit_with_parent else 0.0)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    serving = threading.Thread(target=server.serve_forever, name="blocksnap-encryption", daemon=True)
    serving.start()
    follower.start()
    print(f"blocksnap encryption worker ready on {socket_path}", flush=True)
    parent = supervisor()
    try:
        while not stopping.wait(0.5):
            if exit_with_parent and not supervisor_alive(parent):
                log.warning("the serving process is gone; stopping")
                break
    finally:
        # Unlinked first: a worker of a restarted server may bind this path as
        # soon as this one stops answering, and its socket must not be removed.
        socket_path.unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
        follower.stop()
        _say("blocksnap encryption worker stopped")
    return 0


def _say(line: str) -> None:
    """Print a status line to ``serve``, whose pipe is gone if ``serve`` is."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exit does not complain again


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.encryption.worker", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help=f"default: ${wiring.ENV_DATA_DIR}, else {wiring.xdg_data_dir()}"
    )
    parser.add_argument("--socket", type=Path, default=None, help=f"default <data dir>/{SOCKET_NAME}")
    parser.add_argument("--backend", choices=wiring.BACKENDS, default="embedded")
    parser.add_argument(
        "--exit-with-parent", action="store_true",
        help="stop when the process that started this one dies (blocksnap serve, even when killed)",
    )
    args = parser.parse_args(argv)
    keep_private()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = wiring.data_dir(args.data_dir)
    socket_path = args.socket or data_dir / SOCKET_NAME
    return one_line_errors(
        "blocksnap encryption worker", lambda: run(data_dir, socket_path, args.backend, args.exit_with_parent)
    )


if __name__ == "__main__":
    sys.exit(main())
