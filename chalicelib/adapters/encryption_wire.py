"""The encryption function's wire: request fields, error bodies, socket framing.

Both sides import this module: the encryption function (worker and Lambda)
to answer, the API's adapters (:mod:`.worker_encryption`,
:mod:`.lambda_encryption`) to ask. It needs nothing but the standard library
and the error tree, so importing it gives the API no access to any key.

Requests are ``{"op", "lineage_id", "object_key", "kms_key_arn"}`` plus the
bytes; answers are the bytes, or ``{"error": {"type", "message", "reason"}}``
where ``type`` is one of :data:`ERROR_TYPES` (or ``InternalError``, for a
failure the function logged). The Lambda form carries the bytes as base64 in
``"data"``, since an invocation payload is JSON. The worker socket carries
them raw, because every block of an encrypted snapshot crosses it twice and
base64 would add a third to each 512 KiB and a pass to encode and decode it:

    frame = header length (4 bytes, big-endian) || data length (4 bytes, big-endian)
            || header (UTF-8 JSON) || data

A connection carries any number of request/answer frames, one at a time.
"""

from __future__ import annotations

import json
import socket
import struct
from abc import abstractmethod
from typing import NoReturn

from ..domain.errors import (
    BlocksnapError,
    CorruptData,
    DependencyAccessDenied,
    DependencyThrottled,
    ValidationError,
)
from ..ports import EncryptionFunction

CREATE_LINEAGE_KEY = "create_lineage_key"
ENCRYPT = "encrypt"
DECRYPT = "decrypt"
OPERATIONS = (CREATE_LINEAGE_KEY, ENCRYPT, DECRYPT)

ERROR_TYPES: dict[str, type[BlocksnapError]] = {
    "DependencyAccessDenied": DependencyAccessDenied,
    "CorruptData": CorruptData,
    "ValidationError": ValidationError,
    "DependencyThrottled": DependencyThrottled,
}
INTERNAL_ERROR = "InternalError"

_PREFIX = struct.Struct(">II")
MAX_HEADER = 64 * 1024
# A 512 KiB block plus the cipher's 29 bytes, with room for a larger block size.
MAX_DATA = 8 * 1024 * 1024


class ProtocolError(ConnectionError):
    """The peer sent a frame this protocol cannot hold; the connection is dropped."""


def error_body(exc: Exception) -> dict:
    """The wire form of an error: a listed type (subclasses travel as it), else InternalError.

    An internal error's own message stays in the function's log: it may name
    things the caller has no business seeing.
    """
    for name, cls in ERROR_TYPES.items():
        if isinstance(exc, cls):
            return {"type": name, "message": exc.message, "reason": exc.reason}
    return {"type": INTERNAL_ERROR, "message": "the encryption function failed; see its log"}


def raise_error(error: dict) -> NoReturn:
    """Raise what an error body describes, as the caller's own exception."""
    cls = ERROR_TYPES.get(error.get("type", ""))
    message = error.get("message") or "the encryption function failed"
    if cls is None:
        raise RuntimeError(f"the encryption function failed: {message}")
    raise cls(message, reason=error.get("reason"))


def send_frame(sock: socket.socket, header: dict, data: bytes = b"") -> None:
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    sock.sendall(_PREFIX.pack(len(encoded), len(data)) + encoded)
    if data:
        sock.sendall(data)


def recv_frame(sock: socket.socket) -> tuple[dict, bytes] | None:
    """The next frame, or None if the peer closed the connection between frames."""
    prefix = _recv_exact(sock, _PREFIX.size, eof_ok=True)
    if prefix is None:
        return None
    header_length, data_length = _PREFIX.unpack(prefix)
    if header_length > MAX_HEADER or data_length > MAX_DATA:
        raise ProtocolError(f"frame of {header_length} + {data_length} bytes exceeds the limits")
    try:
        header = json.loads(_recv_exact(sock, header_length))
    except ValueError:
        raise ProtocolError("a frame header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("a frame header is not a JSON object")
    return header, _recv_exact(sock, data_length)


def _recv_exact(sock: socket.socket, n: int, eof_ok: bool = False) -> bytes | None:
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        count = sock.recv_into(view[got:])
        if count == 0:
            if eof_ok and got == 0:
                return None
            raise ProtocolError(f"connection closed after {got} of {n} bytes")
        got += count
    return bytes(buffer)


class RemoteEncryptionFunction(EncryptionFunction):
    """The three operations as requests; a transport supplies :meth:`_send`."""

    def create_lineage_key(self, lineage_id: str, kms_key_arn: str) -> None:
        self._send({"op": CREATE_LINEAGE_KEY, "lineage_id": lineage_id, "kms_key_arn": kms_key_arn}, b"")

    def encrypt(self, lineage_id: str, object_key: str, plaintext: bytes) -> bytes:
        return self._send({"op": ENCRYPT, "lineage_id": lineage_id, "object_key": object_key}, plaintext)

    def decrypt(self, lineage_id: str, object_key: str, ciphertext: bytes) -> bytes:
        return self._send({"op": DECRYPT, "lineage_id": lineage_id, "object_key": object_key}, ciphertext)

    @abstractmethod
    def _send(self, request: dict, data: bytes) -> bytes:
        """Deliver one request with its bytes; return the answer's bytes or raise its error."""
