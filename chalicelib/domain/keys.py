"""The one key scheme of the block store, shared by the file and S3 adapters.

::

    blocks/<snapshot-id>/<index:09d>-<sha256-hex>                 full blocks
    blocks/<snapshot-id>/<index:09d>-sub-<offset:06d>-<len>-<hex>  sub-block ranges
    manifests/<snapshot-id>/root                                   manifest root page
    manifests/<snapshot-id>/L<level>-<first-index:09d>             manifest pages
    keys/<lineage-id>                                               a lineage's wrapped data key

Why this shape:

* Everything a snapshot *wrote* lives under ``blocks/<id>/``: listing that
  prefix is exactly the difference between the snapshot and its parent, which
  is the seed's "path structure that facilitates computing the difference".
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
# Every block object key this module makes: full blocks and sub-block ranges.
BLOCK_OBJECT_KEY = re.compile(
    r"blocks/snap-[0-9a-f]{17}/[0-9]{9}-(?:[0-9a-f]{64}|sub-[0-9]{6}-[0-9]+-[0-9a-f]{64})"
)
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
