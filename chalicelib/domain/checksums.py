"""Block checksums and the LINEAR aggregate, as AWS computes them.

The aggregate hashes the *raw 32-byte digests* of the blocks written in this
snapshot, in ascending index order; the docs' "concatenate them to form a
single string" is resolved by coldsnap's code and by captures of real AWS
(see ``shared/spec/ebs-direct-api.md`` §b.2, whose test vectors
``tests/unit/test_checksums.py`` replays).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Iterable


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def linear_aggregate(digests_in_index_order: Iterable[str]) -> str:
    h = hashlib.sha256()
    for digest in digests_in_index_order:
        h.update(base64.b64decode(digest))
    return base64.b64encode(h.digest()).decode("ascii")
