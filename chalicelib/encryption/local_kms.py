"""The embedded key service: KMS's GenerateDataKey and Decrypt over a local master key.

The master key is 32 random bytes in ``<dir>/master.key``, created once,
atomically (temp file, fsync, hard link), mode 0600 in a directory of mode
0700. Only the encryption worker opens it: the API server's process never
constructs this class. It is never logged, and a file that others may read
is refused at startup, as ssh refuses a readable private key.

Each key id (any string: an ARN, an alias ARN, a bare alias) gets its own
wrapping key, derived from the master key with HKDF-SHA256, so a data key
wrapped under one key id cannot be unwrapped as another's. A wrapped key is
``version || len(key id) (2 bytes) || key id || AES-GCM sealed data key``
and carries its key id, so :meth:`decrypt` needs no key id, as KMS Decrypt
does not. The associated data is the key id and the canonical JSON of the
encryption context, so, as in KMS, the context given to Decrypt must equal
the one given to GenerateDataKey.

Errors mirror :class:`~chalicelib.encryption.kms.KmsKeyService`, so the
embedded and the AWS deployment fail alike: a wrong context or an altered
blob is KMS's ``InvalidCiphertextException``, which both raise as
:class:`CorruptData` (stored bytes failed verification).
:class:`DependencyAccessDenied` is kept for a key service that refuses, which
this one, having no policies, never does. Not modelled: key policies, grants,
disabling, rotation and deletion of master keys.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..adapters.durable_files import read_or_create_secret
from ..domain.errors import CorruptData
from ..ports import KeyService
from .cipher import KEY_BYTES, AeadCipher

MASTER_KEY_FILE = "master.key"
_BLOB_VERSION = b"\x01"
_HKDF_INFO = b"blocksnap local kms wrapping key\x00"


class LocalKeyService(KeyService):
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._master = _load_or_create_master_key(self.directory)

    def generate_data_key(self, key_id: str, context: dict[str, str]) -> tuple[bytes, bytes]:
        plaintext = os.urandom(KEY_BYTES)
        encoded_id = key_id.encode("utf-8")
        if not 0 < len(encoded_id) <= 2048:
            raise ValueError("a key id has 1 to 2048 bytes")
        sealed = self._wrapping(encoded_id).seal(plaintext, _aad(encoded_id, context))
        return plaintext, _BLOB_VERSION + struct.pack(">H", len(encoded_id)) + encoded_id + sealed

    def decrypt(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        if len(wrapped) < 3 or wrapped[:1] != _BLOB_VERSION:
            raise CorruptData("InvalidCiphertextException: not a wrapped key of the local key service")
        (id_length,) = struct.unpack(">H", wrapped[1:3])
        encoded_id = wrapped[3 : 3 + id_length]
        return self._wrapping(encoded_id).open(
            wrapped[3 + id_length :],
            _aad(encoded_id, context),
            "InvalidCiphertextException: the wrapped data key",
        )

    def _wrapping(self, encoded_id: bytes) -> AeadCipher:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_HKDF_INFO + encoded_id)
        return AeadCipher(hkdf.derive(self._master))


def _aad(encoded_id: bytes, context: dict[str, str]) -> bytes:
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return encoded_id + b"\x00" + canonical.encode("ascii")


def _load_or_create_master_key(directory: Path) -> bytes:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask, and the dir may predate us
    path = directory / MASTER_KEY_FILE
    read_or_create_secret(path, KEY_BYTES)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(
            f"{path} is accessible to other users (mode {mode:04o}); run `chmod 600 {path}`"
        )
    master = path.read_bytes()
    if len(master) != KEY_BYTES:
        raise ValueError(f"{path} holds {len(master)} bytes, not a {KEY_BYTES}-byte master key")
    return master
