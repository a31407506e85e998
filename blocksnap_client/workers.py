"""Bounded parallel work for uploads and downloads.

A volume can have millions of blocks: submitting them all at once would hold
a future (and, for an upload, 512 KiB of data) per block. Here at most twice
``workers`` items are queued or running; the first failure stops the
submitting and is raised once the running items have finished, and Ctrl-C
drops the queued items and waits for the running ones, so what was
acknowledged is known (and journaled) when the caller handles it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


def run_bounded(workers: int, items: Iterable[T], handle: Callable[[T], None], name: str) -> None:
    slots = threading.BoundedSemaphore(workers * 2)
    failures: list[BaseException] = []

    def done(future: Future) -> None:
        slots.release()
        if not future.cancelled() and future.exception() is not None:
            failures.append(future.exception())

    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    try:
        for item in items:
            slots.acquire()
            if failures:
                slots.release()
                break
            pool.submit(handle, item).add_done_callback(done)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if failures:
        raise failures[0]
