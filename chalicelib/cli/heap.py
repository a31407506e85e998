"""glibc malloc settings for server processes: reuse freed block buffers.

Every PutSnapshotBlock and GetSnapshotBlock moves 512 KiB buffers around
(the request body and its copies, the block read back). glibc hands out allocations of that size with a fresh ``mmap``, or
from heap memory it has just given back to the kernel, so every buffer is
zero-filled page by page again: about 200 page faults per PUT, and the faults
and ``munmap`` calls were a sixth of the server's CPU per PUT. With the mmap
threshold above the largest buffer and the trim threshold above the working
set (a few dozen blocks in flight), freed buffers stay in the heap and are
reused. The memory kept is what the busiest moment needed, no more.

Other C libraries have no ``mallopt``; there this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# From glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 64 * 1024 * 1024


def reuse_freed_buffers() -> bool:
    """Apply the thresholds; False where the C library has no ``mallopt``."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
