"""One HTTP worker process of ``blocksnap serve``: its runtime and the WSGI app it serves.

granian spawns each worker as a fresh interpreter and calls :func:`create_app`
there, so everything a worker needs comes from the environment ``serve`` set
up (backend, data dir, minute length, request threads, whether requests are
authenticated). The projector and the encryption worker belong to
``serve``'s own process; a worker only answers requests.

A worker dies with ``serve`` (:func:`chalicelib.processes.exit_with_supervisor`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from .. import wiring
from ..adapters.file_keys import FileKeyStore
from ..domain.errors import BlocksnapError
from ..http.sigv4 import Guard, Verifier
from ..http.wsgi import READ_BODY, ChaliceWSGI, request_body
from ..usecases.keys import AccessKeys
from .credentials import ENV_NO_AUTH, KEYS_FILE, root_key
from ..processes import exit_with_supervisor
from .serve import ENV_REQUEST_THREADS, runtime_for


class WholeBodiesFirst:
    """Runs the app on its own ``threads`` threads, and only for requests whose body has arrived.

    granian hands a request to one of its blocking threads as soon as the
    headers are in, and its ``wsgi.input`` waits for the body with no time
    limit (granian has a header read timeout, none for bodies). Were the app
    run on those threads, a few clients that send headers and then stall
    would hold every one of them. So granian's pool is sized for waiting
    (``serve`` gives it :data:`~chalicelib.cli.serve.BODY_WAITERS` more threads
    than the app's), the body is read there, within
    :data:`~chalicelib.http.wsgi.BODY_SECONDS`, and only then is the request
    queued for the app, whose threads hold the per-thread SQLite and socket
    connections and are never kept waiting by a client.
    """

    def __init__(self, app: ChaliceWSGI, threads: int):
        self.app = app
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="blocksnap-request")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            environ[READ_BODY] = request_body(environ)
        except BlocksnapError as exc:
            return self.app._error(exc, start_response)  # the same AWS shape as every refusal
        return self.pool.submit(self.app, environ, start_response).result()


def create_app() -> WholeBodiesFirst:
    exit_with_supervisor()
    # Out of the terminal's process group: a Ctrl-C reaches serve alone, which
    # stops this worker with one SIGTERM. granian's worker could hang in its
    # shutdown when both signals arrived (issue 12: 3 of 8 Ctrl-Cs).
    os.setpgid(0, 0)
    data_dir = Path(os.environ[wiring.ENV_DATA_DIR])
    runtime, _ = runtime_for(os.environ[wiring.ENV_BACKEND], data_dir, float(os.environ[wiring.ENV_MINUTE_SECONDS]))
    no_auth = os.environ.get(ENV_NO_AUTH) == "1"
    access = AccessKeys(None if no_auth else root_key(data_dir)[0], FileKeyStore(data_dir / KEYS_FILE))
    runtime.usecases.access = access
    from app import app  # the Chalice app reads the installed runtime

    guard = None if no_auth else Guard(Verifier(access.lookup))
    return WholeBodiesFirst(ChaliceWSGI(app, guard), int(os.environ[ENV_REQUEST_THREADS]))
