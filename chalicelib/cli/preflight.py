"""What the commands check before they start, so that a mistake is one line and not a traceback.

Two servers on one port, or ``rebuild`` under a live server, fail quietly
otherwise: granian binds with SO_REUSEPORT, so a second ``serve`` shares the
port and the kernel splits clients between two data dirs; and a rebuild that
clears the read models while a server's projector follows the same event log
can end with no manifests at all. Both are refused here instead.
"""

from __future__ import annotations

import argparse
import fcntl
import ipaddress
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO

from ..processes import CliError

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


def listen_address(host: str, port: int) -> tuple[str, int]:
    """The IP address to bind for ``host`` and the port, checked free now (a free one for port 0).

    The probe binds without SO_REUSEPORT, so it fails against any listener
    on the port, granian's own included. Host names are resolved here
    because granian takes IP literals only.
    """
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise CliError(f"cannot resolve --host {host}: {exc.strerror}") from exc
        ip = infos[0][4][0]
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {url(host, port)}: {exc.strerror or exc}") from exc
        return ip, probe.getsockname()[1]


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def port_number(value: str) -> int:
    """argparse type: a TCP port, 0 for any free one."""
    if not (value.isascii() and value.isdigit()) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0 to 65535)")
    return int(value)


def positive_integer(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)
