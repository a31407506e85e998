"""The API's client of the embedded encryption worker, over its Unix socket.

The API process holds no key: it sends a block and its object key to the
worker (``python -m chalicelib.encryption.worker``) and gets the other form
of the block back. This module imports neither ``chalicelib.encryption`` nor
``cryptography``; ``tests/unit/test_isolation_imports.py`` holds it to that.

* **One connection per thread**, opened on first use and kept: a block costs
  one round trip on a Unix socket, not a connect, and threads never share a
  connection, so answers cannot be crossed.
* **One reconnect.** A kept connection can be dead (the worker restarted);
  the request is then sent once more on a new one. Every operation is safe to
  repeat: encrypt and decrypt change nothing, and creating a lineage key is
  idempotent. A timeout is not repeated: the worker is alive but slow, and a
  second wait would only double the caller's.
* **Errors come back as the caller's own** (CorruptData,
  DependencyAccessDenied, ValidationError); an unreachable worker is a
  ConnectionError that names the socket.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from .encryption_wire import (
    ProtocolError,
    RemoteEncryptionFunction,
    raise_error,
    recv_frame,
    send_frame,
)

# Seconds to wait for one answer; a 512 KiB block takes about a millisecond,
# so this only ever fires for a hung worker.
DEFAULT_TIMEOUT = 30.0


class WorkerEncryptionFunction(RemoteEncryptionFunction):
    def __init__(self, socket_path: Path, timeout: float = DEFAULT_TIMEOUT):
        self.socket_path = str(socket_path)
        self.timeout = timeout
        self._local = threading.local()

    def _send(self, header: dict, data: bytes = b"") -> bytes:
        for attempt in range(2):
            try:
                sock = self._connection()
                send_frame(sock, header, data)
                frame = recv_frame(sock)
                if frame is None:
                    raise ProtocolError("the worker closed the connection")
                break
            except TimeoutError as exc:
                self._drop()
                raise ConnectionError(
                    f"the encryption worker at {self.socket_path} did not answer in {self.timeout} s"
                ) from exc
            except OSError as exc:
                self._drop()
                if attempt == 1:
                    raise ConnectionError(
                        f"the encryption worker at {self.socket_path} is not reachable ({exc}); "
                        "is `python -m chalicelib.encryption.worker` running on that data dir?"
                    ) from exc
        answer, result = frame
        if "error" in answer:
            raise_error(answer["error"])
        return result

    def _connection(self) -> socket.socket:
        sock = getattr(self._local, "sock", None)
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.socket_path)
            except OSError:
                sock.close()
                raise
            self._local.sock = sock
        return sock

    def _drop(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            sock.close()
