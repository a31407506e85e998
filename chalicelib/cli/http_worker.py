"""One HTTP worker process of ``blocksnap serve``: its runtime and the WSGI app it serves.

granian spawns each worker as a fresh interpreter and calls :func:`create_app`
there, so everything a worker needs comes from the environment ``serve`` set
up (backend, data dir, minute length, whether requests are authenticated).
The projector and the encryption
worker belong to ``serve``'s own process; a worker only answers requests.

A worker dies with ``serve`` (:mod:`.lifeline`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import wiring
from ..adapters.file_keys import FileKeyStore
from ..http.sigv4 import Guard, Verifier
from ..http.wsgi import ChaliceWSGI
from ..usecases.keys import AccessKeys
from .credentials import ENV_NO_AUTH, KEYS_FILE, root_key
from .lifeline import exit_with_supervisor
from .serve import runtime_for


def create_app() -> ChaliceWSGI:
    exit_with_supervisor()
    data_dir = Path(os.environ[wiring.ENV_DATA_DIR])
    runtime, _ = runtime_for(os.environ[wiring.ENV_BACKEND], data_dir, float(os.environ[wiring.ENV_MINUTE_SECONDS]))
    no_auth = os.environ.get(ENV_NO_AUTH) == "1"
    runtime.access = AccessKeys(None if no_auth else root_key(data_dir)[0], FileKeyStore(data_dir / KEYS_FILE))
    from app import app  # the Chalice app reads the installed runtime

    return ChaliceWSGI(app, None if no_auth else Guard(Verifier(runtime.access.lookup)))

