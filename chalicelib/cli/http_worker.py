"""One HTTP worker process of ``blocksnap serve``: its runtime and the WSGI app it serves.

granian spawns each worker as a fresh interpreter and calls :func:`create_app`
there, so everything a worker needs comes from the environment ``serve`` set
up (backend, data dir, minute length). The projector and the encryption
worker belong to ``serve``'s own process; a worker only answers requests.

A worker dies with its parent. granian's workers each bind the port with
SO_REUSEPORT and would otherwise outlive a SIGKILLed ``serve``, still
answering on its port: a server restarted after a crash would share the
port with a stale one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .. import wiring
from ..http.wsgi import ChaliceWSGI
from .heap import reuse_freed_buffers
from .serve import runtime_for

_PR_SET_PDEATHSIG = 1


def create_app() -> ChaliceWSGI:
    exit_with_parent()
    reuse_freed_buffers()
    runtime_for(
        os.environ[wiring.ENV_BACKEND],
        Path(os.environ[wiring.ENV_DATA_DIR]),
        float(os.environ[wiring.ENV_MINUTE_SECONDS]),
    )
    from app import app  # the Chalice app reads the installed runtime

    return ChaliceWSGI(app)


def exit_with_parent() -> None:
    """Be killed when the parent process dies (Linux: at once; elsewhere: within a second)."""
    parent = os.getppid()
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="blocksnap-parent-watch", daemon=True).start()
