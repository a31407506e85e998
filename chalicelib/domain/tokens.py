"""Block tokens and page tokens: stateless, bound, tamper-proof.

A token is ``base64(payload || HMAC-SHA256(secret, payload)[:16])``. Nothing is
stored per token, so a list call on a million blocks costs no writes, and a
token can only be used for what it was minted for:

* a block token binds (snapshot, block index, expiry); AWS documents seven
  days, and observed real tokens expire about 6.77 days after the list call;
* a page token binds (operation, snapshot or snapshot pair, next index,
  expiry); AWS documents 60 minutes.

The alphabet is standard base64, which satisfies both the SDK model pattern
``^[A-Za-z0-9+/=]+$`` and the wider one the service accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

BLOCK_TOKEN_LIFETIME = 7 * 24 * 3600
PAGE_TOKEN_LIFETIME = 3600
EMPTY_LIST_EXPIRY = 3600

_MAC_LEN = 16
_BLOCK = b"B"
_PAGE = b"P"
_KEYED_PAGE = b"K"


class TokenInvalid(Exception):
    """Raised for any token that is malformed, forged, expired or misbound."""


@dataclass(frozen=True)
class PageCursor:
    operation: str
    subject: str
    next_index: int


class TokenMinter:
    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("token secret must be at least 32 bytes")
        self._secret = secret

    def _seal(self, payload: bytes) -> str:
        mac = hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_LEN]
        return base64.b64encode(payload + mac).decode("ascii")

    def _open(self, token: str, kind: bytes) -> bytes:
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TokenInvalid(token) from exc
        if len(raw) <= _MAC_LEN + 1:
            raise TokenInvalid(token)
        payload, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
        expected = hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_LEN]
        if not hmac.compare_digest(mac, expected) or payload[:1] != kind:
            raise TokenInvalid(token)
        return payload[1:]

    def block_token(self, snapshot_id: str, index: int, expiry: float) -> str:
        payload = _BLOCK + struct.pack(">QI", index, int(expiry)) + snapshot_id.encode("ascii")
        return self._seal(payload)

    def check_block_token(self, token: str, snapshot_id: str, index: int, now: float) -> None:
        body = self._open(token, _BLOCK)
        if len(body) < 12:
            raise TokenInvalid(token)
        token_index, expiry = struct.unpack(">QI", body[:12])
        if body[12:] != snapshot_id.encode("ascii") or token_index != index or expiry < now:
            raise TokenInvalid(token)

    def page_token(self, cursor: PageCursor, expiry: float) -> str:
        text = f"{cursor.operation}|{cursor.subject}".encode("ascii")
        payload = _PAGE + struct.pack(">QI", cursor.next_index, int(expiry)) + text
        return self._seal(payload)

    def open_page_token(self, token: str, operation: str, subject: str, now: float) -> int:
        body = self._open(token, _PAGE)
        if len(body) < 12:
            raise TokenInvalid(token)
        next_index, expiry = struct.unpack(">QI", body[:12])
        if body[12:] != f"{operation}|{subject}".encode("ascii") or expiry < now:
            raise TokenInvalid(token)
        return next_index

    def keyed_page_token(self, operation: str, subject: str, after: str, expiry: float) -> str:
        """A page token resuming after a key (a snapshot id) rather than an index.

        For lists ordered by key whose items come and go between pages
        (DescribeSnapshots): resuming after the last key returned neither
        skips nor repeats an item when an earlier one is deleted.
        """
        text = f"{operation}|{subject}|{after}".encode("ascii")
        return self._seal(_KEYED_PAGE + struct.pack(">I", int(expiry)) + text)

    def open_keyed_page_token(self, token: str, operation: str, subject: str, now: float) -> str:
        """The key to resume after; :class:`TokenInvalid` unless minted for this operation and subject, unexpired."""
        body = self._open(token, _KEYED_PAGE)
        if len(body) < 4:
            raise TokenInvalid(token)
        (expiry,) = struct.unpack(">I", body[:4])
        prefix = f"{operation}|{subject}|".encode("ascii")
        if not body[4:].startswith(prefix) or expiry < now:
            raise TokenInvalid(token)
        return body[4 + len(prefix):].decode("ascii")
