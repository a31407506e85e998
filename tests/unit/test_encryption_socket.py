"""The worker's socket serves its own user only: mode 0600, and the peer's uid checked on each connection.

Another local user is tried for real: a forked child that has switched to
``nobody`` (the test runs as root, or is skipped), first against the socket
as the worker made it, then against one widened to 0666, which the peer-uid
check must still refuse.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import tempfile
import time
from pathlib import Path

import pytest

from chalicelib.adapters.encryption_wire import recv_frame, send_frame
from chalicelib.adapters.worker_encryption import WorkerEncryptionFunction
from chalicelib.encryption.socket_server import bind

from .test_worker_encryption import ARN, LINEAGE, Worker, worker  # noqa: F401 (a fixture)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
linux_only = pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="SO_PEERCRED is Linux's")


def test_the_socket_is_0600(worker):
    mode = worker.socket.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_the_socket_is_0600_whatever_the_umask(tmp_path):
    """Created under the server's own umask, not chmod-ed afterwards: never briefly wider."""
    previous = os.umask(0)
    try:
        server = bind(tmp_path / "e.sock", function=None)
        assert os.umask(0) == 0  # the process's umask is given back
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE((tmp_path / "e.sock").stat().st_mode) == 0o600
    finally:
        server.server_close()


@pytest.fixture
def reachable():
    """A directory every user may enter, for a socket that only its mode and the uid check guard."""
    directory = Path(tempfile.mkdtemp(prefix="blocksnap-socket-"))
    directory.chmod(0o755)
    yield directory
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()


@pytest.fixture
def exposed_worker(tmp_path, reachable):
    worker = Worker(tmp_path / "data", socket=reachable / "encryption.sock").start()
    try:
        yield worker
    finally:
        worker.stop()


def ask_as_nobody(socket_path: Path) -> str:
    """What a process of uid ``nobody`` gets when it asks the worker to create a lineage key."""
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only system calls from here on, then _exit
        outcome = "child failed"
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            try:
                sock.connect(str(socket_path))
            except PermissionError:
                outcome = "connect: permission denied"
            else:
                try:
                    send_frame(sock, {"op": "create_lineage_key", "lineage_id": LINEAGE, "kms_key_arn": ARN})
                    outcome = "answered" if recv_frame(sock) is not None else "closed"
                except OSError:  # reset, or closed mid-frame
                    outcome = "closed"
        finally:
            os.write(write_end, outcome.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


def wait_for_line(worker: Worker, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(worker.output):
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the worker's output:\n" + "".join(worker.output))


@as_root
def test_another_user_cannot_connect(exposed_worker):
    assert ask_as_nobody(exposed_worker.socket) == "connect: permission denied"
    assert not (exposed_worker.data_dir / "store" / "keys" / LINEAGE).exists()


@as_root
@linux_only
def test_another_users_connection_is_refused_even_through_a_wider_mode(exposed_worker):
    exposed_worker.socket.chmod(0o666)
    assert ask_as_nobody(exposed_worker.socket) == "closed"
    line = wait_for_line(exposed_worker, "refused an encryption connection")
    assert f"from uid {pwd.getpwnam('nobody').pw_uid} " in line
    assert not (exposed_worker.data_dir / "store" / "keys" / LINEAGE).exists()
    # The server's own user is still served.
    WorkerEncryptionFunction(exposed_worker.socket, timeout=10).create_lineage_key(LINEAGE, ARN)
    assert (exposed_worker.data_dir / "store" / "keys" / LINEAGE).exists()
