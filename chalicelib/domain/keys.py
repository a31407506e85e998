"""The one key scheme of the block store, shared by the file and S3 adapters.

::

    blobs/<hex[:2]>/<sha256-hex>                                   full blocks of plaintext lineages, by content
    blocks/<snapshot-id>/<index:09d>-<sha256-hex>                 full blocks of encrypted lineages
    blocks/<snapshot-id>/<index:09d>-sub-<offset:06d>-<len>-<hex>  sub-block ranges
    manifests/<snapshot-id>/root                                   manifest root page
    manifests/<snapshot-id>/L<level>-<first-index:09d>             manifest pages
    keys/<lineage-id>                                               a lineage's wrapped data key

Why this shape:

* **Deduplicated plaintext.** A full block of a plaintext lineage is stored
  once under its content's SHA-256, whichever snapshot, lineage or index
  writes it: re-uploading an unchanged image, or backing up one disk as
  unrelated snapshots, stores no second copy. The 256 ``blobs/<xx>/``
  directories keep each directory small. Encrypted lineages keep per-snapshot
  keys: a shared key would have to be a keyed hash computed by the encryption
  function, which is not built yet, and a plain hash would reveal equal
  plaintext across tenants.
* **A snapshot's difference follows from its own entries.** The blocks a
  snapshot wrote are its block-write events, and the manifest entries whose
  ``writer`` is that snapshot; ListChangedBlocks and ``blocksnap rebuild``
  read those, never a listing. For encrypted lineages and sub-blocks,
  everything a snapshot wrote also still lives under ``blocks/<id>/``.
* The content hash is part of the key, so a retried write lands on the same
  key (idempotent) and two concurrent writers of different bytes never share a
  key: no reader can ever see a torn or mixed block.
* Nine-digit indexes sort lexicographically in block order for every index a
  64 TiB volume can have (134,217,727), so prefix listings come out ordered.
* One flat level per snapshot (``<index>-<hash>``, not ``<index>/<hash>``):
  in the file store a block write then renames into a directory that already
  exists, instead of creating (and fsyncing) a directory per block.

Only validated values reach these functions: snapshot ids match
``^snap-[0-9a-f]{17}$``, indexes are non-negative ints, digests are decoded
from base64 and re-encoded as hex here.
"""

from __future__ import annotations

import base64
import re

# Matched whole (fullmatch): a "$" would also let a trailing newline through.
SNAPSHOT_ID = re.compile(r"snap-[0-9a-f]{17}")
# Every per-snapshot block object key this module makes: full blocks and sub-block ranges.
# (The encryption function accepts only these: shared blobs are never encrypted.)
BLOCK_OBJECT_KEY = re.compile(
    r"blocks/snap-[0-9a-f]{17}/[0-9]{9}-(?:[0-9a-f]{64}|sub-[0-9]{6}-[0-9]+-[0-9a-f]{64})"
)
BLOB_PREFIX = "blobs/"
_OBJECT_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def check_key(key: str) -> str:
    """Every adapter's last check before a key touches a path or a bucket."""
    if not _OBJECT_KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"invalid block-store key: {key!r}")
    return key


def _check(snapshot_id: str) -> str:
    if not SNAPSHOT_ID.fullmatch(snapshot_id):
        raise ValueError(f"not a snapshot id: {snapshot_id!r}")
    return snapshot_id


def _hex(digest_b64: str) -> str:
    return base64.b64decode(digest_b64, validate=True).hex()


def snapshot_blocks_prefix(snapshot_id: str) -> str:
    return f"blocks/{_check(snapshot_id)}/"


def block_key(snapshot_id: str, index: int, digest_b64: str) -> str:
    return f"blocks/{_check(snapshot_id)}/{int(index):09d}-{_hex(digest_b64)}"


def blob_key(digest_b64: str) -> str:
    """Where a plaintext block with this SHA-256 lives, for every snapshot that has it."""
    digest = _hex(digest_b64)
    return f"{BLOB_PREFIX}{digest[:2]}/{digest}"


def sub_block_key(snapshot_id: str, index: int, offset: int, length: int, digest_b64: str) -> str:
    return (
        f"blocks/{_check(snapshot_id)}/{int(index):09d}-"
        f"sub-{int(offset):06d}-{int(length)}-{_hex(digest_b64)}"
    )


def manifest_prefix(snapshot_id: str) -> str:
    return f"manifests/{_check(snapshot_id)}/"


def manifest_root_key(snapshot_id: str) -> str:
    return f"manifests/{_check(snapshot_id)}/root"


def manifest_page_key(snapshot_id: str, level: int, first_index: int) -> str:
    return f"manifests/{_check(snapshot_id)}/L{int(level)}-{int(first_index):09d}"


def lineage_key(lineage_id: str) -> str:
    """Where a lineage's wrapped data key lives; deleting it shreds the lineage."""
    return f"keys/{_check(lineage_id)}"
