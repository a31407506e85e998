"""One HTTP worker process of ``blocksnap serve``: its runtime and the WSGI app it serves.

granian spawns each worker as a fresh interpreter and calls :func:`create_app`
there, so everything a worker needs comes from the environment ``serve`` set
up (backend, data dir, minute length). The projector and the encryption
worker belong to ``serve``'s own process; a worker only answers requests.

A worker dies with ``serve`` (:mod:`.lifeline`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import wiring
from ..http.wsgi import ChaliceWSGI
from .lifeline import exit_with_supervisor
from .serve import runtime_for


def create_app() -> ChaliceWSGI:
    exit_with_supervisor()
    runtime_for(
        os.environ[wiring.ENV_BACKEND],
        Path(os.environ[wiring.ENV_DATA_DIR]),
        float(os.environ[wiring.ENV_MINUTE_SECONDS]),
    )
    from app import app  # the Chalice app reads the installed runtime

    return ChaliceWSGI(app)

