"""What every process blocksnap starts shares: the process it must not outlive, and errors as one line.

The CLI's commands and the encryption worker both need these, so they live
outside ``cli/``: the worker is part of :mod:`chalicelib.encryption`, which
``app.py`` imports, and ``cli/`` imports ``app.py`` (its HTTP worker serves
it), so a worker importing ``cli/`` closed the cycle app → encryption → cli
→ app. ``tests/unit/test_import_cycles.py`` keeps the packages acyclic.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from typing import Callable

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from pynamodb.exceptions import PynamoDBException

ENV_SUPERVISOR_PID = "BLOCKSNAP_SUPERVISOR_PID"

# What an unreachable, misconfigured or refusing AWS raises: the operator's to
# fix, so one line says it. Anything else from botocore (a bad parameter, say)
# is a bug in blocksnap and keeps its traceback.
AWS_TROUBLE = (
    ClientError,
    PynamoDBException,
    EndpointConnectionError,
    ConnectTimeoutError,
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
)


def mark_supervisor() -> None:
    """Name this process, in the environment its children inherit, as the one they must not outlive."""
    os.environ[ENV_SUPERVISOR_PID] = str(os.getpid())


def supervisor() -> int:
    """The process this one must not outlive: the one named by :func:`mark_supervisor`, else the parent.

    Named rather than taken from ``getppid()``, because a child still starting
    when its supervisor was killed already has the reaper for its parent.
    """
    named = os.environ.get(ENV_SUPERVISOR_PID, "")
    return int(named) if named.isdigit() else os.getppid()


def supervisor_alive(pid: int) -> bool:
    return os.getppid() == pid


class CliError(Exception):
    """A mistake in the command line or its environment: printed as one line, exit status 1."""


def one_line_errors(prog: str, command: Callable[[], int]) -> int:
    """Run a command; a mistake or AWS trouble ends in one line on stderr and status 1, not a traceback."""
    try:
        return command()
    except CliError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    except AWS_TROUBLE as exc:
        print(f"{prog}: AWS: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


def keep_private() -> None:
    """Create every later file and directory readable by this user only (umask 077).

    The data dir holds every snapshot's bytes, the token key and the event
    table; the umask is inherited by the HTTP and encryption workers, so it
    covers the files SQLite makes on its own too (``-wal``, ``-shm``).
    """
    os.umask(0o077)


# ---- a child dies with serve (PR_SET_PDEATHSIG), even when serve is SIGKILLed ----

_PR_SET_PDEATHSIG = 1


def exit_with_supervisor() -> None:
    """Be killed when the supervisor dies (Linux: at once; elsewhere: within a second)."""
    pid = supervisor()
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if not supervisor_alive(pid):  # gone before prctl took effect, or before this process looked
            os._exit(1)
        return

    def watch() -> None:
        while supervisor_alive(pid):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="blocksnap-supervisor-watch", daemon=True).start()


def port_number(value: str) -> int:
    """argparse type: a TCP port, 0 for any free one."""
    if not (value.isascii() and value.isdigit()) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0 to 65535)")
    return int(value)
