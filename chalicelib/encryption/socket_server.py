"""The encryption function's Unix socket, for the API server of the same user only.

Any process that can connect may ask for a decryption, so the socket is the
boundary of the key holder on one machine (issue 12: it was 0666):

* **Mode 0600.** The socket is created under a umask of 0177, so it is never
  even briefly wider than its owner's; a local user of another uid cannot
  connect at all.
* **The peer's uid.** Each connection's credentials are read with
  ``SO_PEERCRED`` (Linux) and a peer of another uid is refused and logged,
  before a frame is read: this holds even if the mode is widened or the path
  is reachable by other means. Where ``SO_PEERCRED`` does not exist, the mode
  alone guards it.

The wire is :mod:`chalicelib.adapters.encryption_wire`'s framing; each
connection is a thread and carries any number of requests, so the API keeps
one per thread. Requests are answered by :func:`.dispatch.answer`.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import struct
import time
from pathlib import Path

from ..adapters.encryption_wire import recv_frame, send_frame
from ..ports import EncryptionFunction
from .dispatch import answer

log = logging.getLogger(__name__)

SOCKET_UMASK = 0o177  # sockets are created 0777 & ~umask: 0600
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class _Handler(socketserver.BaseRequestHandler):
    """One client connection: request frames in, answer frames out, until it closes."""

    server: EncryptionSocketServer

    def handle(self) -> None:
        if not self._peer_is_owner():
            return
        try:
            while (frame := recv_frame(self.request)) is not None:
                send_frame(self.request, *answer(self.server.function, *frame))
        except OSError as exc:  # a client gone mid-frame, or a frame this protocol refuses
            log.warning("dropping an encryption connection: %s", exc)

    def _peer_is_owner(self) -> bool:
        if not hasattr(socket, "SO_PEERCRED"):
            return True
        pid, uid, _ = _PEERCRED.unpack(self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        if uid == os.geteuid():
            return True
        log.warning("refused an encryption connection from uid %d (pid %d): only uid %d may connect",
                    uid, pid, os.geteuid())
        return False


class EncryptionSocketServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False  # idle persistent connections must not hold up a shutdown

    def __init__(self, path: Path, function: EncryptionFunction):
        self.function = function
        super().__init__(str(path), _Handler)


def bind(path: Path, function: EncryptionFunction, wait: float = 0.0) -> EncryptionSocketServer:
    """Listen on ``path`` (mode 0600), replacing a stale socket left by a crash but never a live worker's.

    ``wait`` gives a live worker that is on its way out (its server was
    killed) that many seconds to go before this one gives up. The umask is
    the process's: call this before starting threads that create files.
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
    previous = os.umask(SOCKET_UMASK)
    try:
        return EncryptionSocketServer(path, function)
    finally:
        os.umask(previous)
