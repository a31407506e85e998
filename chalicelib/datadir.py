"""The data dir: created readable by its owner only, and held by one process at a time.

``serve``, ``rebuild``, ``invoke`` and ``chalice local`` each hold it with an
``flock`` on ``DATA_DIR/blocksnap.lock``, so two of them can never project,
rebuild or serve from one data dir at once. It sits here, below the CLI,
because ``wiring`` takes it too (for ``chalice local``).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path
from typing import IO

from .processes import CliError

LOCK_FILE = "blocksnap.lock"


def _make_data_dir(path: Path) -> None:
    """Create the data dir (0700) if missing; a path that cannot hold one is a CliError.

    An existing data dir that other users can enter is tightened, with a
    warning: closing the directory closes everything below it, including
    files written before the umask was set.
    """
    if path.exists() and not path.is_dir():
        raise CliError(f"the data dir {path} is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            print(f"blocksnap: warning: the data dir {path} was open to other users (mode {mode:04o}); "
                  f"it is now {mode & 0o700:04o}", file=sys.stderr)
    except OSError as exc:
        raise CliError(f"cannot create the data dir {path}: {exc.strerror or exc}") from exc


def hold_data_dir(path: Path, command: str, wait_seconds: float = 0.0) -> IO[str]:
    """An exclusive lock on the data dir for as long as the returned file stays open.

    An ``flock`` ends with the last process holding it, even a SIGKILLed
    one, so a crash never leaves a stale lock behind. The holder's pid and
    command are written into the file for the message the next caller gets.
    A holder still there after ``wait_seconds`` is a CliError.
    """
    _make_data_dir(path)
    try:
        handle = open(path / LOCK_FILE, "a+")
    except OSError as exc:
        raise CliError(f"cannot use {path} as a data dir: {exc.strerror or exc}") from exc
    deadline = time.monotonic() + wait_seconds
    try:
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise CliError(f"the data dir {path} is in use by {holder}; stop it first")
            time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"blocksnap {command} (pid {os.getpid()})\n")
        handle.flush()
    except BaseException as exc:
        handle.close()
        if isinstance(exc, OSError):
            raise CliError(f"cannot lock the data dir {path}: {exc.strerror or exc}") from exc
        raise
    return handle


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


