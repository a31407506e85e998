"""The server's malloc settings apply where glibc is the C library."""

import platform

import pytest

from chalicelib.cli import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_apply_on_glibc():
    assert heap.reuse_freed_buffers() is True


def test_thresholds_cover_a_block_buffer():
    assert heap.MMAP_THRESHOLD > 1024 * 1024  # above a 512 KiB block and its copies
    assert heap.TRIM_THRESHOLD >= heap.MMAP_THRESHOLD
