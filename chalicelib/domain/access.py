"""Who may call what: access keys and their policies, decided with no store and no wire.

A key carries one of three policies.

* ``full`` may call everything, key management included.
* ``read-only`` may call what only reads: the operations named ``Get…``,
  ``List…`` and ``Describe…`` (the EBS reads, EC2 ``Describe*``, the
  extension GETs).
* ``append-only`` is a backup agent's key, as restic's rest-server
  ``--append-only`` or Proxmox Backup Server's backup role: it may create
  snapshots, write and complete them, and read, but never delete, untag,
  unlock or retag, so a stolen agent key cannot destroy a backup. Tags go on
  with StartSnapshot's ``Tags``; CreateTags is refused because it overwrites
  the tag values of completed snapshots. A completed snapshot is never
  overwritten by anyone (PutSnapshotBlock refuses it for every key).

Key management (:data:`KEY_MANAGEMENT`) is for ``full`` keys only, and any
operation no rule names is refused to scoped keys: an operation added later
stays closed to them until someone decides otherwise.

Operation names are the botocore operation name for EBS, the EC2 ``Action``,
and for the extensions their name in blocksnap's extension model; app.py
names each route's handler after its operation in snake case
(``describe_snapshot`` → ``DescribeSnapshot``, :func:`operation_name`), and a
test holds the two together.
"""

from __future__ import annotations

import base64
import enum
import re
import secrets
from dataclasses import dataclass


class Policy(str, enum.Enum):
    FULL = "full"
    READ_ONLY = "read-only"
    APPEND_ONLY = "append-only"


# IAM's AccessKeyId constraint ([\w]+, 16 to 128 characters), in ASCII.
ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9_]{16,128}")
MAX_DESCRIPTION = 256

KEY_MANAGEMENT = frozenset({"CreateAccessKey", "ListAccessKeys", "DeleteAccessKey"})
_READ_PREFIXES = ("Get", "List", "Describe")
_APPENDS = frozenset({
    "StartSnapshot", "PutSnapshotBlock", "CompleteSnapshot",  # EBS direct
    "PutSnapshotSubBlock", "CopySnapshot",  # extensions: into a pending snapshot; a new snapshot
    "CreateSnapshot",  # EC2 (CopySnapshot is the same name there): new snapshots only
})


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    policy: Policy
    description: str = ""
    created: float = 0.0


def is_read(operation: str) -> bool:
    return operation.startswith(_READ_PREFIXES) and operation not in KEY_MANAGEMENT


def allowed(policy: Policy, operation: str | None) -> bool:
    """Whether a key with ``policy`` may call ``operation`` (None: the request names none)."""
    if policy is Policy.FULL:
        return True
    if operation is None:
        return False
    if policy is Policy.READ_ONLY:
        return is_read(operation)
    return is_read(operation) or operation in _APPENDS


def operation_name(handler_name: str) -> str:
    """``put_snapshot_block`` → ``PutSnapshotBlock``: app.py names handlers after the operations."""
    return "".join(part.capitalize() for part in handler_name.split("_"))


def new_key(policy: Policy, description: str = "", created: float = 0.0) -> AccessKey:
    """A fresh key pair: a 20-character id like AWS's (``BSK`` + base32), a 40-character secret."""
    key_id = "BSK" + base64.b32encode(secrets.token_bytes(11)).decode()[:17]
    return AccessKey(key_id, secrets.token_urlsafe(30), policy, description, created)
