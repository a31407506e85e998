"""Bounded parallel work for uploads and downloads.

A volume can have millions of blocks: submitting them all at once would hold
a future (and, for an upload, 512 KiB of data) per block. Here at most twice
``workers`` items are queued or running; the first failure stops the
submitting and is raised once the running items have finished, and Ctrl-C
drops the queued items and waits for the running ones, so what was
acknowledged is known (and journaled) when the caller handles it.
"""

from __future__ import annotations

import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


def run_bounded(workers: int, items: Iterable[T], handle: Callable[[T], None], name: str) -> None:
    slots = threading.BoundedSemaphore(workers * 2)
    failures: list[BaseException] = []
    interrupted: list[int] = []

    def done(future: Future) -> None:
        if future.cancelled():
            return
        slots.release()
        if future.exception() is not None:
            failures.append(future.exception())

    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    previous = _note_interrupts(interrupted)
    try:
        for item in items:
            while not slots.acquire(timeout=0.2) and not interrupted:
                pass
            if interrupted or failures:
                break
            pool.submit(handle, item).add_done_callback(done)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    pool.shutdown(wait=True, cancel_futures=bool(interrupted or failures))
    if interrupted:
        raise KeyboardInterrupt
    if failures:
        raise failures[0]


def _note_interrupts(interrupted: list[int]):
    """Ctrl-C as a flag while the pool runs, not a KeyboardInterrupt raised wherever the main thread is.

    Raised inside a lock's ``with`` (the semaphore's), the exception would
    leave that lock held, and the shutdown that follows would wait on it
    forever. Returns the previous handler, or None off the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
