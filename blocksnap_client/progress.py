"""Progress on stderr: a tqdm bar with rate and ETA on a terminal, a few plain lines when piped.

A log file or CI output gets at most one line per phase and per 10 %, with
no carriage returns or escape sequences; ``--quiet`` (and ``--json``) gets
nothing at all.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts blocks of one phase; ``update`` may be called from any worker thread."""

    def __init__(self, phase: str, total: int, stream: TextIO | None = None, quiet: bool = False):
        self.phase = phase
        self.total = total
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._reported_tenth = -1
        self._bar = None
        if quiet:
            return
        if self.stream.isatty():
            self._bar = tqdm(total=total, desc=phase, unit="block", file=self.stream, dynamic_ncols=True)
        else:
            self._line()

    def update(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            if self._bar is not None:
                self._bar.update(count)
            elif not self.quiet:
                self._line()

    def _line(self) -> None:
        tenth = 10 if self.total == 0 else self.done * 10 // self.total
        if tenth <= self._reported_tenth:
            return
        self._reported_tenth = tenth
        elapsed = time.monotonic() - self._started
        rate = f", {self.done * 0.5 / elapsed:.1f} MiB/s" if self.done and elapsed > 0 else ""
        print(f"{self.phase}: {tenth * 10}% ({self.done}/{self.total} blocks{rate})", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def say(message: str, quiet: bool = False) -> None:
    """A message for the operator: stderr, so stdout stays the snapshot id alone."""
    if not quiet:
        print(message, file=sys.stderr, flush=True)
