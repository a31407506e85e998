"""The embedded encryption function: ``python -m chalicelib.encryption.worker --data-dir D``.

A process of its own, because the issue's rule is that the API's process never
holds a plaintext data key: the API server reaches this one only through a
Unix socket (:class:`~chalicelib.adapters.worker_encryption.WorkerEncryptionFunction`),
as the API Lambda reaches the encryption Lambda only by invoking it.

This module is the process: its command line, what it is given, its signals.
What it is given is what the key holder needs and nothing else
(:func:`build`): its key service, the block store, the event store with a
:class:`~chalicelib.usecases.write_sink.WriteSink` for the copier, and the
read-model store for the copier's checkpoint only. Never
``wiring.embedded()`` or ``wiring.aws()``, which load the block-token secret.

* **Keys.** :class:`LocalKeyService` keeps the master key in ``D/kms/master.key``
  (mode 0600, directory 0700); this is the only process that opens it. With
  ``--backend aws`` (what ``blocksnap serve --backend aws`` runs in place of
  the Lambda) the key service is KMS, the stores DynamoDB and S3.
* **Socket.** ``D/encryption.sock`` by default, 0600 and for this uid only
  (:mod:`.socket_server`).
* **Copies.** A thread follows the log for ``CopyRequested`` and runs the
  :class:`Copier` (:mod:`.follower`), from its own checkpoint (``copier`` in
  the read models). The projector is not run here: ``blocksnap serve`` runs
  it, and it seals the copy once the copier has completed it.

SIGTERM and SIGINT stop the server, remove the socket and give a running
copy :data:`STOP_SECONDS` to finish; a copy cut short resumes on the next start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from .. import wiring
from ..core.manifest_store import ManifestStore
from ..processes import keep_private, one_line_errors, supervisor, supervisor_alive
from ..projections.runner import BatchSource, LogSource
from ..usecases.write_sink import WriteSink
from .copier import Copier
from .follower import CHECKPOINT, CopyFollower
from .local_kms import LocalKeyService
from .service import EncryptionService
from .socket_server import bind

log = logging.getLogger(__name__)

SOCKET_NAME = wiring.WORKER_SOCKET
KMS_DIR = "kms"
STOP_SECONDS = 30.0


def build(data_dir: Path, backend: str = "embedded") -> tuple[EncryptionService, CopyFollower]:
    """The worker's encryption service and its copy follower, from the stores alone."""
    if backend == "aws":
        from .kms import KmsKeyService

        session = wiring.aws_session()
        keys = KmsKeyService(wiring.aws_client(session, "kms"))
        events, blocks = wiring.aws_event_store(session), wiring.aws_block_store(session)
        source: BatchSource = wiring.stream_source(wiring.aws_read_model_store(session), checkpoint_prefix=CHECKPOINT)
    else:
        keys = LocalKeyService(data_dir / KMS_DIR)
        events, blocks = wiring.embedded_event_store(data_dir), wiring.embedded_block_store(data_dir)
        source = LogSource(events, wiring.embedded_read_model_store(data_dir), name=CHECKPOINT)
    service = EncryptionService(keys, blocks)
    copier = Copier(events, ManifestStore(blocks), blocks, service, WriteSink(events))
    return service, CopyFollower(source, copier)


def run(data_dir: Path, socket_path: Path, backend: str = "embedded", exit_with_parent: bool = False) -> int:
    """Serve the encryption function on ``socket_path`` and follow the log for copies."""
    service, follower = build(data_dir, backend)
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
        follower.stop(STOP_SECONDS)
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
